/**
 * Trimaps from a rough mask: what users have (a segmentation tool's output, a brush stroke, a soft
 * alpha) is not what Deep Image Matting takes (0 background / 128 unknown / 255 foreground). The
 * mask's edge becomes an unknown band of a chosen width, by Euclidean erosion and dilation:
 *
 * - the mask is split at `threshold` (default 0.5) into foreground and background;
 * - a foreground pixel within `inner` pixels of the background, and a background pixel within
 *   `outer` pixels of the foreground, are unknown (distances between pixel centres, exact
 *   Euclidean distance transform, so the band is as wide along a diagonal as along an axis);
 * - with `soft` (default on), pixels whose mask value is between `softRange` (default 5%-95%) are
 *   unknown too: a soft alpha's uncertain pixels stay uncertain whatever the band.
 *
 * On a straight edge the band is exactly inner + outer pixels wide; `band` B splits as
 * floor(B/2) inside and ceil(B/2) outside.
 */
import { TRIMAP_BG, TRIMAP_FG, TRIMAP_UNKNOWN } from './data/trimap.ts';

export interface TrimapFromMaskOptions {
  /** Total width of the unknown band in pixels (inner + outer), or a share of the image's shorter side with `bandFraction`. */
  band?: number;
  /** Band width as a fraction of min(width, height) (0.03 = 3%); used when `band` is absent. */
  bandFraction?: number;
  /** Pixels inside the mask's edge that become unknown (overrides the split of `band`). */
  inner?: number;
  /** Pixels outside the mask's edge that become unknown (overrides the split of `band`). */
  outer?: number;
  /** Mask value (0..1) at or above which a pixel is foreground. Default 0.5. */
  threshold?: number;
  /** Make mask values strictly inside softRange unknown. Default true. */
  soft?: boolean;
  softRange?: [number, number];
}

/** The documented default band: 3% of the image's shorter side, at least 2 px. */
export const DEFAULT_BAND_FRACTION = 0.03;
export const MIN_BAND = 2;

/** The band's width in pixels for an image of this size. */
export function bandPixels(width: number, height: number, o: TrimapFromMaskOptions = {}): number {
  if (o.band !== undefined) return o.band;
  const f = o.bandFraction ?? DEFAULT_BAND_FRACTION;
  return Math.max(MIN_BAND, Math.round(f * Math.min(width, height)));
}

/**
 * Squared Euclidean distance from every pixel to the nearest pixel with `target[i] = 1`
 * (Felzenszwalb & Huttenlocher's two-pass lower envelope of parabolas, exact, O(n)).
 * Infinity everywhere when there is no target pixel.
 */
export function squaredDistanceTransform(target: Uint8Array, width: number, height: number): Float64Array {
  const INF = 1e20;
  const d = new Float64Array(width * height);
  for (let i = 0; i < d.length; i++) d[i] = target[i] ? 0 : INF;
  const n = Math.max(width, height);
  const f = new Float64Array(n);
  const out = new Float64Array(n);
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  const pass = (len: number) => {
    let k = 0;
    v[0] = 0;
    z[0] = -Infinity;
    z[1] = Infinity;
    for (let q = 1; q < len; q++) {
      let s: number;
      for (;;) {
        const p = v[k]!;
        s = (f[q]! + q * q - (f[p]! + p * p)) / (2 * q - 2 * p);
        if (s <= z[k]! && k > 0) k--;
        else break;
      }
      // k = 0 with s <= z[0] = -inf cannot happen; the loop above stops at k = 0.
      k++;
      v[k] = q;
      z[k] = s;
      z[k + 1] = Infinity;
    }
    k = 0;
    for (let q = 0; q < len; q++) {
      while (z[k + 1]! < q) k++;
      const p = v[k]!;
      out[q] = (q - p) * (q - p) + f[p]!;
    }
  };
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) f[y] = d[y * width + x]!;
    pass(height);
    for (let y = 0; y < height; y++) d[y * width + x] = out[y]!;
  }
  for (let y = 0; y < height; y++) {
    const o = y * width;
    for (let x = 0; x < width; x++) f[x] = d[o + x]!;
    pass(width);
    for (let x = 0; x < width; x++) d[o + x] = out[x]!;
  }
  for (let i = 0; i < d.length; i++) if (d[i]! >= INF / 2) d[i] = Infinity;
  return d;
}

/** Trimap (0/128/255 floats) from a mask with values in 0..1. */
export function trimapFromMask(mask: Float32Array, width: number, height: number, o: TrimapFromMaskOptions = {}): Float32Array {
  const n = width * height;
  if (mask.length !== n) throw new Error(`trimapFromMask: ${mask.length} values for ${width}x${height}`);
  const band = bandPixels(width, height, o);
  if (!(band >= 0) || !Number.isFinite(band)) throw new Error(`trimapFromMask: band ${band} must be a non-negative number of pixels`);
  const inner = o.inner ?? Math.floor(band / 2);
  const outer = o.outer ?? Math.ceil(band / 2);
  if (!(inner >= 0 && outer >= 0)) throw new Error(`trimapFromMask: inner ${inner} and outer ${outer} must be >= 0`);
  const threshold = o.threshold ?? 0.5;
  const [lo, hi] = o.softRange ?? [0.05, 0.95];
  const soft = o.soft ?? true;
  const fg = new Uint8Array(n);
  const bg = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const isFg = mask[i]! >= threshold ? 1 : 0;
    fg[i] = isFg;
    bg[i] = 1 - isFg;
  }
  // Distance of a foreground pixel to the background, and of a background pixel to the foreground.
  const toBg = inner > 0 ? squaredDistanceTransform(bg, width, height) : null;
  const toFg = outer > 0 ? squaredDistanceTransform(fg, width, height) : null;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let t: number;
    if (fg[i]) t = toBg && toBg[i]! <= inner * inner ? TRIMAP_UNKNOWN : TRIMAP_FG;
    else t = toFg && toFg[i]! <= outer * outer ? TRIMAP_UNKNOWN : TRIMAP_BG;
    if (soft && mask[i]! > lo && mask[i]! < hi) t = TRIMAP_UNKNOWN;
    out[i] = t;
  }
  return out;
}

/** Counts of a trimap's regions (for the command's report). */
export function trimapRegions(trimap: Float32Array): { bg: number; unknown: number; fg: number } {
  let bg = 0, unknown = 0, fg = 0;
  for (const v of trimap) v === TRIMAP_BG ? bg++ : v === TRIMAP_FG ? fg++ : unknown++;
  return { bg, unknown, fg };
}
