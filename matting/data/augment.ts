/**
 * Training-time augmentation (the Deep Image Matting / Composition-1k recipe): a square crop of
 * size, 1.5*size or 2*size source pixels centred on a random unknown (0 < alpha < 1) pixel, resized
 * bilinearly to size x size, a random horizontal flip, a background placed under the foreground, a
 * trimap from the resized alpha with a random kernel, and the composite I = alpha*F + (1-alpha)*B.
 * All randomness comes from the Rng passed in, in a fixed order, so one seed gives one sample.
 */
import type { Image } from './image.ts';
import type { Rng } from './rng.ts';
import { trimapFromAlpha } from './trimap.ts';

/** One training example, planar (CHW) like the network's input. */
export interface Sample {
  size: number;
  /** 3*S*S CHW, 0..255: exactly composite(alpha, fg, bg). */
  image: Float32Array;
  /** S*S, 0/128/255. */
  trimap: Float32Array;
  /** S*S, 0..1. */
  alpha: Float32Array;
  /** 3*S*S CHW, 0..255. */
  fg: Float32Array;
  /** 3*S*S CHW, 0..255. */
  bg: Float32Array;
}

/** n Samples concatenated: NCHW (image/fg/bg n*3*S*S, trimap/alpha n*1*S*S). */
export interface Batch {
  n: number;
  size: number;
  image: Float32Array;
  trimap: Float32Array;
  alpha: Float32Array;
  fg: Float32Array;
  bg: Float32Array;
}

export interface AugmentOptions {
  /** Model input size S (output is S x S). */
  size: number;
  /** Crop sides as multiples of S, one picked uniformly; default [1, 1.5, 2] (320/480/640 at S=320). */
  cropScales?: readonly number[];
  /** Random horizontal flip with probability 1/2; default true. */
  flip?: boolean;
  /**
   * Trimap kernel size range [kMin, kMax] in output pixels, an integer drawn uniformly; default
   * [5, 25] scaled by S/320 (at least 1). See trimapFromAlpha for the band width it gives.
   */
  trimapKernel?: readonly [number, number];
}

export interface ResolvedAugmentOptions {
  size: number;
  cropScales: readonly number[];
  flip: boolean;
  trimapKernel: readonly [number, number];
}

export function defaultTrimapKernel(size: number): [number, number] {
  return [Math.max(1, Math.round((5 * size) / 320)), Math.max(1, Math.round((25 * size) / 320))];
}

export function resolveAugmentOptions(o: AugmentOptions): ResolvedAugmentOptions {
  const size = o.size;
  if (!(Number.isInteger(size) && size >= 1)) throw new Error(`augment: size ${size} must be a positive integer`);
  const cropScales = o.cropScales ?? [1, 1.5, 2];
  if (cropScales.length === 0 || cropScales.some((s) => !(s > 0))) throw new Error('augment: cropScales must be positive numbers');
  const trimapKernel = o.trimapKernel ?? defaultTrimapKernel(size);
  const [kMin, kMax] = trimapKernel;
  if (!(Number.isInteger(kMin) && Number.isInteger(kMax) && kMin >= 1 && kMax >= kMin)) {
    throw new Error(`augment: trimapKernel [${kMin}, ${kMax}] must be integers with 1 <= kMin <= kMax`);
  }
  return { size, cropScales, flip: o.flip ?? true, trimapKernel };
}

/**
 * I = alpha*F + (1-alpha)*B per pixel and channel, in float (no rounding to 8 bits). alpha has P
 * values, fg/bg 3*P (CHW). The network's compositional loss recomputes this with its predicted
 * alpha, so the input image must be exactly this.
 */
export function composite(alpha: Float32Array, fg: Float32Array, bg: Float32Array, out?: Float32Array): Float32Array {
  const P = alpha.length;
  if (fg.length !== 3 * P || bg.length !== 3 * P) {
    throw new Error(`composite: alpha has ${P} values, fg ${fg.length}, bg ${bg.length} (expected 3x)`);
  }
  const res = out ?? new Float32Array(3 * P);
  for (let c = 0; c < 3; c++) {
    const o = c * P;
    for (let p = 0; p < P; p++) {
      const a = alpha[p]!;
      res[o + p] = a * fg[o + p]! + (1 - a) * bg[o + p]!;
    }
  }
  return res;
}

/** Where a sample's pixels come from; exported so tests and debugging can see the choices. */
export interface CropPlan {
  /** Top-left corner and side of the square crop in foreground pixels. */
  x0: number;
  y0: number;
  crop: number;
  /** The unknown pixel the crop was centred on, or null when the alpha has none. */
  centre: { x: number; y: number } | null;
  flip: boolean;
  /** Background scale (>= 1: enlarged until it covers the foreground) and offset in scaled pixels. */
  bgScale: number;
  bgOffsetX: number;
  bgOffsetY: number;
  kernel: number;
}

/**
 * Draws the random choices of one sample. The crop side is round(scale*S); when the foreground is
 * smaller than that the crop shrinks to the largest square that fits (min(W, H)) and is resized up,
 * never padded: padding would invent foreground pixels with no true colour.
 */
export function planCrop(rng: Rng, width: number, height: number, alpha: Float32Array, bgWidth: number, bgHeight: number, o: ResolvedAugmentOptions): CropPlan {
  const scale = rng.pick(o.cropScales);
  const crop = Math.max(1, Math.min(Math.round(scale * o.size), width, height));
  let unknown = 0;
  for (let i = 0; i < alpha.length; i++) {
    const a = alpha[i]!;
    if (a > 0 && a < 1) unknown++;
  }
  let cx: number;
  let cy: number;
  let centre: CropPlan['centre'] = null;
  const pickU = rng.float();
  const pickX = rng.float();
  const pickY = rng.float();
  if (unknown > 0) {
    let target = Math.min(unknown - 1, Math.floor(pickU * unknown));
    let idx = -1;
    for (let i = 0; i < alpha.length; i++) {
      const a = alpha[i]!;
      if (a > 0 && a < 1 && target-- === 0) { idx = i; break; }
    }
    cx = idx % width;
    cy = Math.floor(idx / width);
    centre = { x: cx, y: cy };
  } else {
    cx = Math.floor(pickX * width);
    cy = Math.floor(pickY * height);
  }
  const half = Math.floor(crop / 2);
  const x0 = Math.min(Math.max(cx - half, 0), width - crop);
  const y0 = Math.min(Math.max(cy - half, 0), height - crop);
  const flip = o.flip ? rng.bool() : (rng.float(), false);
  const bgScale = Math.max(1, width / bgWidth, height / bgHeight);
  const bgOffsetX = rng.float() * Math.max(0, bgWidth * bgScale - width);
  const bgOffsetY = rng.float() * Math.max(0, bgHeight * bgScale - height);
  const kernel = rng.int(o.trimapKernel[0], o.trimapKernel[1]);
  return { x0, y0, crop, centre, flip, bgScale, bgOffsetX, bgOffsetY, kernel };
}

/** Bilinear taps along one axis: for output i, source indices i0/i1 and weight t of i1. */
function taps(n: number, srcLen: number, map: (i: number) => number): { i0: Int32Array; i1: Int32Array; t: Float64Array } {
  const i0 = new Int32Array(n);
  const i1 = new Int32Array(n);
  const t = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = map(i);
    if (s < 0) s = 0;
    if (s > srcLen - 1) s = srcLen - 1;
    const f = Math.floor(s);
    i0[i] = f;
    i1[i] = f + 1 < srcLen ? f + 1 : f;
    t[i] = s - f;
  }
  return { i0, i1, t };
}

/**
 * Bilinear resampling of an HWC image into CHW planes (channels 0..2) of S x S, with a + t*(b - a)
 * interpolation so constant regions stay exactly constant (alpha 1 stays 1, not 0.99999994).
 */
function resampleRgb(src: Image, xs: ReturnType<typeof taps>, ys: ReturnType<typeof taps>, S: number, out: Float32Array): void {
  const W = src.width;
  const C = src.channels;
  const d = src.data;
  const P = S * S;
  for (let Y = 0; Y < S; Y++) {
    const r0 = ys.i0[Y]! * W;
    const r1 = ys.i1[Y]! * W;
    const ty = ys.t[Y]!;
    for (let X = 0; X < S; X++) {
      const c0 = xs.i0[X]!;
      const c1 = xs.i1[X]!;
      const tx = xs.t[X]!;
      const p00 = (r0 + c0) * C;
      const p01 = (r0 + c1) * C;
      const p10 = (r1 + c0) * C;
      const p11 = (r1 + c1) * C;
      const o = Y * S + X;
      for (let c = 0; c < 3; c++) {
        const a = d[p00 + c]!;
        const b = d[p01 + c]!;
        const top = a + tx * (b - a);
        const e = d[p10 + c]!;
        const f = d[p11 + c]!;
        const bot = e + tx * (f - e);
        out[c * P + o] = top + ty * (bot - top);
      }
    }
  }
}

function resampleGrey(src: Float32Array, W: number, xs: ReturnType<typeof taps>, ys: ReturnType<typeof taps>, S: number, out: Float32Array): void {
  for (let Y = 0; Y < S; Y++) {
    const r0 = ys.i0[Y]! * W;
    const r1 = ys.i1[Y]! * W;
    const ty = ys.t[Y]!;
    for (let X = 0; X < S; X++) {
      const c0 = xs.i0[X]!;
      const c1 = xs.i1[X]!;
      const tx = xs.t[X]!;
      const a = src[r0 + c0]!;
      const top = a + tx * (src[r0 + c1]! - a);
      const e = src[r1 + c0]!;
      const bot = e + tx * (src[r1 + c1]! - e);
      out[Y * S + X] = top + ty * (bot - top);
    }
  }
}

/**
 * One augmented sample from a foreground (RGB HWC 0..255), its alpha (H*W 0..1) and a background
 * (RGB HWC, any size). The background is enlarged if needed to cover the foreground (DIM's recipe),
 * placed at a random offset, and sampled through the same crop in one bilinear step.
 */
export function augmentSample(rng: Rng, fg: Image, alpha: Float32Array, bg: Image, options: AugmentOptions | ResolvedAugmentOptions): Sample {
  const o = resolveAugmentOptions(options);
  const W = fg.width;
  const H = fg.height;
  if (fg.channels < 3 || bg.channels < 3) throw new Error('augmentSample: fg and bg must have 3 (or 4) channels');
  if (alpha.length !== W * H) throw new Error(`augmentSample: alpha has ${alpha.length} values for a ${W}x${H} foreground`);
  const plan = planCrop(rng, W, H, alpha, bg.width, bg.height, o);
  const S = o.size;
  const s = plan.crop / S;
  const fgX = (X: number): number => plan.x0 + ((plan.flip ? S - 1 - X : X) + 0.5) * s;
  const fgY = (Y: number): number => plan.y0 + (Y + 0.5) * s;
  // Continuous coordinates (pixel i spans [i, i+1]); "- 0.5" turns them into pixel-centre indices.
  const xs = taps(S, W, (X) => fgX(X) - 0.5);
  const ys = taps(S, H, (Y) => fgY(Y) - 0.5);
  const bxs = taps(S, bg.width, (X) => (fgX(X) + plan.bgOffsetX) / plan.bgScale - 0.5);
  const bys = taps(S, bg.height, (Y) => (fgY(Y) + plan.bgOffsetY) / plan.bgScale - 0.5);
  const P = S * S;
  const fgOut = new Float32Array(3 * P);
  const bgOut = new Float32Array(3 * P);
  const alphaOut = new Float32Array(P);
  resampleRgb(fg, xs, ys, S, fgOut);
  resampleRgb(bg, bxs, bys, S, bgOut);
  resampleGrey(alpha, W, xs, ys, S, alphaOut);
  const trimap = trimapFromAlpha(alphaOut, S, S, plan.kernel);
  const image = composite(alphaOut, fgOut, bgOut);
  return { size: S, image, trimap, alpha: alphaOut, fg: fgOut, bg: bgOut };
}

/** Concatenates samples of one size into a Batch (NCHW). */
export function stackSamples(samples: readonly Sample[]): Batch {
  const n = samples.length;
  if (n === 0) throw new Error('stackSamples: no samples');
  const size = samples[0]!.size;
  const P = size * size;
  const b: Batch = {
    n,
    size,
    image: new Float32Array(n * 3 * P),
    trimap: new Float32Array(n * P),
    alpha: new Float32Array(n * P),
    fg: new Float32Array(n * 3 * P),
    bg: new Float32Array(n * 3 * P),
  };
  samples.forEach((s, i) => {
    if (s.size !== size) throw new Error(`stackSamples: sample ${i} has size ${s.size}, expected ${size}`);
    b.image.set(s.image, i * 3 * P);
    b.fg.set(s.fg, i * 3 * P);
    b.bg.set(s.bg, i * 3 * P);
    b.trimap.set(s.trimap, i * P);
    b.alpha.set(s.alpha, i * P);
  });
  return b;
}
