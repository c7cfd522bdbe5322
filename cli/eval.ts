/**
 * `matting-engine eval`: SAD, MSE, Gradient and Connectivity errors over an alphamatting.com-style
 * folder (image/, trimap/, alpha/), computed on the trimap's unknown pixels exactly as the
 * Composition-1k MATLAB code does (matting/metrics/README.md). Scores a checkpoint, a folder of
 * predicted alpha PNGs, or the trimap-only baseline (alpha = 0.5 in the unknown region).
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { parseArgs, helpText, wantsHelp, UsageError, type OptionSpec } from './args.ts';
import { checkModelFile, chooseHead, HEAD_OPTION, RENAMED_STAGE } from './model-choice.ts';
import { DEVICE_OPTIONS, IMAGE_OPTIONS, applyImageOptions } from './common-options.ts';
import { Reporter, outputMode } from './progress.ts';
import { modelFromCheckpoint } from './model-io.ts';
import { resolveModelPath } from '../matting/default-model.ts';
import { initEngine, shutdownEngine } from '../engine/engine.ts';
import { openEvalSet } from '../matting/data/eval-set.ts';
import { readGrey } from '../matting/data/image-io.ts';
import { evaluateModel, scoreImage, summarise, type EvalSummary, type ImageScore } from '../matting/evaluate.ts';
import { evaluateClosedForm } from '../matting/classical/evaluate.ts';

const SPEC = {
  data: { type: 'string', arg: '<dir>', help: 'evaluation folder with image/, trimap/, alpha/ (required)' },
  model: { type: 'string', arg: '<file>', help: 'checkpoint to evaluate (the default when neither --pred nor --baseline is given: the shipped model)' },
  flip: { type: 'string', arg: '<on|off>', choices: ['on', 'off'], help: 'average with the prediction of the mirrored image', defaultText: "the model's setting" },
  scale: { type: 'number', arg: '<x>', min: 0, minExclusive: true, help: "with --model: resize images by this factor for the network", defaultText: "the model's inference scale" },
  pred: { type: 'string', arg: '<dir>', help: 'folder of predicted alpha PNGs (any method), named like the images' },
  baseline: { type: 'boolean', help: 'score a learning-free method: --baseline (or --baseline trimap-only) alpha 0.5 in the unknown region; --baseline closed-form Levin et al. on the GPU' },
  baselineMethod: { type: 'string', arg: '<trimap-only|closed-form>', choices: ['trimap-only', 'closed-form'], help: 'with --baseline: which method (also as the word after --baseline)', defaultText: 'trimap-only' },
  trimapFolder: { type: 'string', default: 'trimap', arg: '<name>', help: 'trimap sub-folder to use (e.g. trimap2)' },
  ...HEAD_OPTION,
  tile: { type: 'number', default: 1024, arg: '<px>', integer: true, min: 0, help: 'with --model: tile size for large images (0 = never)' },
  limit: { type: 'number', arg: '<n>', integer: true, min: 0, minExclusive: true, help: 'evaluate only the first N images', defaultText: 'all' },
  jsonOut: { type: 'string', arg: '<file>', help: 'write per-image and mean scores as JSON to this file' },
  csv: { type: 'string', arg: '<file>', help: 'write per-image scores as CSV to this file' },
  json: { type: 'boolean', help: 'print JSON instead of a table' },
  quiet: { type: 'boolean', help: 'print only the mean row' },
  ...IMAGE_OPTIONS,
  ...DEVICE_OPTIONS,
} as const satisfies OptionSpec;

export function formatTable(s: EvalSummary, title: string): string {
  const head = `${'image'.padEnd(20)} ${'SAD'.padStart(9)} ${'MSE'.padStart(9)} ${'Grad'.padStart(9)} ${'Conn'.padStart(9)}`;
  const row = (name: string, r: { sad: number; mse: number; grad: number; conn: number }) =>
    `${name.padEnd(20)} ${r.sad.toFixed(3).padStart(9)} ${r.mse.toFixed(5).padStart(9)} ${r.grad.toFixed(3).padStart(9)} ${r.conn.toFixed(3).padStart(9)}`;
  return [
    title,
    'SAD in thousands (sum |p-g|/255/1000); MSE unscaled (mean ((p-g)/255)^2); Grad and Conn divided by 1000, as the benchmark reports them.',
    head,
    '-'.repeat(head.length),
    ...s.images.map((r) => row(r.name, r)),
    '-'.repeat(head.length),
    row(`mean (${s.images.length})`, s.mean),
  ].join('\n');
}

export async function evalCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(helpText('eval', 'Scores alpha mattes with the Composition-1k metrics over an alphamatting.com-style folder.\nThe table goes to stdout, progress to stderr.', SPEC));
    return 0;
  }
  const o = parseArgs(argv, SPEC, 'eval', { renamed: RENAMED_STAGE, positionals: ['baselineMethod'] });
  applyImageOptions(o, 'eval');
  if (!o.data) throw new UsageError("eval: --data is required (see 'matting-engine eval --help')");
  if (!existsSync(o.data)) throw new UsageError(`eval: --data ${o.data}: no such folder`);
  const modes = [o.model, o.pred, o.baseline || undefined].filter(Boolean).length;
  if (modes > 1) throw new UsageError('eval: give at most one of --model CKPT, --pred DIR, --baseline');
  if (o.scale !== undefined && !(o.scale > 0 && o.scale <= 4)) throw new UsageError(`eval: --scale must be in (0, 4], got ${o.scale}`);
  let modelPath = o.model;
  if (modes === 0) {
    try {
      modelPath = resolveModelPath();
    } catch (e) {
      throw new UsageError(`eval: ${(e as Error).message}`);
    }
  }
  for (const [flag, f] of [['--json-out', o.jsonOut], ['--csv', o.csv]] as const) {
    if (f && (/[\\/]$/.test(f) || (existsSync(f) && statSync(f).isDirectory()))) throw new UsageError(`eval: ${flag} ${f} is a folder; give a file name (e.g. ${join(f, flag === '--csv' ? 'scores.csv' : 'scores.json')})`);
  }
  const info = modelPath ? await checkModelFile('eval', modelPath) : null;
  const head = info ? chooseHead(o.head, info) : 'refined';
  if (o.pred && !existsSync(o.pred)) throw new UsageError(`eval: --pred ${o.pred}: no such folder`);
  if (o.baselineMethod !== undefined && !o.baseline) throw new UsageError(`eval: '${o.baselineMethod}' needs --baseline before it (eval --baseline closed-form)`);
  const baseline = o.baseline ? (o.baselineMethod ?? 'trimap-only') : undefined;
  if (baseline && baseline !== 'trimap-only' && baseline !== 'closed-form') throw new UsageError(`eval: --baseline takes trimap-only or closed-form, got '${baseline}'`);
  const rep = new Reporter(outputMode({ json: !!o.json, quiet: !!o.quiet }));
  const set = openEvalSet(o.data, { trimapFolder: o.trimapFolder as string, warn: (m) => rep.warn(m) });
  if (o.limit !== undefined && !(Number.isInteger(o.limit) && (o.limit as number) > 0)) throw new UsageError(`eval: --limit must be a positive integer, got ${o.limit}`);
  const n = Math.min(set.items.length, (o.limit as number | undefined) ?? Infinity);
  let summary: EvalSummary;
  let title: string;
  if (modelPath) {
    await initEngine({ backend: o.backend, adapter: o.adapter });
    try {
      const model = await modelFromCheckpoint(modelPath);
      title = `eval of ${modelPath} (${head} alpha) on ${o.data} (${set.trimapFolder})`;
      rep.progress(0, n, `${set.items[0]?.name ?? ''} (the first image compiles the kernels)`);
      summary = await evaluateModel(model, set, {
        limit: n,
        stage: head,
        tileSize: o.tile as number,
        scale: o.scale,
        flip: o.flip === undefined ? undefined : o.flip === 'on',
        onImage: (s, i, total) => rep.progress(i + 1, total, `${s.name}: SAD ${s.sad.toFixed(2)}`),
      });
      model.dispose();
    } finally {
      shutdownEngine();
    }
  } else if (baseline === 'closed-form') {
    await initEngine({ backend: o.backend, adapter: o.adapter });
    try {
      summary = await evaluateClosedForm(set, n, (s, i, total, r) =>
        rep.progress(i + 1, total, `${s.name}: SAD ${s.sad.toFixed(2)} (${r.iterations} CG iterations, residual ${r.relResidual.toExponential(1)})`),
      );
    } finally {
      shutdownEngine();
    }
    title = `eval of closed-form matting (Levin et al., GPU CG) on ${o.data} (${set.trimapFolder})`;
  } else {
    const images: ImageScore[] = [];
    for (let i = 0; i < n; i++) {
      const s = set.load(i);
      let pred: Float32Array;
      if (o.baseline) {
        pred = Float32Array.from(s.trimap, (t) => (t === 128 ? 0.5 : t / 255));
      } else {
        const stem = basename(s.name, extname(s.name));
        const file = [join(o.pred!, `${stem}.png`), join(o.pred!, s.name)].find((f) => existsSync(f));
        if (!file) throw new UsageError(`eval: no prediction for ${s.name} in ${o.pred} (expected ${stem}.png)`);
        const g = readGrey(file);
        if (g.width !== s.width || g.height !== s.height) throw new UsageError(`eval: ${file} is ${g.width}x${g.height}, the image is ${s.width}x${s.height}`);
        pred = Float32Array.from(g.data, (v) => v / 255);
      }
      images.push(scoreImage(s.name, pred, s));
      rep.progress(i + 1, n, s.name);
    }
    summary = summarise(images);
    title = o.baseline ? `eval of the trimap-only baseline (alpha 0.5 in the unknown region) on ${o.data} (${set.trimapFolder})` : `eval of ${o.pred} on ${o.data} (${set.trimapFolder})`;
  }
  rep.finish();
  if (o.jsonOut) writeFileSync(o.jsonOut, JSON.stringify({ title, ...summary }, null, 2) + '\n');
  if (o.csv) {
    const lines = ['image,sad,mse,grad,conn,unknown_pixels', ...summary.images.map((r) => `${r.name},${r.sad},${r.mse},${r.grad},${r.conn},${r.unknownPixels}`)];
    writeFileSync(o.csv, lines.join('\n') + '\n');
  }
  if (o.json) process.stdout.write(JSON.stringify({ title, ...summary }) + '\n');
  else if (o.quiet) process.stdout.write(`mean SAD ${summary.mean.sad.toFixed(3)} MSE ${summary.mean.mse.toFixed(5)} Grad ${summary.mean.grad.toFixed(3)} Conn ${summary.mean.conn.toFixed(3)}\n`);
  else process.stdout.write(formatTable(summary, title) + '\n');
  return 0;
}
