// Shared types and helpers for the Composition-1k matting metrics (see README.md in this folder).

/** A single-channel image stored row-major: `data[row * width + col]`, values on the 0..255 scale. */
export interface AlphaImage {
  width: number;
  height: number;
  data: ArrayLike<number>;
}

/**
 * A trimap that the caller has already reduced to an "unknown region" mask, row-major like
 * `AlphaImage`: a pixel is unknown when its `unknown` entry is truthy (non-zero / true).
 * Use this when the trimap does not hold exact 0/128/255 values (e.g. after interpolation): the
 * caller decides how to threshold it, these functions never guess.
 */
export interface UnknownMask {
  width: number;
  height: number;
  unknown: ArrayLike<number | boolean>;
}

/**
 * Either a 0..255 trimap, where a pixel is unknown iff its value is exactly 128 (`trimap==128`, as
 * in every MATLAB file of the evaluation code), or an already thresholded `UnknownMask`.
 */
export type Trimap = AlphaImage | UnknownMask;

/** The trimap value that marks the unknown region. */
export const UNKNOWN_VALUE = 128;

/** MATLAB `single(x)`: round a number to IEEE single precision. */
export const f32 = Math.fround;

function checkDims(what: string, img: { width: number; height: number }, length: number): void {
  const { width, height } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
    throw new RangeError(`${what}: width and height must be non-negative integers, got ${width} x ${height}`);
  }
  if (length !== width * height) {
    throw new RangeError(`${what}: ${length} values for a ${width} x ${height} image`);
  }
}

/**
 * Checks that prediction, ground truth and trimap have the same size and consistent buffers;
 * returns the unknown-region mask (1 = unknown) as a row-major Uint8Array.
 */
export function prepare(p: AlphaImage, g: AlphaImage, trimap: Trimap): Uint8Array {
  checkDims('prediction', p, p.data.length);
  checkDims('ground truth', g, g.data.length);
  const tLength = 'unknown' in trimap ? trimap.unknown.length : trimap.data.length;
  checkDims('trimap', trimap, tLength);
  if (p.width !== g.width || p.height !== g.height || p.width !== trimap.width || p.height !== trimap.height) {
    throw new RangeError(
      `size mismatch: prediction ${p.width} x ${p.height}, ground truth ${g.width} x ${g.height}, ` +
        `trimap ${trimap.width} x ${trimap.height}`,
    );
  }
  return unknownMask(trimap);
}

/** The unknown-region mask (1 = unknown) of a trimap; see `Trimap` for the rule. */
export function unknownMask(trimap: Trimap): Uint8Array {
  if ('unknown' in trimap) {
    const src = trimap.unknown;
    const out = new Uint8Array(src.length);
    for (let i = 0; i < src.length; i++) out[i] = src[i] ? 1 : 0;
    return out;
  }
  const src = trimap.data;
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i] === UNKNOWN_VALUE ? 1 : 0;
  return out;
}

/** Number of unknown pixels in a mask from `unknownMask`. */
export function countUnknown(mask: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i]!;
  return n;
}
