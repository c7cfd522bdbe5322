/** `matting-engine predict`: alpha mattes (and optional RGBA cut-outs) for one image or a folder. */
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs, helpText, wantsHelp, UsageError, type OptionSpec } from './args.ts';
import { DEVICE_OPTIONS, IMAGE_OPTIONS, applyImageOptions } from './common-options.ts';
import { Reporter, outputMode } from './progress.ts';
import { toPlanar } from './model-io.ts';
import { checkModelFile, HEAD_OPTION, chooseHead, RENAMED_STAGE } from './model-choice.ts';
import { modelFromCheckpoint } from './model-io.ts';
import { resolveModelPath } from '../matting/default-model.ts';
import { closedFormPlanar, cutoutRgba } from '../matting/classical/planar.ts';
import { listFolder, isFolder, resolveOutput, writeGreyFile, maskValues, summary, stem, skipReason, type Skipped } from './batch-files.ts';
import { BAND_OPTIONS, parseBand } from './trimap.ts';
import { trimapWarning } from './trimap-check.ts';
import { initEngine, shutdownEngine } from '../engine/engine.ts';
import { readImage, readGrey, writePng, IMAGE_EXTENSIONS } from '../matting/data/image-io.ts';
import { DataError } from '../matting/data/errors.ts';
import { normaliseTrimap } from '../matting/data/trimap.ts';
import { trimapFromMask } from '../matting/trimap-from-mask.ts';
import { predictAlpha } from '../matting/inference.ts';

const SPEC = {
  method: { type: 'string', default: 'dim', arg: '<dim|closed-form>', choices: ['dim', 'closed-form'], help: 'dim: the trained network; closed-form: Levin et al. closed-form matting on the GPU (no model)' },
  model: { type: 'string', arg: '<file>', help: 'with --method dim: checkpoint written by train', defaultText: 'the shipped model, models/default.safetensors' },
  flip: { type: 'string', arg: '<on|off>', choices: ['on', 'off'], help: 'average with the prediction of the mirrored image', defaultText: "the model's setting" },
  scale: { type: 'number', arg: '<x>', min: 0, minExclusive: true, help: 'resize the image by this factor for the network', defaultText: "the model's inference scale" },
  image: { type: 'string', arg: '<file|dir>', help: 'image file, or a folder of images (required)' },
  trimap: { type: 'string', arg: '<file|dir>', help: 'trimap file, or a folder with trimaps of the same names (this or --mask)' },
  mask: { type: 'string', arg: '<file|dir>', help: 'instead of --trimap: a binary mask or rough alpha, made into a trimap as `matting-engine trimap` does' },
  ...BAND_OPTIONS,
  out: { type: 'string', arg: '<file|dir>', help: 'output .png or .jpg (or a folder) for one image; a folder when --image is a folder (required)' },
  cutout: { type: 'boolean', help: 'also write <name>.cutout.png: RGBA with the estimated foreground colours (multi-level foreground estimation) and the alpha as transparency' },
  ...HEAD_OPTION,
  tile: { type: 'number', default: 1024, arg: '<px>', integer: true, min: 0, help: 'images with a side larger than this are processed in overlapping tiles (multiple of 32; 0 = never)' },
  tileOverlap: { type: 'number', default: 64, arg: '<px>', integer: true, min: 0, help: 'tile overlap in pixels' },
  postProcess: { type: 'boolean', default: true, help: "set the trimap's known regions to 0/1 in the output (--no-post-process keeps the network's values there)" },
  failFast: { type: 'boolean', help: 'stop at the first unreadable image of a folder (default: skip it, report it, go on)' },
  json: { type: 'boolean', help: 'print JSON lines' },
  quiet: { type: 'boolean', help: 'print only errors' },
  ...IMAGE_OPTIONS,
  ...DEVICE_OPTIONS,
} as const satisfies OptionSpec;

interface Job {
  image: string;
  /** The trimap file, or the mask file with `fromMask`. */
  guide: string;
  out: string;
  name: string;
}

function pairs(image: string, guide: string, guideFlag: '--trimap' | '--mask', out: string): { jobs: Job[]; skipped: Skipped[]; missing: number } {
  if (!existsSync(image)) throw new UsageError(`predict: --image ${image}: no such file or folder`);
  if (!existsSync(guide)) throw new UsageError(`predict: ${guideFlag} ${guide}: no such file or folder`);
  if (!isFolder(image)) {
    if (isFolder(guide)) throw new UsageError(`predict: --image is a file but ${guideFlag} is a folder`);
    const why = skipReason(image);
    if (why) throw new UsageError(`predict: --image ${image}: ${why}`);
    return { jobs: [{ image, guide, out: resolveOutput('predict', out, image, false), name: image }], skipped: [], missing: 0 };
  }
  if (!isFolder(guide)) throw new UsageError(`predict: --image is a folder, so ${guideFlag} must be a folder too`);
  const guides = new Map(readdirSync(guide).filter((f) => IMAGE_EXTENSIONS.includes(f.slice(f.lastIndexOf('.')).toLowerCase())).map((f) => [stem(f), join(guide, f)]));
  const { files, skipped } = listFolder(image);
  if (!files.length) throw new UsageError(`predict: ${image} holds no .png/.jpg images${skipped.length ? ` (skipped: ${skipped.map((s) => `${s.file} (${s.reason})`).join(', ')})` : ''}`);
  const missing = files.filter((f) => !guides.has(stem(f)));
  if (missing.length === files.length) throw new UsageError(`predict: no ${guideFlag.slice(2)} in ${guide} is named like an image of ${image} (e.g. ${stem(files[0]!)}.png)`);
  for (const f of missing) skipped.push({ file: f, reason: `no ${guideFlag.slice(2)} ${stem(f)}.png in ${guide}` });
  const jobs = files.filter((f) => guides.has(stem(f))).map((f) => ({ image: join(image, f), guide: guides.get(stem(f))!, out: resolveOutput('predict', out, f, true), name: f }));
  return { jobs, skipped, missing: missing.length };
}

/** Refuses an --out (or its cut-out) that names an input: the user's photographs are never overwritten. */
function refuseOverwritingInputs(jobs: { image: string; guide: string; out: string }[], cutout: boolean): void {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  const inputs = new Set(jobs.flatMap((j) => [real(j.image), real(j.guide)]));
  for (const j of jobs) {
    for (const out of cutout ? [j.out, cutoutPath(j.out)] : [j.out]) {
      if (inputs.has(real(out))) throw new UsageError(`predict: --out would overwrite the input ${out}; choose another output file or folder`);
    }
  }
}
const cutoutPath = (out: string) => out.replace(/\.(png|jpe?g)$/i, '') + '.cutout.png';

export async function predictCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(
      helpText(
        'predict',
        'Predicts alpha mattes with a trained checkpoint, on any image size (padded to a multiple of 32, tiled when large).\n' +
          'Positional form: matting-engine predict [MODEL] IMAGE TRIMAP OUT (without MODEL: the shipped model).',
        SPEC,
        '[options] [[MODEL] IMAGE TRIMAP OUT]',
      ),
    );
    return 0;
  }
  // Four bare arguments are MODEL IMAGE TRIMAP OUT; three are IMAGE TRIMAP OUT with the default model.
  const positionals = (n: number) => (n === 3 ? ['image', 'trimap', 'out'] : ['model', 'image', 'trimap', 'out']);
  const o = parseArgs(argv, SPEC, 'predict', { positionals, renamed: RENAMED_STAGE });
  applyImageOptions(o, 'predict');
  if (o.trimap && o.mask) throw new UsageError('predict: give --trimap or --mask, not both');
  for (const k of ['image', 'out'] as const) if (!o[k]) throw new UsageError(`predict: --${k} is required (see 'matting-engine predict --help')`);
  if (!o.trimap && !o.mask) throw new UsageError("predict: --trimap (or --mask, to make one from a mask) is required (see 'matting-engine predict --help')");
  if (o.scale !== undefined && !(o.scale > 0 && o.scale <= 4)) throw new UsageError(`predict: --scale must be in (0, 4], got ${o.scale}`);
  const classical = o.method === 'closed-form';
  if (classical && o.model) throw new UsageError('predict: --method closed-form takes no --model');
  let modelPath: string | null = null;
  try {
    if (!classical) modelPath = resolveModelPath(o.model);
  } catch (e) {
    throw new UsageError(`predict: ${(e as Error).message}`);
  }
  const info = modelPath ? await checkModelFile('predict', modelPath) : null;
  const head = info ? chooseHead(o.head, info) : 'raw';
  const tile = o.tile;
  if (tile !== 0 && (tile % 32 !== 0 || tile < 64)) throw new UsageError('predict: --tile must be 0 or a multiple of 32, at least 64');
  const fromMask = !!o.mask;
  const band = parseBand('predict', o.band);
  const { jobs, skipped, missing } = pairs(o.image!, (o.mask ?? o.trimap)!, fromMask ? '--mask' : '--trimap', o.out!);
  refuseOverwritingInputs(jobs, !!o.cutout);
  const folder = isFolder(o.image!);
  const rep = new Reporter(outputMode({ json: !!o.json, quiet: !!o.quiet }));
  for (const s of skipped) rep.warn(`skipped ${s.file}: ${s.reason}`);
  await initEngine({ backend: o.backend, adapter: o.adapter });
  let wrote = 0, failed = 0;
  try {
    const model = modelPath ? await modelFromCheckpoint(modelPath) : null;
    for (const [i, job] of jobs.entries()) {
      if (folder) rep.progress(i, jobs.length, `${job.name}`);
      try {
        const img = readImage(job.image);
        const g = fromMask ? readImage(job.guide) : null;
        const tri = g ? { width: g.width, height: g.height, data: new Float32Array(0) } : readGrey(job.guide);
        if (img.width !== tri.width || img.height !== tri.height) {
          throw new DataError(job.image, `is ${img.width}x${img.height} but its ${fromMask ? 'mask' : 'trimap'} ${job.guide} is ${tri.width}x${tri.height}`);
        }
        let trimap: Float32Array;
        if (g) trimap = trimapFromMask(maskValues(g), g.width, g.height, { ...band, threshold: o.threshold, soft: o.soft });
        else {
          const n = normaliseTrimap(tri.data, { file: job.guide });
          trimap = n.trimap;
          const w = trimapWarning(job.guide, tri.data, n);
          if (w) rep.warn(w);
        }
        const planar = { width: img.width, height: img.height, data: toPlanar(img, 3) };
        const tri01 = { width: img.width, height: img.height, data: trimap };
        const alpha = model
          ? await predictAlpha(model, planar, tri01, {
              stage: head, tileSize: tile, tileOverlap: o.tileOverlap, noPostProcess: !o.postProcess, scale: o.scale, flip: o.flip === undefined ? undefined : o.flip === 'on',
            })
          : (await closedFormPlanar(planar, tri01)).alpha;
        const bytes = Float32Array.from(alpha, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
        writeGreyFile(job.out, img.width, img.height, bytes);
        if (o.cutout) {
          // RGB from the estimated foreground colours, so the old background does not bleed into soft edges.
          const rgba = await cutoutRgba(planar, Float32Array.from(bytes, (v) => v / 255));
          writePng(cutoutPath(job.out), { width: img.width, height: img.height, channels: 4, data: rgba });
        }
        wrote++;
        rep.json({ type: 'prediction', image: job.image, out: job.out, head: classical ? 'closed-form' : head });
      } catch (e) {
        if (!(e instanceof DataError) || !folder || o.failFast) throw e;
        failed++;
        skipped.push({ file: job.name, reason: e.message.startsWith(job.image) ? e.message.slice(job.image.length).replace(/^:?\s*/, '') : e.message });
        rep.warn(`skipped ${job.name}: ${e.message}`);
      }
    }
    if (folder) rep.progress(jobs.length, jobs.length, 'done');
    rep.line(folder ? summary(wrote, 'alpha matte', o.out!, skipped) : `wrote ${jobs[0]!.out} (${classical ? 'closed-form' : `${head}`} alpha)`);
    model?.dispose();
    // Unsupported formats are reported and skipped (exit 0); missing trimaps and unreadable files make it exit 1.
    return missing + failed > 0 ? 1 : 0;
  } finally {
    rep.finish();
    shutdownEngine();
  }
}
