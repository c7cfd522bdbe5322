/**
 * Image files in and out: PNG (pngjs) and JPEG (jpeg-js, with EXIF orientation applied), decoded to
 * float HWC pixels in 0..255. Every failure is a DataError naming the file.
 */
import { closeSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { DataError, describeError } from './errors.ts';
import { applyOrientation, jpegOrientation, swapsAxes } from './exif.ts';
import type { GreyImage, Image } from './image.ts';

export type { Image, GreyImage } from './image.ts';

export type ImageFormat = 'png' | 'jpeg';

/** Extensions the dataset readers accept (lower case, with the dot). */
export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg'];

/** Identifies a file by its first bytes; the extension is not trusted. */
export function sniffFormat(buf: Uint8Array): ImageFormat | string {
  const b = (i: number): number => (i < buf.length ? buf[i]! : -1);
  if (b(0) === 0x89 && b(1) === 0x50 && b(2) === 0x4e && b(3) === 0x47) return 'png';
  if (b(0) === 0xff && b(1) === 0xd8 && b(2) === 0xff) return 'jpeg';
  if (b(0) === 0x47 && b(1) === 0x49 && b(2) === 0x46 && b(3) === 0x38) return 'GIF';
  if (b(0) === 0x42 && b(1) === 0x4d) return 'BMP';
  if (b(0) === 0x52 && b(1) === 0x49 && b(2) === 0x46 && b(3) === 0x46 && b(8) === 0x57 && b(9) === 0x45) return 'WebP';
  if ((b(0) === 0x49 && b(1) === 0x49 && b(2) === 0x2a) || (b(0) === 0x4d && b(1) === 0x4d && b(3) === 0x2a)) return 'TIFF';
  return 'unknown';
}

function unsupported(file: string, kind: string): DataError {
  const what = kind === 'unknown' ? 'not a PNG or JPEG file (unrecognised contents)' : `${kind} is not supported`;
  return new DataError(file, `unsupported format: ${what}; convert it to PNG or JPEG`);
}

/** Default pixel limit: 100 megapixels (a 30000x30000 PNG of 69 bytes would otherwise take 9.5 GB). */
export const DEFAULT_MAX_MEGAPIXELS = 100;

/**
 * The largest image (width x height) any reader decodes. It lives in the environment
 * (MATTING_MAX_MEGAPIXELS) so the data loader's worker threads see the value the CLI's
 * --max-megapixels set.
 */
export function maxImagePixels(): number {
  const v = Number(typeof process !== 'undefined' ? process.env?.MATTING_MAX_MEGAPIXELS : undefined);
  return (v > 0 ? v : DEFAULT_MAX_MEGAPIXELS) * 1e6;
}

export function setMaxMegapixels(mp: number): void {
  if (!(mp > 0) || !Number.isFinite(mp)) throw new Error(`the pixel limit must be a positive number of megapixels, got ${mp}`);
  process.env.MATTING_MAX_MEGAPIXELS = String(mp);
}

/** Refuses a declared size before anything of that size is allocated. */
function checkDeclaredSize(file: string, width: number, height: number): void {
  const limit = maxImagePixels();
  if (width * height > limit) {
    throw new DataError(
      file,
      `image of ${width}x${height} (${((width * height) / 1e6).toFixed(1)} megapixels) exceeds the limit of ${limit / 1e6} megapixels; ` +
        '--max-megapixels (or MATTING_MAX_MEGAPIXELS) raises it',
    );
  }
}

/** Decodes PNG or JPEG bytes (a Uint8Array or an ArrayBuffer). `file` only names the source in errors. */
export function decodeImage(bytes: Uint8Array | ArrayBuffer, file = '<bytes>'): Image {
  const buf = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (buf.length === 0) throw new DataError(file, 'empty file');
  // The header's size is checked (zero, over the pixel limit) before the decoder allocates for it.
  parseHeaderSize(buf, file, true);
  const kind = sniffFormat(buf);
  if (kind === 'png') return decodePng(buf, file);
  if (kind === 'jpeg') return decodeJpeg(buf, file);
  throw unsupported(file, kind);
}

function decodePng(buf: Uint8Array, file: string): Image {
  let png: ReturnType<typeof PNG.sync.read>;
  try {
    // skipRescale keeps 16-bit samples (and low-bit grey) raw so we scale them ourselves without
    // pngjs's rounding to 8 bits.
    png = PNG.sync.read(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength), { skipRescale: true });
  } catch (e) {
    throw new DataError(file, `corrupt or truncated PNG (${describeError(e)})`, { cause: e });
  }
  const { width, height, depth, colorType } = png;
  // pngjs always expands to 4 samples per pixel (RGBA); its types say Buffer but 16-bit data is a Uint16Array.
  const rgba = png.data as unknown as ArrayLike<number>;
  if (rgba.length !== width * height * 4) {
    throw new DataError(file, `corrupt PNG (decoded ${rgba.length} samples for ${width}x${height})`);
  }
  const palette = (colorType as number) === 3; // @types/pngjs omits palette (3) from ColorType
  const scale = palette ? 1 : depth === 16 ? 1 / 257 : depth < 8 ? 255 / ((1 << depth) - 1) : 1;
  // png.alpha is also set by a tRNS chunk (palette or colour-key transparency).
  const hasAlpha = png.alpha || colorType === 4 || colorType === 6;
  const grey = colorType === 0 || colorType === 4;
  const channels: 1 | 3 | 4 = hasAlpha ? 4 : grey ? 1 : 3;
  const n = width * height;
  const data = new Float32Array(n * channels);
  if (channels === 1) {
    for (let i = 0; i < n; i++) data[i] = rgba[4 * i]! * scale;
  } else if (channels === 3) {
    for (let i = 0; i < n; i++) {
      data[3 * i] = rgba[4 * i]! * scale;
      data[3 * i + 1] = rgba[4 * i + 1]! * scale;
      data[3 * i + 2] = rgba[4 * i + 2]! * scale;
    }
  } else {
    for (let i = 0; i < 4 * n; i++) data[i] = rgba[i]! * scale;
  }
  return { width, height, channels, data };
}

function decodeJpeg(buf: Uint8Array, file: string): Image {
  let raw: { width: number; height: number; data: Uint8Array };
  try {
    raw = jpeg.decode(buf, {
      useTArray: true,
      formatAsRGBA: false,
      // jpeg-js's default (tolerant) turns a truncated scan into grey blocks without a word.
      tolerantDecoding: false,
      maxResolutionInMP: 250,
      maxMemoryUsageInMB: 4096,
    });
  } catch (e) {
    throw new DataError(file, `corrupt or truncated JPEG (${describeError(e)})`, { cause: e });
  }
  const { width, height } = raw;
  if (!(width > 0 && height > 0) || raw.data.length !== width * height * 3) {
    throw new DataError(file, `corrupt JPEG (decoded ${raw.data.length} bytes for ${width}x${height})`);
  }
  const data = new Float32Array(raw.data.length);
  for (let i = 0; i < data.length; i++) data[i] = raw.data[i]!;
  const o = jpegOrientation(buf);
  const oriented = applyOrientation(data, width, height, 3, o);
  return { width: oriented.width, height: oriented.height, channels: 3, data: oriented.data };
}

function readBytes(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new DataError(path, `cannot read file (${describeError(e)})`, { cause: e });
  }
}

export function readImage(path: string): Image {
  return decodeImage(readBytes(path), path);
}

/**
 * One channel of an image file, for alpha mattes and trimaps: channel 0 (grey, or red of an RGB/RGBA
 * or palette file). No luminance mix: mattes saved as RGB have R = G = B, and a weighted sum would
 * turn the exact 128 of a trimap into 127.99. An alpha channel, if present, is ignored.
 */
export function readGrey(path: string): GreyImage {
  return toGrey(readImage(path));
}

export function toGrey(img: Image): GreyImage {
  if (img.channels === 1) return { width: img.width, height: img.height, data: img.data };
  const n = img.width * img.height;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = img.data[i * img.channels]!;
  return { width: img.width, height: img.height, data: out };
}

/** RGB view of any image: grey is replicated, an alpha channel is dropped (not composited). */
export function toRgb(img: Image): Image {
  if (img.channels === 3) return img;
  const n = img.width * img.height;
  const out = new Float32Array(n * 3);
  const c = img.channels;
  for (let i = 0; i < n; i++) {
    const s = i * c;
    out[3 * i] = img.data[s]!;
    out[3 * i + 1] = img.data[c === 1 ? s : s + 1]!;
    out[3 * i + 2] = img.data[c === 1 ? s : s + 2]!;
  }
  return { width: img.width, height: img.height, channels: 3, data: out };
}

/** 8-bit PNG bytes (grey, RGB or RGBA by `channels`); values are rounded and clamped to 0..255. */
export function encodePng(img: { width: number; height: number; channels: 1 | 3 | 4; data: ArrayLike<number> }): Buffer {
  const { width, height, channels } = img;
  if (img.data.length !== width * height * channels) {
    throw new Error(`encodePng: ${img.data.length} values for ${width}x${height}x${channels}`);
  }
  const bytes = Buffer.alloc(img.data.length);
  for (let i = 0; i < bytes.length; i++) {
    const v = Math.round(img.data[i]!);
    bytes[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  const colorType = channels === 1 ? 0 : channels === 3 ? 2 : 6;
  return PNG.sync.write({ width, height, data: bytes } as PNG, {
    colorType,
    inputColorType: colorType,
    inputHasAlpha: channels === 4,
    bitDepth: 8,
  });
}

export function writePng(path: string, img: { width: number; height: number; channels: 1 | 3 | 4; data: ArrayLike<number> }): void {
  writeFileSync(path, encodePng(img));
}

/**
 * Width and height from the file header alone (PNG IHDR, JPEG SOF; EXIF rotation applied), reading
 * only as much of the file as needed. Lets the dataset readers check fg/alpha sizes when opening.
 */
export function readImageSize(path: string): { width: number; height: number; format: ImageFormat } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new DataError(path, `cannot read file (${describeError(e)})`, { cause: e });
  }
  try {
    let size = 65536;
    for (;;) {
      const buf = Buffer.alloc(size);
      const got = readSync(fd, buf, 0, size, 0);
      const head = buf.subarray(0, got);
      const r = parseHeaderSize(head, path, got < size);
      if (r !== null) return r;
      size *= 4;
    }
  } finally {
    closeSync(fd);
  }
}

/** Returns null when more bytes are needed (and the file has more). */
function parseHeaderSize(buf: Uint8Array, file: string, complete: boolean): { width: number; height: number; format: ImageFormat } | null {
  if (buf.length === 0) throw new DataError(file, 'empty file');
  const kind = sniffFormat(buf);
  if (kind === 'png') {
    if (buf.length < 24) throw new DataError(file, 'truncated PNG (no complete IHDR header)');
    if (buf[12] !== 0x49 || buf[13] !== 0x48 || buf[14] !== 0x44 || buf[15] !== 0x52) {
      throw new DataError(file, 'corrupt PNG (first chunk is not IHDR)');
    }
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const width = dv.getUint32(16);
    const height = dv.getUint32(20);
    if (width === 0 || height === 0) throw new DataError(file, `corrupt PNG (size ${width}x${height})`);
    checkDeclaredSize(file, width, height);
    return { width, height, format: 'png' };
  }
  if (kind === 'jpeg') {
    let p = 2;
    while (p + 4 <= buf.length) {
      if (buf[p] !== 0xff) throw new DataError(file, `corrupt JPEG (no marker at byte ${p})`);
      const m = buf[p + 1]!;
      if (m === 0xff) { p++; continue; }
      if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) { p += 2; continue; }
      if (m === 0xda || m === 0xd9) throw new DataError(file, 'corrupt JPEG (no frame header before the scan)');
      const len = (buf[p + 2]! << 8) | buf[p + 3]!;
      const isSof = m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
      if (isSof) {
        if (p + 9 > buf.length) break;
        const height = (buf[p + 5]! << 8) | buf[p + 6]!;
        const width = (buf[p + 7]! << 8) | buf[p + 8]!;
        if (width === 0 || height === 0) throw new DataError(file, `corrupt JPEG (frame size ${width}x${height})`);
        checkDeclaredSize(file, width, height);
        const o = jpegOrientation(buf.subarray(0, p));
        return swapsAxes(o) ? { width: height, height: width, format: 'jpeg' } : { width, height, format: 'jpeg' };
      }
      p += 2 + len;
    }
    if (complete) throw new DataError(file, 'truncated JPEG (no frame header)');
    return null;
  }
  throw unsupported(file, kind);
}
