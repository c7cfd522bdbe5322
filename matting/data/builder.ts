/**
 * The photographic training-data builder: turns matting images with ground truth (the alphamatting.com
 * layout, image/ + alpha/) and folders of photographs into a Composition-1k training folder
 * (fg/ alpha/ bg/) that `train --data` reads, the way Deep Image Matting builds its data:
 *
 * - fg/NAME.png, alpha/NAME.png: each real image's foreground colours, estimated from image + alpha
 *   on the GPU (matting/classical: Germer et al.'s multi-level foreground estimation), so the object
 *   can be composited onto new backgrounds without its old background bleeding through its soft edges.
 *   Names in `exclude` (the validation set) are never opened: not their pixels, not their headers.
 * - bg/photo-*.png: the photographs (e.g. Debian's mate-backgrounds, GPL-2+), long side at most
 *   `maxSide` pixels.
 * - bg/known-*.png: crops of the training images' pure-background regions (alpha exactly 0), so
 *   backgrounds include the clutter and colours that real matting photographs have.
 * - fg/proc-*.png, alpha/proc-*.png: procedural alphas (soft and hard edges, hair strands, holes,
 *   semi-transparency; matting/data/synthetic.ts) coloured with patches of the photographs and the
 *   real foregrounds, placed anywhere in the frame (they run off its edges).
 * - manifest.json: sources, counts, the excluded names, the seed: what the folder was built from.
 *
 * Everything is a function of the inputs and the seed (same files, same seed: same bytes).
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { DataError } from './errors.ts';
import { listImageFolder, requireFolder } from './folders.ts';
import { readImage, toGrey, toRgb, writePng, IMAGE_EXTENSIONS, type Image } from './image-io.ts';
import { Rng, hashSeed } from './rng.ts';
import { syntheticForeground } from './synthetic.ts';
import { cropImage, resizeImage } from './resize.ts';
import { estimateForeground } from '../classical/foreground.ts';

/** The alphamatting.com images this project validates on: never trained on. */
export const ALPHAMATTING_VALIDATION: readonly string[] = ['GT02', 'GT08', 'GT14', 'GT25'];

/** Where `scripts/install-backgrounds.sh` puts Debian's mate-backgrounds photographs (GPL-2+). */
export const DEBIAN_PHOTO_DIRS: readonly string[] = ['/usr/share/backgrounds/mate/nature'];

export interface BuildDataOptions {
  /** Folder with image/ and alpha/ (alphamatting.com layout; trimaps are not needed). */
  from: string;
  /** Output training folder (created; must be empty or absent). */
  out: string;
  /** Name stems never read (default: the alphamatting validation set). */
  exclude?: readonly string[];
  /** Folders of background photographs (.png/.jpg); missing ones are reported and skipped. */
  photoDirs?: readonly string[];
  /** Procedural-alpha items coloured with photo patches; default 200. */
  procedural?: number;
  /** Side of the procedural items; default 480. */
  proceduralSize?: number;
  /** Pure-background crops taken from each training image; default 4. */
  knownBackgroundCrops?: number;
  /** Long side of written photographs; default 1024. */
  maxSide?: number;
  seed?: number;
  /** Also write out/val/ with symbolic links to the excluded images (for eval and --val-data). */
  linkValidation?: boolean;
  log?: (message: string) => void;
}

export interface BuildDataReport {
  out: string;
  foregrounds: string[];
  excluded: string[];
  photos: number;
  knownBackgrounds: number;
  procedural: number;
  missingPhotoDirs: string[];
}

function listPhotos(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => !n.startsWith('.') && IMAGE_EXTENSIONS.includes(extname(n).toLowerCase()))
    .sort()
    .map((n) => join(dir, n));
}

function toByte(img: Image): Image {
  const d = new Float32Array(img.data.length);
  for (let i = 0; i < d.length; i++) d[i] = Math.min(255, Math.max(0, Math.round(img.data[i]!)));
  return { ...img, data: d };
}

function fitLongSide(img: Image, maxSide: number): Image {
  const s = Math.max(img.width, img.height);
  if (s <= maxSide) return img;
  const f = maxSide / s;
  return resizeImage(img, Math.max(1, Math.round(img.width * f)), Math.max(1, Math.round(img.height * f)));
}

/** Up to `count` square windows lying entirely where alpha == 0 (an integral image of alpha > 0). */
export function knownBackgroundWindows(alpha: Float32Array, W: number, H: number, count: number, rng: Rng): { x: number; y: number; side: number }[] {
  const I = new Float64Array((W + 1) * (H + 1));
  for (let y = 0; y < H; y++) {
    let row = 0;
    for (let x = 0; x < W; x++) {
      row += alpha[y * W + x]! > 0 ? 1 : 0;
      I[(y + 1) * (W + 1) + x + 1] = I[y * (W + 1) + x + 1]! + row;
    }
  }
  const occupied = (x: number, y: number, s: number) =>
    I[(y + s) * (W + 1) + x + s]! - I[y * (W + 1) + x + s]! - I[(y + s) * (W + 1) + x]! + I[y * (W + 1) + x]!;
  const out: { x: number; y: number; side: number }[] = [];
  for (let t = 0; t < 200 && out.length < count; t++) {
    const side = rng.int(Math.min(96, W, H), Math.min(320, W, H));
    const x = rng.int(0, W - side);
    const y = rng.int(0, H - side);
    if (occupied(x, y, side) === 0) out.push({ x, y, side });
  }
  return out;
}

/** Builds the training folder; see the file comment. Needs `await initEngine()` (foreground estimation runs on the GPU). */
export async function buildTrainingData(o: BuildDataOptions): Promise<BuildDataReport> {
  const log = o.log ?? (() => {});
  const exclude = new Set(o.exclude ?? ALPHAMATTING_VALIDATION);
  const seed = o.seed ?? 0;
  const maxSide = o.maxSide ?? 1024;
  const procedural = o.procedural ?? 200;
  const procSize = o.proceduralSize ?? 480;
  const perImage = o.knownBackgroundCrops ?? 4;
  for (const [k, v] of [['procedural', procedural], ['knownBackgroundCrops', perImage]] as const) {
    if (!(Number.isInteger(v) && v >= 0)) throw new Error(`build-data: ${k} must be a non-negative integer, got ${v}`);
  }
  if (!(Number.isInteger(maxSide) && maxSide >= 64)) throw new Error(`build-data: maxSide must be an integer >= 64, got ${maxSide}`);
  const from = resolve(o.from);
  const out = resolve(o.out);
  requireFolder(from, 'source of real foregrounds (image/ and alpha/)');
  if (existsSync(out) && readdirSync(out).length > 0) throw new DataError(out, 'output folder exists and is not empty (choose a new one)');
  const images = listImageFolder(join(from, 'image'), 'images image/', false).byStem;
  const alphas = listImageFolder(join(from, 'alpha'), 'alpha mattes alpha/', false).byStem;
  const names = [...images.keys()].filter((n) => !exclude.has(n) && alphas.has(n));
  const excluded = [...images.keys()].filter((n) => exclude.has(n));
  if (names.length === 0) throw new DataError(from, 'no image/alpha pairs left to train on after the exclusions');
  for (const sub of ['fg', 'alpha', 'bg']) mkdirSync(join(out, sub), { recursive: true });

  // 1. Real foregrounds: colours estimated from image + alpha.
  const fgs: { name: string; fg: Image; alpha: Float32Array }[] = [];
  for (const name of names) {
    const img = toRgb(readImage(images.get(name)!));
    const a = toGrey(readImage(alphas.get(name)!));
    if (a.width !== img.width || a.height !== img.height) throw new DataError(alphas.get(name)!, `size ${a.width}x${a.height} differs from its image (${img.width}x${img.height})`);
    const alpha = a.data.map((v) => v / 255);
    const unit = { width: img.width, height: img.height, data: img.data.map((v) => v / 255), layout: 'hwc' as const };
    const F = await estimateForeground(unit, alpha);
    const fg: Image = { width: img.width, height: img.height, channels: 3, data: F.map((v) => v * 255) };
    writePng(join(out, 'fg', `${name}.png`), toByte(fg));
    writePng(join(out, 'alpha', `${name}.png`), { width: a.width, height: a.height, channels: 1, data: a.data });
    fgs.push({ name, fg, alpha });
    log(`foreground ${name} (${img.width}x${img.height})`);
  }

  // 2. Photographs.
  const photos: Image[] = [];
  const missingPhotoDirs: string[] = [];
  for (const dir of o.photoDirs ?? DEBIAN_PHOTO_DIRS) {
    if (!existsSync(dir)) { missingPhotoDirs.push(dir); continue; }
    for (const file of listPhotos(dir)) {
      const img = toByte(fitLongSide(toRgb(readImage(file)), maxSide));
      writePng(join(out, 'bg', `photo-${basename(file, extname(file))}.png`), img);
      photos.push(img);
    }
  }
  log(`${photos.length} photographs${missingPhotoDirs.length ? ` (missing: ${missingPhotoDirs.join(', ')})` : ''}`);

  // 3. Pure-background crops of the training images.
  let known = 0;
  for (const { name, alpha } of fgs) {
    const img = toRgb(readImage(images.get(name)!));
    const rng = new Rng(hashSeed(seed, 0xb6, known));
    for (const w of knownBackgroundWindows(alpha, img.width, img.height, perImage, rng)) {
      writePng(join(out, 'bg', `known-${name}-${w.x}-${w.y}-${w.side}.png`), toByte(cropImage(img, w.x, w.y, w.side, w.side)));
      known++;
    }
  }
  log(`${known} pure-background crops`);

  // 4. Procedural alphas coloured with photo patches (photographs and the real foregrounds' opaque parts).
  const sources: Image[] = [...photos, ...fgs.map((f) => f.fg)];
  for (let k = 0; k < procedural; k++) {
    const rng = new Rng(hashSeed(seed, 0x9c, k));
    const { alpha } = syntheticForeground(hashSeed(seed, 0x9d, k), procSize, procSize);
    const src = rng.pick(sources);
    const side = Math.min(src.width, src.height, Math.round(procSize * rng.range(0.5, 1.5)));
    const patch = cropImage(src, rng.int(0, src.width - side), rng.int(0, src.height - side), side, side);
    const fg = toByte(resizeImage(patch, procSize, procSize));
    // Objects anywhere, running off the frame: shift the alpha by up to 40% of the side (zeros enter).
    const dx = Math.round(rng.range(-0.4, 0.4) * procSize), dy = Math.round(rng.range(-0.4, 0.4) * procSize);
    const shifted = new Float32Array(procSize * procSize);
    for (let y = 0; y < procSize; y++) {
      const sy = y - dy;
      if (sy < 0 || sy >= procSize) continue;
      for (let x = 0; x < procSize; x++) {
        const sx = x - dx;
        if (sx >= 0 && sx < procSize) shifted[y * procSize + x] = alpha[sy * procSize + sx]!;
      }
    }
    const id = String(k).padStart(4, '0');
    writePng(join(out, 'fg', `proc-${id}.png`), fg);
    writePng(join(out, 'alpha', `proc-${id}.png`), { width: procSize, height: procSize, channels: 1, data: shifted.map((v) => Math.round(v * 255)) });
  }
  log(`${procedural} procedural foregrounds`);

  if (o.linkValidation && excluded.length) {
    const { symlinkSync } = await import('node:fs');
    for (const sub of readdirSync(from).filter((d) => ['image', 'alpha'].includes(d) || d.startsWith('trimap'))) {
      mkdirSync(join(out, 'val', sub), { recursive: true });
      for (const file of readdirSync(join(from, sub))) {
        if (exclude.has(basename(file, extname(file)))) symlinkSync(join(from, sub, file), join(out, 'val', sub, file));
      }
    }
  }

  const report: BuildDataReport = { out, foregrounds: names, excluded, photos: photos.length, knownBackgrounds: known, procedural, missingPhotoDirs };
  writeFileSync(
    join(out, 'manifest.json'),
    JSON.stringify({ builtBy: "matting-engine build-data", from, seed, exclude: [...exclude], photoDirs: o.photoDirs ?? DEBIAN_PHOTO_DIRS, proceduralSize: procSize, knownBackgroundCrops: perImage, maxSide, ...report }, null, 2) + '\n',
  );
  return report;
}
