/**
 * File-or-folder inputs and outputs of the per-image verbs (predict, trimap): which files of a
 * folder are used and why the others are skipped, where each result goes, the output format from
 * the extension, and the closing summary (`wrote 17, skipped 1: x.webp (WebP is not supported; ...)`).
 */
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import jpeg from 'jpeg-js';
import { UsageError } from './args.ts';
import { IMAGE_EXTENSIONS, encodePng, type Image } from '../matting/data/image-io.ts';

const FORMAT_NAMES: Record<string, string> = {
  '.webp': 'WebP', '.gif': 'GIF', '.bmp': 'BMP', '.tif': 'TIFF', '.tiff': 'TIFF', '.heic': 'HEIC', '.heif': 'HEIF', '.avif': 'AVIF', '.exr': 'OpenEXR', '.psd': 'PSD',
};

export interface Skipped {
  file: string;
  reason: string;
}

/** Why a file in an image folder is not read, or null when it is read. */
export function skipReason(name: string): string | null {
  const ext = extname(name).toLowerCase();
  if (IMAGE_EXTENSIONS.includes(ext)) return null;
  const known = FORMAT_NAMES[ext];
  return known ? `${known} is not supported; convert to PNG` : `not a PNG or JPEG image (${ext || 'no extension'})`;
}

export const stem = (f: string): string => basename(f, extname(f));

/** The image files of a folder (sorted) and the others with their reasons; hidden files and sub-folders are left out silently. */
export function listFolder(dir: string): { files: string[]; skipped: Skipped[] } {
  const files: string[] = [];
  const skipped: Skipped[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.') || /^(thumbs\.db|desktop\.ini)$/i.test(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) continue;
    const why = skipReason(name);
    if (why) skipped.push({ file: name, reason: why });
    else files.push(name);
  }
  return { files, skipped };
}

export const isFolder = (p: string): boolean => existsSync(p) && statSync(p).isDirectory();

/** Output formats by extension. */
export const OUTPUT_EXTENSIONS = ['.png', '.jpg', '.jpeg'];

/**
 * Where the result for one input file goes. A folder run writes `<out>/<stem>.png`; a single file
 * writes to `out`, or into it when it is a folder (existing, or written with a trailing slash).
 * `--out x.png` for a folder input is refused rather than made into a folder named x.png.
 */
export function resolveOutput(verb: string, out: string, input: string, folderRun: boolean, flag = '--out'): string {
  const looksLikeFile = OUTPUT_EXTENSIONS.includes(extname(out).toLowerCase()) && !/[\\/]$/.test(out);
  if (folderRun) {
    if (looksLikeFile && !isFolder(out)) throw new UsageError(`${verb}: the input is a folder, so ${flag} must be a folder too, not the file name '${out}'`);
    if (existsSync(out) && !statSync(out).isDirectory()) throw new UsageError(`${verb}: ${flag} ${out} is a file; a folder input needs an output folder`);
    return join(out, `${stem(input)}.png`);
  }
  if (/[\\/]$/.test(out) || isFolder(out)) return join(out, `${stem(input)}.png`);
  const ext = extname(out).toLowerCase();
  if (!OUTPUT_EXTENSIONS.includes(ext)) throw new UsageError(`${verb}: ${flag} ${out}: can write .png or .jpg files (or give a folder)`);
  return out;
}

/** Writes a one-channel 0..255 image as PNG or JPEG (by the extension; JPEG at quality 95, lossy). */
export function writeGreyFile(path: string, width: number, height: number, data: ArrayLike<number>): void {
  mkdirSync(dirname(path), { recursive: true });
  const ext = extname(path).toLowerCase();
  if (ext === '.jpg' || ext === '.jpeg') {
    const rgba = Buffer.alloc(width * height * 4);
    for (let i = 0; i < width * height; i++) {
      const v = Math.max(0, Math.min(255, Math.round(data[i]!)));
      rgba[4 * i] = rgba[4 * i + 1] = rgba[4 * i + 2] = v;
      rgba[4 * i + 3] = 255;
    }
    writeFileSync(path, jpeg.encode({ width, height, data: rgba }, 95).data);
  } else writeFileSync(path, encodePng({ width, height, channels: 1, data }));
}

/**
 * A mask as 0..1: the alpha channel of an RGBA file whose alpha is not all opaque (a cut-out from a
 * background remover), otherwise channel 0 (a grey mask or matte).
 */
export function maskValues(img: Image): Float32Array {
  const n = img.width * img.height;
  const c = img.channels;
  let ch = 0;
  if (c === 4) for (let i = 0; i < n; i++) if (img.data[i * 4 + 3]! < 255) { ch = 3; break; }
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = img.data[i * c + ch]! / 255;
  return out;
}

/** `wrote 17 alpha mattes to out/, skipped 1: x.webp (WebP is not supported; convert to PNG)`. */
export function summary(wrote: number, what: string, where: string, skipped: Skipped[]): string {
  const head = `wrote ${wrote} ${what}${wrote === 1 ? '' : 's'} to ${where}`;
  if (!skipped.length) return head;
  return `${head}, skipped ${skipped.length}: ${skipped.map((s) => `${s.file} (${s.reason})`).join(', ')}`;
}
