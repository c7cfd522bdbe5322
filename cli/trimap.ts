/** `matting-engine trimap`: trimaps from binary masks or rough/soft alphas (CPU only; no GPU is started). */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, helpText, wantsHelp, UsageError, type OptionSpec } from './args.ts';
import { Reporter, outputMode } from './progress.ts';
import { listFolder, isFolder, resolveOutput, writeGreyFile, maskValues, summary, type Skipped } from './batch-files.ts';
import { readImage } from '../matting/data/image-io.ts';
import { DataError } from '../matting/data/errors.ts';
import { trimapFromMask, bandPixels, trimapRegions, DEFAULT_BAND_FRACTION, MIN_BAND, type TrimapFromMaskOptions } from '../matting/trimap-from-mask.ts';

export const BAND_OPTIONS = {
  band: { type: 'string', arg: '<px|N%>', help: "width of the unknown band around the mask's edge: pixels (20) or a share of the image's shorter side (3%)", defaultText: `${DEFAULT_BAND_FRACTION * 100}%, at least ${MIN_BAND} px` },
  threshold: { type: 'number', default: 0.5, arg: '<0..1>', min: 0, help: 'mask values at or above this are foreground' },
  soft: { type: 'boolean', default: true, help: "mask values between 5% and 95% (a soft alpha's uncertain pixels) are unknown too" },
} as const satisfies OptionSpec;

const SPEC = {
  mask: { type: 'string', arg: '<file|dir>', help: 'binary mask, rough or soft alpha (grey PNG/JPEG, or the alpha of an RGBA cut-out), or a folder of them (required)' },
  out: { type: 'string', arg: '<file|dir>', help: 'trimap file (.png), or a folder for a folder of masks (required)' },
  ...BAND_OPTIONS,
  inner: { type: 'number', arg: '<px>', min: 0, help: "unknown pixels inside the mask's edge (overrides the split of --band)" },
  outer: { type: 'number', arg: '<px>', min: 0, help: "unknown pixels outside the mask's edge (overrides the split of --band)" },
  failFast: { type: 'boolean', help: 'stop at the first unreadable mask of a folder (default: skip it and go on)' },
  json: { type: 'boolean', help: 'print JSON lines' },
  quiet: { type: 'boolean', help: 'print only errors' },
  debug: { type: 'boolean', help: 'print stack traces on errors' },
  help: { type: 'boolean', help: 'show this help', alias: 'h' },
} as const satisfies OptionSpec;

/** Parses `--band 20` (pixels) or `--band 3%` (of the shorter side) into options of trimapFromMask. */
export function parseBand(verb: string, band: string | undefined): Pick<TrimapFromMaskOptions, 'band' | 'bandFraction'> {
  if (band === undefined) return {};
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*(px)?\s*$/.exec(band);
  if (!m || (m[2] && m[3])) throw new UsageError(`${verb}: --band takes pixels (20) or a percentage of the shorter side (3%), got '${band}'`);
  const v = Number(m[1]);
  if (m[2]) {
    if (v > 100) throw new UsageError(`${verb}: --band ${band}: a percentage is at most 100%`);
    return { bandFraction: v / 100 };
  }
  return { band: v };
}

export async function trimapCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(
      helpText(
        'trimap',
        'Makes trimaps (0 background, 128 unknown, 255 foreground) from masks: the mask is split at --threshold, and the pixels\n' +
          "within the band around its edge (Euclidean distance, floor(band/2) inside and ceil(band/2) outside) become unknown.\n" +
          'Then: matting-engine predict --image IMG --trimap TRIMAP --out ALPHA (or predict --mask MASK, which does this on the fly).',
        SPEC,
        '[options] MASK OUT',
      ),
    );
    return 0;
  }
  const o = parseArgs(argv, SPEC, 'trimap', { positionals: ['mask', 'out'] });
  for (const k of ['mask', 'out'] as const) if (!o[k]) throw new UsageError(`trimap: --${k} is required (see 'matting-engine trimap --help')`);
  const mask = o.mask!, out = o.out!;
  if (!existsSync(mask)) throw new UsageError(`trimap: --mask ${mask}: no such file or folder`);
  if (o.threshold > 1) throw new UsageError(`trimap: --threshold must be in 0..1, got ${o.threshold}`);
  if (/\.jpe?g$/i.test(out)) throw new UsageError(`trimap: --out ${out}: JPEG would blur the exact 0/128/255 values; write a .png`);
  const band = parseBand('trimap', o.band);
  const folder = isFolder(mask);
  const listing = folder ? listFolder(mask) : { files: [mask], skipped: [] as Skipped[] };
  if (folder && !listing.files.length) throw new UsageError(`trimap: ${mask} holds no .png/.jpg masks${listing.skipped.length ? ` (skipped: ${listing.skipped.map((s) => `${s.file} (${s.reason})`).join(', ')})` : ''}`);
  const jobs = listing.files.map((f) => {
    const input = folder ? join(mask, f) : f;
    return { input, name: folder ? f : input, out: resolveOutput('trimap', out, input, folder) };
  });
  const rep = new Reporter(outputMode({ json: !!o.json, quiet: !!o.quiet }));
  const skipped = [...listing.skipped];
  for (const s of skipped) rep.warn(`skipped ${s.file}: ${s.reason}`);
  let wrote = 0;
  for (const [i, job] of jobs.entries()) {
    if (folder) rep.progress(i, jobs.length, job.name);
    let img;
    try {
      img = readImage(job.input);
    } catch (e) {
      if (!(e instanceof DataError) || !folder || o.failFast) throw e;
      skipped.push({ file: job.name, reason: e.problem });
      rep.warn(`skipped ${e.message}`);
      continue;
    }
    const opts: TrimapFromMaskOptions = { ...band, threshold: o.threshold, soft: o.soft };
    if (o.inner !== undefined) opts.inner = o.inner;
    if (o.outer !== undefined) opts.outer = o.outer;
    const t = trimapFromMask(maskValues(img), img.width, img.height, opts);
    writeGreyFile(job.out, img.width, img.height, t);
    wrote++;
    const r = trimapRegions(t);
    const whole = bandPixels(img.width, img.height, opts);
    const px = (opts.inner ?? Math.floor(whole / 2)) + (opts.outer ?? Math.ceil(whole / 2));
    rep.json({ type: 'trimap', mask: job.input, out: job.out, width: img.width, height: img.height, band: px, ...r });
    if (!folder) rep.line(`trimap ${job.out}: ${img.width}x${img.height}, band ${px} px; ${pct(r.fg, t.length)} foreground, ${pct(r.unknown, t.length)} unknown, ${pct(r.bg, t.length)} background`);
  }
  if (folder) rep.progress(jobs.length, jobs.length, 'done');
  if (folder) rep.line(summary(wrote, 'trimap', out, skipped));
  return skipped.length > listing.skipped.length ? 1 : 0;
}

const pct = (n: number, total: number) => `${((100 * n) / total).toFixed(1)}%`;
