/**
 * The matting Laplacian of Levin, Lischinski and Weiss (PAMI 2008) over 3x3 windows, applied
 * matrix-free on the GPU. For a window k with colour mean mu_k and covariance S_k,
 *
 *   L_k[i, j] = delta_ij - (1 + (I_i - mu_k)^T (S_k + eps/9 Id)^-1 (I_j - mu_k)) / 9,
 *
 * and L = sum of the active windows' L_k. Writing (S_k + eps/9 Id)^-1 = R_k^T R_k (R_k the inverse
 * of the Cholesky factor, lower triangular) and e_{k,i} = R_k (I_i - mu_k):
 *
 *   (L_k x)_i = x_i - mean_k(x) - e_{k,i} . g_k,   g_k = (1/9) sum_j e_{k,j} x_j.
 *
 * So y = L x is two passes: `laplacianWindow` computes each window's share of (L x) for its 9
 * pixels, and `laplacianApplyDot` sums, per pixel, the shares of the (up to 9) windows containing it.
 *
 * The e_{k,t} (27 floats per window) are computed once on the CPU in float64: S_k + eps/9 must be
 * formed from centred colours and factored without the f32 rounding that would swamp
 * eps/9 = 1.1e-8. e is O(1) even where S_k is singular (R_k ~ 1e4 at eps = 1e-7, the inverse itself
 * ~ 1e8), so the f32 passes lose ~1e-6 relative instead of the ~1e-1 of (I - mu)^T A_k (I - mu).
 * Windows whose 9 pixels are all known are left out (as Levin's code and the issue specify); a
 * pixel in no active window is not an unknown of the system.
 */
import { engine } from '../../engine/engine.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { tensor } from '../../engine/creation.ts';
import { flatIndex, grid1d, type KernelDef } from '../../engine/kernels/kernel.ts';

export const LAP_WG = 64;
/** The winIndex value of a pixel that is not the centre of an active window. */
export const NO_WINDOW = 0xffffffff;
/**
 * Floats per window: the whitened colours e_t = R (I_t - mu) of its 9 pixels, 3 each, stored as 27
 * planes of nWin (component q of window k at q nWin + k) so that neighbouring invocations read
 * neighbouring addresses.
 */
export const GEOM = 27;

export interface LaplacianSetup {
  W: number;
  H: number;
  /** Active windows. */
  nWin: number;
  /** Centre pixel index of each active window. */
  winCenter: Uint32Array;
  /** Per pixel: its active window's index when it is one's centre, else NO_WINDOW. */
  winIndex: Uint32Array;
  /** GEOM planes of nWin: e_t for t = 0..8 (pixel c + (t%3 - 1) + (t/3 - 1) W), computed in float64. */
  winGeom: Float32Array;
  /** Pixels in at least one active window (the unknowns of the system), ascending. */
  pixels: Uint32Array;
  /** diag(L) per pixel (float64 sums, stored f32); 0 outside `pixels`. */
  diagL: Float32Array;
  /** Active windows containing each pixel. */
  count: Uint8Array;
}

/**
 * Window geometry and the diagonal of L. `image` planar [3, H, W] in [0, 1]; `known[i]` true for
 * pixels of the trimap's definite regions.
 */
export function setupLaplacian(image: ArrayLike<number>, known: Uint8Array, W: number, H: number, eps = 1e-7): LaplacianSetup {
  const N = W * H;
  const winIndex = new Uint32Array(N).fill(NO_WINDOW);
  const centers: number[] = [];
  for (let y = 1; y < H - 1; y++) {
    for (let x = 1; x < W - 1; x++) {
      let allKnown = true;
      for (let dy = -1; dy <= 1 && allKnown; dy++) for (let dx = -1; dx <= 1; dx++) if (!known[(y + dy) * W + x + dx]) { allKnown = false; break; }
      if (!allKnown) {
        winIndex[y * W + x] = centers.length;
        centers.push(y * W + x);
      }
    }
  }
  const nWin = centers.length;
  const winGeom = new Float32Array(nWin * GEOM);
  const diag = new Float64Array(N);
  const count = new Uint8Array(N);
  const e2 = eps / 9;
  const d = new Float64Array(27);
  for (let k = 0; k < nWin; k++) {
    const c = centers[k]!;
    let m0 = 0, m1 = 0, m2 = 0;
    for (let t = 0; t < 9; t++) {
      const j = c + (((t / 3) | 0) - 1) * W + (t % 3) - 1;
      m0 += image[j]!;
      m1 += image[N + j]!;
      m2 += image[2 * N + j]!;
    }
    m0 /= 9; m1 /= 9; m2 /= 9;
    let s00 = 0, s01 = 0, s02 = 0, s11 = 0, s12 = 0, s22 = 0;
    for (let t = 0; t < 9; t++) {
      const j = c + (((t / 3) | 0) - 1) * W + (t % 3) - 1;
      const a = image[j]! - m0, b = image[N + j]! - m1, g = image[2 * N + j]! - m2;
      d[3 * t] = a; d[3 * t + 1] = b; d[3 * t + 2] = g;
      s00 += a * a; s01 += a * b; s02 += a * g; s11 += b * b; s12 += b * g; s22 += g * g;
    }
    // M = S + eps/9 Id = C C^T (Cholesky), R = C^-1, so M^-1 = R^T R.
    const M00 = s00 / 9 + e2, M10 = s01 / 9, M20 = s02 / 9, M11 = s11 / 9 + e2, M21 = s12 / 9, M22 = s22 / 9 + e2;
    const c00 = Math.sqrt(M00);
    const c10 = M10 / c00, c20 = M20 / c00;
    const c11 = Math.sqrt(M11 - c10 * c10);
    const c21 = (M21 - c20 * c10) / c11;
    const c22 = Math.sqrt(M22 - c20 * c20 - c21 * c21);
    const r00 = 1 / c00, r11 = 1 / c11, r22 = 1 / c22;
    const r10 = -c10 * r00 / c11;
    const r21 = -c21 * r11 / c22;
    const r20 = -(c20 * r00 + c21 * r10) / c22;
    for (let t = 0; t < 9; t++) {
      const j = c + (((t / 3) | 0) - 1) * W + (t % 3) - 1;
      const a = d[3 * t]!, b = d[3 * t + 1]!, g = d[3 * t + 2]!;
      const f0 = r00 * a, f1 = r10 * a + r11 * b, f2 = r20 * a + r21 * b + r22 * g;
      winGeom[(3 * t) * nWin + k] = f0;
      winGeom[(3 * t + 1) * nWin + k] = f1;
      winGeom[(3 * t + 2) * nWin + k] = f2;
      diag[j]! += 1 - (1 + f0 * f0 + f1 * f1 + f2 * f2) / 9;
      count[j]!++;
    }
  }
  const pixels: number[] = [];
  for (let i = 0; i < N; i++) if (count[i]! > 0) pixels.push(i);
  return {
    W, H, nWin,
    winCenter: Uint32Array.from(centers),
    winIndex,
    winGeom,
    pixels: Uint32Array.from(pixels),
    diagL: Float32Array.from(diag),
    count,
  };
}

/**
 * Length of one slot plane: slot t of the window centred at c (the pixel c + (t%3 - 1) +
 * (t/3 - 1) W) lives at t P + c + W + 1; the padding keeps border pixels' neighbours in the buffer.
 */
export function slotPlane(W: number, H: number): number {
  return W * H + 2 * W + 2;
}

const slotLoads = Array.from({ length: 9 }, (_, t) => ({ t, dx: (t % 3) - 1, dy: Math.floor(t / 3) - 1 }));

/**
 * Pass 1, one invocation per active window k centred at c: with e_t = R_k (I_t - mu_k) for its 9
 * pixels, g = mean_t(e_t x_t) and xbar = mean_t(x_t), writes each pixel's share of (L x),
 * x_t - xbar - e_t . g, to slot plane t at c (+ W + 1 padding, so that neighbours of border pixels
 * index inside the buffer). Planes of inactive centres stay zero. Unrolled: llvmpipe keeps the 9
 * values in registers instead of spilling a dynamically indexed array.
 */
export const laplacianWindow: KernelDef = {
  name: 'laplacianWindow',
  uniforms: [['nWin', 'u32'], ['W', 'u32'], ['P', 'u32']],
  storage: [
    ['x', 'read', 'array<f32>'],
    ['winCenter', 'read', 'array<u32>'],
    ['geom', 'read', 'array<f32>'],
    ['contrib', 'write', 'array<f32>'],
  ],
  body: `
@compute @workgroup_size(${LAP_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = ${flatIndex(LAP_WG)};
  if (k >= u.nWin) { return; }
  let c = winCenter[k];
  let n = u.nWin;
  let top = c - u.W - 1u;
${slotLoads.map(({ t, dx, dy }) => `  let x${t} = x[top + ${dy + 1}u * u.W + ${dx + 1}u];
  let e${t} = vec3<f32>(geom[${3 * t}u * n + k], geom[${3 * t + 1}u * n + k], geom[${3 * t + 2}u * n + k]);`).join('\n')}
  let xbar = (${slotLoads.map(({ t }) => `x${t}`).join(' + ')}) / 9.0;
  let g = (${slotLoads.map(({ t }) => `e${t} * x${t}`).join(' + ')}) / 9.0;
  let at = c + u.W + 1u;
${slotLoads.map(({ t }) => `  contrib[${t}u * u.P + at] = x${t} - xbar - dot(e${t}, g);`).join('\n')}
}`,
};

/**
 * Pass 2: y = (L + diag(shift)) x, invocation p taking unknowns p, p + nPart, ... (neighbouring
 * invocations on neighbouring pixels), summing
 * the 9 slot planes at the centres of the windows that contain each pixel, and one partial sum of
 * x . y per invocation (serial, no barrier: llvmpipe turns every barrier into a costly switch).
 */
export const laplacianApplyDot: KernelDef = {
  name: 'laplacianApplyDot',
  uniforms: [['m', 'u32'], ['nPart', 'u32'], ['W', 'u32'], ['P', 'u32']],
  storage: [
    ['pixels', 'read', 'array<u32>'],
    ['contrib', 'read', 'array<f32>'],
    ['shift', 'read', 'array<f32>'],
    ['x', 'read', 'array<f32>'],
    ['y', 'write', 'array<f32>'],
    ['partial', 'write', 'array<f32>'],
  ],
  body: `
@compute @workgroup_size(${LAP_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let p = ${flatIndex(LAP_WG)};
  if (p >= u.nPart) { return; }
  let W = u.W;
  var acc = 0.0;
  for (var q = p; q < u.m; q += u.nPart) {
    let i = pixels[q];
    // slot t of the window centred at i - (t%3 - 1) - (t/3 - 1) W, stored at centre + W + 1
    let a = i + 2u * W + 2u;
    let xi = x[i];
    let yi = shift[i] * xi
${slotLoads.map(({ t, dx, dy }) => `      + contrib[${t}u * u.P + a - ${dy + 1}u * W - ${dx + 1}u]`).join('\n')};
    y[i] = yi;
    acc += xi * yi;
  }
  partial[p] = acc;
}`,
};

/**
 * (L + diag(shift)) on the GPU for one image: owns the uploaded window data and the slot planes.
 * `shift` H*W (lambda on known pixels for closed-form matting).
 */
export class LaplacianOperator {
  readonly m: number;
  readonly nPart: number;
  readonly pixels: Tensor;
  private readonly P: number;
  private readonly bufs: Tensor[];
  private readonly winCenter: Tensor;
  private readonly geom: Tensor;
  private readonly shift: Tensor;
  private readonly contrib: Tensor;

  constructor(readonly setup: LaplacianSetup, shift: Float32Array, readonly per: number) {
    const e = engine();
    const { W, H } = setup;
    this.P = slotPlane(W, H);
    const limit = e.limits.maxStorageBufferBindingSize;
    if (9 * this.P * 4 > limit) throw new Error(`matting Laplacian: ${W}x${H} needs bindings larger than this adapter's ${limit} bytes (9 planes of f32)`);
    this.m = setup.pixels.length;
    this.nPart = Math.ceil(this.m / per);
    this.winCenter = upload(setup.winCenter);
    this.geom = upload(setup.winGeom);
    this.pixels = upload(setup.pixels);
    this.shift = upload(shift);
    this.contrib = upload(new Float32Array(9 * this.P)); // inactive windows' shares stay zero
    this.bufs = [this.winCenter, this.geom, this.pixels, this.shift, this.contrib];
  }

  /** q = (L + diag(shift)) p over the unknowns, and nPart partial sums of p.q (see PcgOperator). */
  apply(p: GPUBuffer, q: GPUBuffer, partial: GPUBuffer): void {
    const e = engine();
    const { W, H, nWin } = this.setup;
    const P = this.P;
    if (nWin > 0) e.dispatch(laplacianWindow, { nWin, W, P }, [p, this.winCenter.buffer, this.geom.buffer, this.contrib.buffer], grid1d(nWin, LAP_WG));
    e.dispatch(
      laplacianApplyDot,
      { m: this.m, nPart: this.nPart, W, P },
      [this.pixels.buffer, this.contrib.buffer, this.shift.buffer, p, q, partial],
      grid1d(this.nPart, LAP_WG),
    );
  }

  dispose(): void {
    for (const b of this.bufs) b.dispose();
  }
}

/** A GPU copy of CPU data (u32 data travels as the bits of an i32 tensor). */
function upload(data: Float32Array | Uint32Array): Tensor {
  return tensor(data instanceof Uint32Array ? new Int32Array(data.buffer, data.byteOffset, data.length) : data, [data.length]);
}
