/**
 * alphamatting.com style evaluation folder:
 *   dir/image/NAME.png   the photograph (RGB)
 *   dir/trimap/NAME.png  its trimap (grey, palette or RGB: channel 0), 0/128/255
 *   dir/alpha/NAME.png   ground-truth alpha (channel 0, 0..255)
 * and optionally further trimap folders: alphamatting.com ships two trimaps per image, Trimap1 (the
 * narrower unknown band, folder `trimap/`) and Trimap2 (wider, `trimap2/`). The benchmark reports
 * each separately, so the folder is an option (`trimapFolder`, default `trimap`); `trimapFolders`
 * lists the ones present. Items are matched by stem across image/, the chosen trimap folder, alpha/.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from './errors.ts';
import { listImageFolder, requireFolder } from './folders.ts';
import { readGrey, readImage, readImageSize, toRgb } from './image-io.ts';
import { normaliseTrimap } from './trimap.ts';

export interface EvalItem {
  name: string;
  image: string;
  trimap: string;
  alpha: string;
  width: number;
  height: number;
}

export interface EvalSample {
  name: string;
  width: number;
  height: number;
  /** 3*H*W, CHW (the layout of a training Sample), 0..255. */
  image: Float32Array;
  /** H*W, exactly 0/128/255. */
  trimap: Float32Array;
  /** H*W, 0..1. */
  alpha: Float32Array;
  /** Trimap pixels that were not exactly 0/128/255 and were mapped by the thresholds. */
  oddTrimapPixels: number;
}

export interface OpenEvalSetOptions {
  /** Folder of trimaps under dir; default 'trimap' (alphamatting.com Trimap1). */
  trimapFolder?: string;
  /** Throw a DataError for trimap values other than 0/128/255 instead of thresholding them. */
  strictTrimap?: boolean;
  /** Where the note about a thresholded trimap goes (once per file); default console.warn. */
  warn?: (message: string) => void;
}

export class EvalSet {
  readonly dir: string;
  readonly items: readonly EvalItem[];
  readonly trimapFolder: string;
  readonly strictTrimap: boolean;
  /** Sub-folders whose name starts with "trimap" (e.g. trimap, trimap2). */
  readonly trimapFolders: readonly string[];

  private readonly warned = new Set<string>();
  /** Set by openEvalSet (OpenEvalSetOptions.warn). */
  warn: (message: string) => void = (m) => console.warn(`warning: ${m}`);

  constructor(dir: string, items: EvalItem[], trimapFolder: string, strictTrimap: boolean, trimapFolders: string[]) {
    this.dir = dir;
    this.items = items;
    this.trimapFolder = trimapFolder;
    this.strictTrimap = strictTrimap;
    this.trimapFolders = trimapFolders;
  }

  get length(): number {
    return this.items.length;
  }

  /** Decodes item i. Throws DataError for a corrupt file, a size mismatch, or (strict) odd trimap values. */
  load(i: number): EvalSample {
    const item = this.items[i];
    if (item === undefined) throw new RangeError(`eval item ${i} out of range (0..${this.items.length - 1})`);
    const img = toRgb(readImage(item.image));
    const tri = readGrey(item.trimap);
    const alphaImg = readGrey(item.alpha);
    for (const [file, im] of [[item.image, img], [item.trimap, tri], [item.alpha, alphaImg]] as const) {
      if (im.width !== item.width || im.height !== item.height) {
        throw new DataError(file, `decoded size ${im.width}x${im.height} differs from ${item.width}x${item.height}`);
      }
    }
    const n = item.width * item.height;
    const image = new Float32Array(3 * n);
    for (let p = 0; p < n; p++) {
      image[p] = img.data[3 * p]!;
      image[n + p] = img.data[3 * p + 1]!;
      image[2 * n + p] = img.data[3 * p + 2]!;
    }
    const warn = this.warned.has(item.trimap) ? undefined : (m: string) => (this.warned.add(item.trimap), this.warn(m));
    const { trimap, oddPixels } = normaliseTrimap(tri.data, { strict: this.strictTrimap, file: item.trimap, warn });
    const alpha = alphaImg.data;
    for (let p = 0; p < n; p++) alpha[p] = alpha[p]! / 255;
    return { name: item.name, width: item.width, height: item.height, image, trimap, alpha, oddTrimapPixels: oddPixels };
  }
}

/**
 * Opens an evaluation folder. Errors (DataError): missing root, image/, alpha/ or the chosen trimap
 * folder; an empty or non-image file; a name present in one folder but not the others; sizes that
 * differ between an image, its trimap and its alpha (checked from the file headers).
 */
export function openEvalSet(dir: string, opts: OpenEvalSetOptions = {}): EvalSet {
  const trimapFolder = opts.trimapFolder ?? 'trimap';
  if (!existsSync(dir)) throw new DataError(dir, 'evaluation set folder does not exist');
  requireFolder(dir, 'evaluation set root');
  const images = listImageFolder(join(dir, 'image'), 'evaluation images image/', false).byStem;
  const trimaps = listImageFolder(join(dir, trimapFolder), `evaluation trimaps ${trimapFolder}/`, false).byStem;
  const alphas = listImageFolder(join(dir, 'alpha'), 'evaluation alpha mattes alpha/', false).byStem;
  const items: EvalItem[] = [];
  for (const [stem, image] of images) {
    const trimap = trimaps.get(stem);
    const alpha = alphas.get(stem);
    if (trimap === undefined) throw new DataError(image, `image has no trimap (expected ${join(dir, trimapFolder, stem)}.png)`);
    if (alpha === undefined) throw new DataError(image, `image has no alpha matte (expected ${join(dir, 'alpha', stem)}.png)`);
    const s = readImageSize(image);
    for (const f of [trimap, alpha]) {
      const t = readImageSize(f);
      if (t.width !== s.width || t.height !== s.height) {
        throw new DataError(f, `size ${t.width}x${t.height} differs from its image ${image} (${s.width}x${s.height})`);
      }
    }
    items.push({ name: stem, image, trimap, alpha, width: s.width, height: s.height });
  }
  for (const [stem, f] of [...trimaps, ...alphas]) {
    if (!images.has(stem)) throw new DataError(f, `no image named "${stem}" in ${join(dir, 'image')}`);
  }
  const trimapFolders = readdirSync(dir)
    .filter((d) => d.startsWith('trimap') && statSync(join(dir, d)).isDirectory())
    .sort();
  const set = new EvalSet(dir, items, trimapFolder, opts.strictTrimap ?? false, trimapFolders);
  if (opts.warn) set.warn = opts.warn;
  return set;
}
