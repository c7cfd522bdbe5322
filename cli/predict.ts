/** `matting-engine predict`: alpha mattes (and optional RGBA cut-outs) for one image or a folder. */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join, dirname } from 'node:path';
import { parseArgs, helpText, UsageError } from './args.ts';
import { DEVICE_OPTIONS } from './common-options.ts';
import { Reporter, outputMode, bar } from './progress.ts';
import { modelFromCheckpoint, toPlanar } from './model-io.ts';
import { initEngine, shutdownEngine } from '../engine/engine.ts';
import { readImage, readGrey, writePng, IMAGE_EXTENSIONS } from '../matting/data/image-io.ts';
import { normaliseTrimap } from '../matting/data/trimap.ts';
import { predictAlpha } from '../matting/inference.ts';
import { resolveModelPath } from '../matting/default-model.ts';
import { closedFormPlanar, cutoutRgba } from '../matting/classical/planar.ts';

const SPEC = {
  method: { type: 'string', default: 'dim', help: 'dim: the trained network; closed-form: Levin et al. closed-form matting on the GPU (no model)' },
  model: { type: 'string', help: 'with --method dim: checkpoint written by train (default: the shipped model, models/default.safetensors)' },
  flip: { type: 'string', help: "average with the prediction of the mirrored image: on or off (default: the model's setting)" },
  scale: { type: 'number', help: "resize the image by this factor for the network (default: the model's inference scale)" },
  image: { type: 'string', help: 'image file, or a folder of images (required)' },
  trimap: { type: 'string', help: 'trimap file, or a folder with trimaps of the same names (required)' },
  out: { type: 'string', help: 'output PNG, or a folder when --image is a folder (required)' },
  cutout: { type: 'boolean', help: 'also write <name>.cutout.png: RGBA with the estimated foreground colours (multi-level foreground estimation) and the alpha as transparency' },
  stage: { type: 'string', default: 'refined', help: 'which alpha: refined (stage 2, when the model has one) or raw (stage 1)' },
  tile: { type: 'number', default: 1024, help: 'images with a side larger than this are processed in overlapping tiles (multiple of 32; 0 = never)' },
  tileOverlap: { type: 'number', default: 64, help: 'tile overlap in pixels' },
  noPostProcess: { type: 'boolean', help: "keep the network's values in the trimap's known regions" },
  json: { type: 'boolean', help: 'print JSON lines' },
  quiet: { type: 'boolean', help: 'print only errors' },
  ...DEVICE_OPTIONS,
} as const;

function pairs(image: string, trimap: string, out: string): { image: string; trimap: string; out: string; name: string }[] {
  if (!existsSync(image)) throw new UsageError(`predict: --image ${image}: no such file or folder`);
  if (!existsSync(trimap)) throw new UsageError(`predict: --trimap ${trimap}: no such file or folder`);
  if (!statSync(image).isDirectory()) {
    if (statSync(trimap).isDirectory()) throw new UsageError('predict: --image is a file but --trimap is a folder');
    return [{ image, trimap, out, name: basename(image) }];
  }
  if (!statSync(trimap).isDirectory()) throw new UsageError('predict: --image is a folder, so --trimap must be a folder too');
  const stem = (f: string) => basename(f, extname(f));
  const trimaps = new Map(readdirSync(trimap).filter((f) => IMAGE_EXTENSIONS.includes(extname(f).toLowerCase())).map((f) => [stem(f), join(trimap, f)]));
  const images = readdirSync(image).filter((f) => IMAGE_EXTENSIONS.includes(extname(f).toLowerCase())).sort();
  if (!images.length) throw new UsageError(`predict: ${image} holds no .png/.jpg images`);
  const missing = images.filter((f) => !trimaps.has(stem(f)));
  if (missing.length) throw new UsageError(`predict: no trimap in ${trimap} for ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`);
  return images.map((f) => ({ image: join(image, f), trimap: trimaps.get(stem(f))!, out: join(out, `${stem(f)}.png`), name: f }));
}

export async function predictCommand(argv: string[]): Promise<number> {
  const o = parseArgs(argv, SPEC, 'predict');
  if (o.help) {
    process.stdout.write(helpText('predict', 'Predicts alpha mattes with a trained checkpoint, on any image size (padded to a multiple of 32, tiled when large).', SPEC));
    return 0;
  }
  for (const k of ['image', 'trimap', 'out'] as const) if (!o[k]) throw new UsageError(`predict: --${k} is required (see 'matting-engine predict --help')`);
  if (o.method !== 'dim' && o.method !== 'closed-form') throw new UsageError(`predict: --method must be dim or closed-form, got '${o.method}'`);
  const classical = o.method === 'closed-form';
  if (classical && o.model) throw new UsageError('predict: --method closed-form takes no --model');
  if (o.model && !existsSync(o.model)) throw new UsageError(`predict: --model ${o.model}: no such file`);
  if (o.flip !== undefined && o.flip !== 'on' && o.flip !== 'off') throw new UsageError(`predict: --flip must be on or off, got '${o.flip}'`);
  if (o.scale !== undefined && !(o.scale > 0 && o.scale <= 4)) throw new UsageError(`predict: --scale must be in (0, 4], got ${o.scale}`);
  let modelPath: string | null = null;
  try {
    if (!classical) modelPath = resolveModelPath(o.model);
  } catch (e) {
    throw new UsageError(`predict: ${(e as Error).message}`);
  }
  if (o.stage !== 'refined' && o.stage !== 'raw') throw new UsageError('predict: --stage must be refined or raw');
  const tile = o.tile as number;
  if (tile !== 0 && (tile % 32 !== 0 || tile < 64)) throw new UsageError('predict: --tile must be 0 or a multiple of 32, at least 64');
  const jobs = pairs(o.image!, o.trimap!, o.out!);
  const rep = new Reporter(outputMode({ json: !!o.json, quiet: !!o.quiet }));
  await initEngine({ backend: o.backend, adapter: o.adapter });
  try {
    const model = modelPath ? await modelFromCheckpoint(modelPath) : null;
    for (const [i, job] of jobs.entries()) {
      const img = readImage(job.image);
      const tri = readGrey(job.trimap);
      if (img.width !== tri.width || img.height !== tri.height) {
        throw new UsageError(`predict: ${job.image} is ${img.width}x${img.height} but its trimap ${job.trimap} is ${tri.width}x${tri.height}`);
      }
      const trimap = normaliseTrimap(tri.data, { file: job.trimap }).trimap;
      rep.status(`${bar(i, jobs.length)} ${i + 1}/${jobs.length} ${job.name} (${img.width}x${img.height})`);
      const planar = { width: img.width, height: img.height, data: toPlanar(img, 3) };
      const tri01 = { width: img.width, height: img.height, data: trimap };
      const alpha = model
        ? await predictAlpha(model, planar, tri01, {
            stage: o.stage as 'refined' | 'raw', tileSize: tile, tileOverlap: o.tileOverlap as number, noPostProcess: !!o.noPostProcess,
            scale: o.scale as number | undefined, flip: o.flip === undefined ? undefined : o.flip === 'on',
          })
        : (await closedFormPlanar(planar, tri01)).alpha;
      mkdirSync(dirname(job.out), { recursive: true });
      const bytes = Float32Array.from(alpha, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
      writePng(job.out, { width: img.width, height: img.height, channels: 1, data: bytes });
      if (o.cutout) {
        const rgba = await cutoutRgba(planar, Float32Array.from(bytes, (v) => v / 255));
        writePng(job.out.replace(/\.png$/i, '') + '.cutout.png', { width: img.width, height: img.height, channels: 4, data: rgba });
      }
      rep.json({ type: 'prediction', image: job.image, out: job.out });
    }
    rep.endBar();
    rep.line(`wrote ${jobs.length} alpha matte${jobs.length > 1 ? 's' : ''} to ${jobs.length > 1 ? o.out : jobs[0]!.out}`);
    model?.dispose();
    return 0;
  } finally {
    shutdownEngine();
  }
}
