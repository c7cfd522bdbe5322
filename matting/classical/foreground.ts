/**
 * Foreground (and background) colours from an image and its alpha matte, on the GPU: Germer,
 * Uelwer, Conrad, Harmeling, "Fast Multi-Level Foreground Estimation" (ICPR 2020), the method of
 * pymatting's `estimate_foreground_ml`.
 *
 * Per pixel i it minimises  sum_c (a_i F_i + (1 - a_i) B_i - I_i)^2
 *   + sum_{j in N4(i)} (eps + w |a_i - a_j|) (|F_i - F_j|^2 + |B_i - B_j|^2)
 * by block Gauss-Seidel: each pixel's (F, B) is the 2x2 solve with its 4 neighbours fixed, clipped
 * to [0, 1]. Coarse to fine: level l of L = ceil(log2(max(W, H))) has size round(W^(l/L)) x
 * round(H^(l/L)), image and alpha sampled from full resolution by nearest neighbour, and starts
 * from the previous level's F and B upsampled by nearest neighbour (level 0 from the mean colour).
 *
 * GPU ordering: red-black instead of pymatting's row-major sweep, so every update of one colour is
 * independent (the 4-neighbours of a red pixel are black; a neighbour clamped at the border is the
 * pixel itself, which only it reads and writes). Images, F and B are planar [3, h, w] in [0, 1].
 * Each of image, F and B is one binding, so an image may have at most maxStorageBufferBindingSize /
 * 12 pixels (11.1 M on Mesa's 128 MiB).
 */
import { engine } from '../../engine/engine.ts';
import { Tensor } from '../../engine/tensor.ts';
import { tensor } from '../../engine/creation.ts';
import { flatIndex, grid1d, type KernelDef } from '../../engine/kernels/kernel.ts';

const WG = 64;
const MEAN_WG = 256;

export interface ForegroundOptions {
  /** eps: smoothness everywhere (pymatting's default 1e-5). */
  regularization?: number;
  /** w: extra smoothness across alpha edges (default 1). */
  gradientWeight?: number;
  /** Sweeps on levels whose smaller side is at most `smallSize` (default 10). */
  smallIterations?: number;
  /** Sweeps on larger levels (default 2). */
  bigIterations?: number;
  /** Default 32. */
  smallSize?: number;
}

/** Mean colour of the image into F and B of the 1x1 level 0 (one workgroup, fixed order). */
const fgMeanInit: KernelDef = {
  name: 'foregroundMeanInit',
  uniforms: [['n', 'u32']],
  storage: [
    ['img', 'read', 'array<f32>'],
    ['F', 'write', 'array<f32>'],
    ['B', 'write', 'array<f32>'],
  ],
  body: `
var<workgroup> part: array<vec3<f32>, ${MEAN_WG}>;
@compute @workgroup_size(${MEAN_WG})
fn main(@builtin(local_invocation_index) li: u32) {
  var acc = vec3<f32>(0.0);
  for (var i = li; i < u.n; i += ${MEAN_WG}u) {
    acc += vec3<f32>(img[i], img[u.n + i], img[2u * u.n + i]);
  }
  part[li] = acc;
  workgroupBarrier();
  for (var s = ${MEAN_WG / 2}u; s > 0u; s >>= 1u) {
    if (li < s) { part[li] += part[li + s]; }
    workgroupBarrier();
  }
  if (li == 0u) {
    let m = part[0] / f32(u.n);
    for (var c = 0u; c < 3u; c++) { F[c] = m[c]; B[c] = m[c]; }
  }
}`,
};

/** Nearest-neighbour upsampling of F and B from the previous level (pw x ph) to this one (w x h). */
const fgUpsample: KernelDef = {
  name: 'foregroundUpsample',
  uniforms: [['w', 'u32'], ['h', 'u32'], ['pw', 'u32'], ['ph', 'u32']],
  storage: [
    ['Fp', 'read', 'array<f32>'],
    ['Bp', 'read', 'array<f32>'],
    ['F', 'write', 'array<f32>'],
    ['B', 'write', 'array<f32>'],
  ],
  body: `
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let p = ${flatIndex(WG)};
  let n = u.w * u.h;
  if (p >= n) { return; }
  let x = p % u.w;
  let y = p / u.w;
  let q = min(y * u.ph / u.h, u.ph - 1u) * u.pw + min(x * u.pw / u.w, u.pw - 1u);
  let pn = u.pw * u.ph;
  for (var c = 0u; c < 3u; c++) {
    F[c * n + p] = Fp[c * pn + q];
    B[c * n + p] = Bp[c * pn + q];
  }
}`,
};

/** One colour (parity) of a red-black sweep at level w x h; image and alpha are full-size W x H. */
const fgSweep: KernelDef = {
  name: 'foregroundSweep',
  uniforms: [
    ['w', 'u32'], ['h', 'u32'], ['W', 'u32'], ['H', 'u32'], ['half', 'u32'], ['parity', 'u32'],
    ['eps', 'f32'], ['gw', 'f32'],
  ],
  storage: [
    ['img', 'read', 'array<f32>'],
    ['alpha', 'read', 'array<f32>'],
    ['F', 'write', 'array<f32>'],
    ['B', 'write', 'array<f32>'],
  ],
  body: `
fn src(x: u32, y: u32) -> u32 {
  return min(y * u.H / u.h, u.H - 1u) * u.W + min(x * u.W / u.w, u.W - 1u);
}
fn loadF(n: u32, i: u32) -> vec3<f32> { return vec3<f32>(F[i], F[n + i], F[2u * n + i]); }
fn loadB(n: u32, i: u32) -> vec3<f32> { return vec3<f32>(B[i], B[n + i], B[2u * n + i]); }
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = ${flatIndex(WG)};
  if (t >= u.half * u.h) { return; }
  let y = t / u.half;
  let x = 2u * (t % u.half) + ((y + u.parity) & 1u);
  if (x >= u.w) { return; }
  let N = u.W * u.H;
  let n = u.w * u.h;
  let s = src(x, y);
  let a0 = alpha[s];
  let a1 = 1.0 - a0;
  let I = vec3<f32>(img[s], img[N + s], img[2u * N + s]);
  // With S = sum of the 4 weights, det = a00 a11 - a01^2 = S (a0^2 + a1^2 + S) exactly; dividing
  // through by S before subtracting avoids f32 cancellation when S is tiny (flat alpha, eps 1e-5).
  var S = 0.0;
  var sf = vec3<f32>(0.0);
  var sb = vec3<f32>(0.0);
  let xs = array<u32, 4>(select(x - 1u, 0u, x == 0u), min(x + 1u, u.w - 1u), x, x);
  let ys = array<u32, 4>(y, y, select(y - 1u, 0u, y == 0u), min(y + 1u, u.h - 1u));
  for (var d = 0u; d < 4u; d++) {
    let j = ys[d] * u.w + xs[d];
    let aij = u.eps + u.gw * abs(a0 - alpha[src(xs[d], ys[d])]);
    S += aij;
    sf += aij * loadF(n, j);
    sb += aij * loadB(n, j);
  }
  let mf = sf / S;
  let mb = sb / S;
  let a01 = a0 * a1;
  let den = a0 * a0 + a1 * a1 + S;
  let f = clamp((a0 * I + (a1 * a1 + S) * mf - a01 * mb) / den, vec3<f32>(0.0), vec3<f32>(1.0));
  let b = clamp((a1 * I + (a0 * a0 + S) * mb - a01 * mf) / den, vec3<f32>(0.0), vec3<f32>(1.0));
  let i = y * u.w + x;
  for (var c = 0u; c < 3u; c++) { F[c * n + i] = f[c]; B[c * n + i] = b[c]; }
}`,
};

/** The pyramid of level sizes, coarse to fine; the last is (W, H). */
export function foregroundLevels(W: number, H: number): [number, number][] {
  const L = Math.ceil(Math.log2(Math.max(W, H)));
  if (L === 0) return [[W, H]];
  const out: [number, number][] = [];
  for (let l = 0; l <= L; l++) out.push([Math.round(W ** (l / L)), Math.round(H ** (l / L))]);
  return out;
}

function options(o: ForegroundOptions) {
  return {
    eps: o.regularization ?? 1e-5,
    gw: o.gradientWeight ?? 1,
    small: o.smallIterations ?? 10,
    big: o.bigIterations ?? 2,
    smallSize: o.smallSize ?? 32,
  };
}

function planeCheck(what: string, t: Tensor, shape: readonly number[]): void {
  const want = shape.reduce((a, b) => a * b, 1);
  if (t.size !== want) throw new Error(`estimateForeground: ${what} has shape [${t.shape}], expected ${want} values ([${shape}])`);
}

/**
 * The foreground and background colours, GPU in and out (no readback): `image` [1, 3, H, W] (or
 * [3, H, W]) and `alpha` [1, 1, H, W] (or [H, W]), both in [0, 1]. Returns F and B as [1, 3, H, W];
 * the caller disposes them.
 */
export function estimateForegroundBackgroundTensor(image: Tensor, alpha: Tensor, o: ForegroundOptions = {}): { foreground: Tensor; background: Tensor } {
  const H = image.shape[image.rank - 2]!;
  const W = image.shape[image.rank - 1]!;
  if (image.rank < 3 || image.size !== 3 * H * W) throw new Error(`estimateForeground: image must be [1, 3, H, W] or [3, H, W], got [${image.shape}]`);
  planeCheck('alpha', alpha, [H, W]);
  const e = engine();
  if (3 * H * W * 4 > e.limits.maxStorageBufferBindingSize) {
    throw new Error(`estimateForeground: ${W}x${H} exceeds one binding (${e.limits.maxStorageBufferBindingSize} bytes for 3 planes of f32)`);
  }
  const p = options(o);
  // Ping-pong between levels: the level being solved and the one it was upsampled from.
  let F = Tensor.empty([1, 3, H, W], 'f32', 'foreground');
  let B = Tensor.empty([1, 3, H, W], 'f32', 'background');
  let Fp = Tensor.empty([1, 3, H, W], 'f32', 'foreground (previous level)');
  let Bp = Tensor.empty([1, 3, H, W], 'f32', 'background (previous level)');
  const levels = foregroundLevels(W, H);
  levels.forEach(([w, h], l) => {
    if (l === 0) e.dispatch(fgMeanInit, { n: W * H }, [image.buffer, F.buffer, B.buffer], [1, 1, 1]);
    else {
      [F, Fp] = [Fp, F];
      [B, Bp] = [Bp, B];
      const [pw, ph] = levels[l - 1]!;
      e.dispatch(fgUpsample, { w, h, pw, ph }, [Fp.buffer, Bp.buffer, F.buffer, B.buffer], grid1d(w * h, WG));
    }
    const sweeps = Math.min(w, h) <= p.smallSize ? p.small : p.big;
    const half = Math.ceil(w / 2);
    for (let it = 0; it < sweeps; it++) {
      for (const parity of [0, 1]) {
        e.dispatch(fgSweep, { w, h, W, H, half, parity, eps: p.eps, gw: p.gw }, [image.buffer, alpha.buffer, F.buffer, B.buffer], grid1d(half * h, WG));
      }
    }
  });
  Fp.dispose();
  Bp.dispose();
  return { foreground: F, background: B };
}

/** The foreground colours only (see estimateForegroundBackgroundTensor). */
export function estimateForegroundTensor(image: Tensor, alpha: Tensor, o: ForegroundOptions = {}): Tensor {
  const { foreground, background } = estimateForegroundBackgroundTensor(image, alpha, o);
  background.dispose();
  return foreground;
}

/** An RGB image on the CPU, values in [0, 1]: interleaved HWC (as image files decode) or planar CHW. */
export interface RgbArray {
  width: number;
  height: number;
  data: Float32Array;
  /** Default 'hwc'. */
  layout?: 'hwc' | 'chw';
}

/**
 * The foreground colours of `image` given `alpha` (row-major H x W, in [0, 1]), from CPU arrays, in
 * the image's layout (HWC or CHW, 3 channels, [0, 1]). Needs `await initEngine()` first.
 */
export async function estimateForeground(image: RgbArray, alpha: Float32Array, o: ForegroundOptions = {}): Promise<Float32Array> {
  const { width: W, height: H } = image;
  const n = W * H;
  if (!Number.isInteger(W) || !Number.isInteger(H) || W < 1 || H < 1) throw new Error(`estimateForeground: bad size ${W}x${H}`);
  if (image.data.length !== 3 * n) throw new Error(`estimateForeground: image data has ${image.data.length} values, expected ${3 * n} (3 channels of ${W}x${H})`);
  if (alpha.length !== n) throw new Error(`estimateForeground: alpha has ${alpha.length} values, expected ${n} (${W}x${H})`);
  const hwc = (image.layout ?? 'hwc') === 'hwc';
  const planar = hwc ? new Float32Array(3 * n) : image.data;
  if (hwc) for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) planar[c * n + i] = image.data[i * 3 + c]!;
  const img = tensor(planar, [1, 3, H, W]);
  const a = tensor(alpha, [1, 1, H, W]);
  const F = estimateForegroundTensor(img, a, o);
  try {
    const out = await F.data();
    if (!hwc) return out;
    const inter = new Float32Array(3 * n);
    for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) inter[i * 3 + c] = out[c * n + i]!;
    return inter;
  } finally {
    img.dispose();
    a.dispose();
    F.dispose();
  }
}
