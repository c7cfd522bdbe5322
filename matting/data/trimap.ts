/**
 * Trimaps: made from a ground-truth alpha (training, synthetic eval sets) and read from files
 * (evaluation sets), always as floats 0 (background) / 128 (unknown) / 255 (foreground).
 */
import { DataError } from './errors.ts';

export const TRIMAP_BG = 0;
export const TRIMAP_UNKNOWN = 128;
export const TRIMAP_FG = 255;

/**
 * Window sums of a 0/1 map over a k x k square, clipped at the image border (pixels outside the
 * image count as absent, so the border neither dilates nor erodes). The window of pixel x spans
 * x - floor(k/2) .. x - floor(k/2) + k - 1, OpenCV's anchor for even k.
 */
function boxCount(bits: Uint8Array, w: number, h: number, k: number): Int32Array {
  const lo = Math.floor(k / 2);
  const hi = k - 1 - lo;
  const rows = new Int32Array(w * h);
  const prefix = new Int32Array(Math.max(w, h) + 1);
  for (let y = 0; y < h; y++) {
    const o = y * w;
    for (let x = 0; x < w; x++) prefix[x + 1] = prefix[x]! + bits[o + x]!;
    for (let x = 0; x < w; x++) {
      const a = x - lo < 0 ? 0 : x - lo;
      const b = x + hi + 1 > w ? w : x + hi + 1;
      rows[o + x] = prefix[b]! - prefix[a]!;
    }
  }
  const out = new Int32Array(w * h);
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) prefix[y + 1] = prefix[y]! + rows[y * w + x]!;
    for (let y = 0; y < h; y++) {
      const a = y - lo < 0 ? 0 : y - lo;
      const b = y + hi + 1 > h ? h : y + hi + 1;
      out[y * w + x] = prefix[b]! - prefix[a]!;
    }
  }
  return out;
}

/**
 * Trimap from alpha (0..1): unknown = dilate(alpha > 0) minus erode(alpha == 1), both with a k x k
 * square. A pixel is therefore unknown when its window holds some alpha > 0 and some alpha < 1;
 * every 0 < alpha < 1 pixel is unknown for any k >= 1. On a straight axis-aligned edge the unknown
 * band is (width of the 0 < alpha < 1 ramp) + k - 1 pixels wide: k - 1 for a hard edge.
 */
export function trimapFromAlpha(alpha: Float32Array, width: number, height: number, k: number): Float32Array {
  if (!(Number.isInteger(k) && k >= 1)) throw new Error(`trimapFromAlpha: kernel size ${k} must be an integer >= 1`);
  const n = width * height;
  if (alpha.length !== n) throw new Error(`trimapFromAlpha: ${alpha.length} values for ${width}x${height}`);
  const pos = new Uint8Array(n);
  const notOne = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const a = alpha[i]!;
    pos[i] = a > 0 ? 1 : 0;
    notOne[i] = a < 1 ? 1 : 0;
  }
  const cPos = boxCount(pos, width, height, k);
  const cNotOne = boxCount(notOne, width, height, k);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = cPos[i] === 0 ? TRIMAP_BG : cNotOne[i] === 0 ? TRIMAP_FG : TRIMAP_UNKNOWN;
  }
  return out;
}

/** Thresholds for trimap files whose values are not exactly 0/128/255 (e.g. resampled or JPEG'd). */
export const TRIMAP_BG_BELOW = 64;
export const TRIMAP_FG_ABOVE = 191;

export interface TrimapNormalisation {
  trimap: Float32Array;
  /** Pixels whose value was not exactly 0, 128 or 255 (mapped by the thresholds). */
  oddPixels: number;
  /** Up to 16 distinct odd values, ascending. */
  oddValues: number[];
}

/**
 * Maps raw trimap values (0..255) onto 0/128/255: v < 64 -> 0 (background), v > 191 -> 255
 * (foreground), anything else -> 128 (unknown). Exact 0/128/255 pass through unchanged; the others
 * are counted. With `strict`, any odd value throws a DataError naming `file` and the values.
 */
export function normaliseTrimap(raw: Float32Array, opts: { strict?: boolean; file?: string; warn?: (message: string) => void } = {}): TrimapNormalisation {
  const out = new Float32Array(raw.length);
  let odd = 0;
  const values = new Set<number>();
  for (let i = 0; i < raw.length; i++) {
    const v = raw[i]!;
    if (v === 0 || v === 128 || v === 255) {
      out[i] = v;
      continue;
    }
    odd++;
    if (values.size < 16) values.add(v);
    out[i] = v < TRIMAP_BG_BELOW ? TRIMAP_BG : v > TRIMAP_FG_ABOVE ? TRIMAP_FG : TRIMAP_UNKNOWN;
  }
  const oddValues = [...values].sort((a, b) => a - b);
  if (odd > 0 && opts.strict) {
    const shown = oddValues.map((v) => String(Math.round(v * 1000) / 1000)).join(', ');
    throw new DataError(
      opts.file ?? '(trimap)',
      `trimap has ${odd} pixel(s) with values other than 0/128/255 (values: ${shown}${values.size >= 16 ? ', ...' : ''})`,
    );
  }
  // Not without a word: a resampled or JPEG'd trimap changes what counts as unknown.
  if (odd > 0 && opts.warn) {
    opts.warn(
      `${opts.file ?? 'trimap'}: ${odd} pixel(s) are not 0/128/255 (values ${oddValues.slice(0, 6).map((v) => Math.round(v * 1000) / 1000).join(', ')}${oddValues.length > 6 ? ', ...' : ''}); ` +
        `read as background below ${TRIMAP_BG_BELOW}, foreground above ${TRIMAP_FG_ABOVE}, unknown between`,
    );
  }
  return { trimap: out, oddPixels: odd, oddValues };
}
