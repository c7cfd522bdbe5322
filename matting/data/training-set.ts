/**
 * Composition-1k style training folder:
 *   dir/fg/NAME.(png|jpg)     foreground colours
 *   dir/alpha/NAME.(png|jpg)  its alpha matte (channel 0, 0..255), same size, matched by stem
 *   dir/bg/*.(png|jpg)        any number of backgrounds, any sizes
 * Opening checks the layout and the fg/alpha pairing and sizes (from file headers); pixels are
 * decoded, and corrupt files found, only when a sample is loaded.
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { DataError, describeError, type SkippedFile } from './errors.ts';
import { listImageFolder, requireFolder } from './folders.ts';
import { readImage, readImageSize, toGrey, toRgb, type Image } from './image-io.ts';

export interface TrainingPair {
  name: string;
  fg: string;
  alpha: string;
  width: number;
  height: number;
}

/** Plain data describing an opened set: what a worker needs to rebuild it without re-validating. */
export interface TrainingSetSpec {
  dir: string;
  pairs: TrainingPair[];
  backgrounds: string[];
  skipBad: boolean;
  /** Decoded-image cache per process (each worker has its own), MB; 0 = none. */
  cacheMB: number;
}

export interface OpenTrainingSetOptions {
  /** Leave out bad files (with a warning) instead of throwing. Default false. */
  skipBad?: boolean;
  /** Where skip warnings go; default console.warn. */
  warn?: (message: string) => void;
  /**
   * Keep decoded images in memory up to this many MB per process (least recently used evicted).
   * Default 256. PNG decoding costs several times the augmentation itself, so for sets that fit,
   * epochs after the first run much faster. Each loader worker holds its own cache.
   */
  cacheMB?: number;
}

export interface LoadedPair {
  name: string;
  width: number;
  height: number;
  /** RGB HWC 0..255. */
  fg: Image;
  /** H*W, 0..1. */
  alpha: Float32Array;
}

export class TrainingSet {
  readonly dir: string;
  readonly pairs: readonly TrainingPair[];
  readonly backgrounds: readonly string[];
  readonly skipBad: boolean;
  readonly cacheMB: number;
  /** Files left out at open (skipBad) and files found bad when loading, in this process. */
  readonly skipped: SkippedFile[] = [];
  private readonly bad = new Map<string, DataError>();
  private readonly cache = new DecodedCache();

  constructor(spec: TrainingSetSpec, skippedAtOpen: SkippedFile[] = []) {
    this.dir = spec.dir;
    this.pairs = spec.pairs;
    this.backgrounds = spec.backgrounds;
    this.skipBad = spec.skipBad;
    this.cacheMB = spec.cacheMB;
    this.cache.limitBytes = spec.cacheMB * 1024 * 1024;
    this.skipped.push(...skippedAtOpen);
  }

  static fromSpec(spec: TrainingSetSpec): TrainingSet {
    return new TrainingSet(spec);
  }

  spec(): TrainingSetSpec {
    return { dir: this.dir, pairs: [...this.pairs], backgrounds: [...this.backgrounds], skipBad: this.skipBad, cacheMB: this.cacheMB };
  }

  /**
   * Decodes pair i (or takes it from the cache: treat the arrays as read-only). Throws DataError
   * (corrupt file, size changed since open); bad files are remembered.
   */
  loadPair(i: number): LoadedPair {
    const pair = this.pairs[i];
    if (pair === undefined) throw new RangeError(`pair ${i} out of range (0..${this.pairs.length - 1})`);
    const cached = this.cache.get(`pair:${i}`) as LoadedPair | undefined;
    if (cached) return cached;
    const fg = toRgb(this.decode(pair.fg));
    const alphaImg = toGrey(this.decode(pair.alpha));
    for (const [file, img] of [[pair.fg, fg], [pair.alpha, alphaImg]] as const) {
      if (img.width !== pair.width || img.height !== pair.height) {
        throw this.remember(file, `decoded size ${img.width}x${img.height} differs from the ${pair.width}x${pair.height} of its pair`);
      }
    }
    const alpha = alphaImg.data;
    for (let k = 0; k < alpha.length; k++) alpha[k] = alpha[k]! / 255;
    const loaded = { name: pair.name, width: pair.width, height: pair.height, fg, alpha };
    this.cache.set(`pair:${i}`, loaded, fg.data.byteLength + alpha.byteLength);
    return loaded;
  }

  /** Decodes background j as RGB (or takes it from the cache: read-only). Throws DataError on a bad file. */
  loadBackground(j: number): Image {
    const path = this.backgrounds[j];
    if (path === undefined) throw new RangeError(`background ${j} out of range (0..${this.backgrounds.length - 1})`);
    const cached = this.cache.get(`bg:${j}`) as Image | undefined;
    if (cached) return cached;
    const img = toRgb(this.decode(path));
    this.cache.set(`bg:${j}`, img, img.data.byteLength);
    return img;
  }

  isKnownBad(file: string): boolean {
    return this.bad.has(file);
  }

  private decode(file: string): Image {
    const known = this.bad.get(file);
    if (known) throw known;
    try {
      return readImage(file);
    } catch (e) {
      if (e instanceof DataError) {
        this.bad.set(file, e);
        this.skipped.push({ file, problem: e.problem });
        throw e;
      }
      throw this.remember(file, `cannot decode (${describeError(e)})`);
    }
  }

  private remember(file: string, problem: string): DataError {
    const e = new DataError(file, problem);
    this.bad.set(file, e);
    this.skipped.push({ file, problem });
    return e;
  }
}

/**
 * Opens and validates a training folder. Errors (DataError, naming the file or folder): a missing
 * dir/fg/alpha/bg folder; an empty one; a non-image file; an fg without alpha or an alpha without
 * fg; fg/alpha sizes that differ; a header that cannot be read. With `skipBad` the per-file problems
 * become warnings and the files are left out (`set.skipped` lists them); missing or empty folders,
 * or nothing usable left, still throw.
 */
export function openTrainingSet(dir: string, opts: OpenTrainingSetOptions = {}): TrainingSet {
  const skipBad = opts.skipBad ?? false;
  const warn = opts.warn ?? ((m: string) => console.warn(m));
  if (!existsSync(dir)) throw new DataError(dir, 'training set folder does not exist');
  requireFolder(dir, 'training set root');
  const skipped: SkippedFile[] = [];
  const fgs = listImageFolder(join(dir, 'fg'), 'training foregrounds fg/', skipBad);
  const alphas = listImageFolder(join(dir, 'alpha'), 'training alpha mattes alpha/', skipBad);
  const bgs = listImageFolder(join(dir, 'bg'), 'training backgrounds bg/', skipBad);
  skipped.push(...fgs.skipped, ...alphas.skipped, ...bgs.skipped);

  const bad = (file: string, problem: string): void => {
    if (!skipBad) throw new DataError(file, problem);
    skipped.push({ file, problem });
  };
  const pairs: TrainingPair[] = [];
  for (const [stem, fg] of fgs.byStem) {
    const alpha = alphas.byStem.get(stem);
    if (alpha === undefined) {
      bad(fg, `foreground has no alpha matte (expected ${join(dir, 'alpha', stem)}.png or .jpg)`);
      continue;
    }
    let fgSize: { width: number; height: number };
    let alphaSize: { width: number; height: number };
    try {
      fgSize = readImageSize(fg);
    } catch (e) {
      if (e instanceof DataError) { bad(e.file, e.problem); continue; }
      throw e;
    }
    try {
      alphaSize = readImageSize(alpha);
    } catch (e) {
      if (e instanceof DataError) { bad(e.file, e.problem); continue; }
      throw e;
    }
    if (fgSize.width !== alphaSize.width || fgSize.height !== alphaSize.height) {
      bad(fg, `size ${fgSize.width}x${fgSize.height} differs from its alpha ${alpha} (${alphaSize.width}x${alphaSize.height})`);
      continue;
    }
    pairs.push({ name: stem, fg, alpha, width: fgSize.width, height: fgSize.height });
  }
  for (const [stem, alpha] of alphas.byStem) {
    if (!fgs.byStem.has(stem)) bad(alpha, `alpha matte has no foreground (expected ${join(dir, 'fg', stem)}.png or .jpg)`);
  }
  for (const s of skipped) warn(`skipping ${s.file}: ${s.problem}`);
  if (pairs.length === 0) throw new DataError(dir, 'no usable fg/alpha pairs left after skipping bad files');
  const cacheMB = opts.cacheMB ?? 256;
  if (!(cacheMB >= 0)) throw new Error(`cacheMB ${cacheMB} must be >= 0`);
  const spec: TrainingSetSpec = { dir, pairs, backgrounds: [...bgs.byStem.values()], skipBad, cacheMB };
  return new TrainingSet(spec, skipped);
}

/** Least-recently-used map of decoded images, bounded by bytes. */
class DecodedCache {
  limitBytes = 0;
  private bytes = 0;
  private readonly entries = new Map<string, { value: unknown; bytes: number }>();

  get(key: string): unknown {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    this.entries.delete(key); // re-insert: Map order is recency order
    this.entries.set(key, e);
    return e.value;
  }

  set(key: string, value: unknown, bytes: number): void {
    if (bytes > this.limitBytes) return;
    this.entries.set(key, { value, bytes });
    this.bytes += bytes;
    for (const [k, e] of this.entries) {
      if (this.bytes <= this.limitBytes) break;
      this.entries.delete(k);
      this.bytes -= e.bytes;
    }
  }
}
