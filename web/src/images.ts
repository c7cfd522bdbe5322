/** Decoding what the user opens or drops into exact 8-bit RGBA pixels, and planar network inputs. */

export interface Rgba {
  width: number;
  height: number;
  /** RGBA, 4 bytes per pixel, row-major. */
  data: Uint8ClampedArray;
}

/**
 * Decodes an image file with the browser's decoders. No colour-space conversion and no
 * premultiplication, so an opaque PNG's bytes come out exactly as stored (as the CLI reads them).
 */
export async function decodeImageFile(file: Blob): Promise<Rgba> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch {
    throw new Error(`${(file as File).name ?? 'the file'} is not an image this browser can decode`);
  }
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
  return { width: img.width, height: img.height, data: img.data };
}

/** RGB planes (CHW, 0..255) for the network. */
export function rgbPlanes(img: Rgba): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[c * n + i] = img.data[i * 4 + c]!;
  return out;
}

/** The first channel of an image (a trimap or alpha file) as floats 0..255. */
export function greyPlane(img: Rgba): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = img.data[i * 4]!;
  return out;
}

/** Alpha in 0..1 to bytes, rounded as `matting-engine predict` does. */
export function alphaBytes(alpha: Float32Array): Uint8Array {
  return Uint8Array.from(alpha, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
}

