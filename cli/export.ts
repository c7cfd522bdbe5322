/**
 * `matting-engine export`: a checkpoint reduced to what inference needs (model tensors, config),
 * for shipping: no optimiser state, optionally a new inference scale, and a free-text recipe note
 * in the metadata (`recipe`), e.g. the commands that trained it.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs, helpText, UsageError } from './args.ts';
import { DEVICE_OPTIONS } from './common-options.ts';
import { initEngine, shutdownEngine } from '../engine/engine.ts';
import { loadCheckpoint, disposeCheckpoint, saveCheckpoint } from '../matting/checkpoint.ts';
import { MattingModel } from '../matting/graph/model.ts';
import { makeConfig } from '../matting/graph/config.ts';

const SPEC = {
  model: { type: 'string', arg: '<file>', help: 'checkpoint written by train (required)' },
  out: { type: 'string', arg: '<file>', help: 'output safetensors file (required; never the input)' },
  inferenceScale: { type: 'number', arg: '<x>', min: 0, minExclusive: true, help: 'store this inference scale in the config (default: keep the checkpoint\'s)' },
  dropRefine: { type: 'boolean', help: "leave out the refinement (e.g. one that was never trained): the model's output is then the raw alpha" },
  flip: { type: 'string', arg: '<on|off>', help: "store the default of mirror averaging at inference: on or off (default: keep the checkpoint's)" },
  recipe: { type: 'string', arg: '<text>', help: 'text stored as the "recipe" metadata entry (how the model was trained)' },
  ...DEVICE_OPTIONS,
} as const;

export async function exportCommand(argv: string[]): Promise<number> {
  const o = parseArgs(argv, SPEC, 'export');
  if (o.help) {
    process.stdout.write(helpText('export', 'Writes a checkpoint without its optimiser state (a third of the size), for shipping or inference.', SPEC, '--model CKPT --out FILE'));
    return 0;
  }
  if (!o.model || !o.out) throw new UsageError('export: --model CKPT and --out FILE are required');
  if (!existsSync(o.model)) throw new UsageError(`export: --model ${o.model}: no such file`);
  if (resolve(o.model) === resolve(o.out)) throw new UsageError('export: --out must differ from --model (the checkpoint is never overwritten)');
  if (existsSync(o.out) && statSync(o.out).isDirectory()) throw new UsageError(`export: --out ${o.out} is a folder; give a file name`);
  await initEngine({ backend: o.backend, adapter: o.adapter });
  try {
    const ckpt = await loadCheckpoint(o.model);
    let config = ckpt.config;
    try {
      if (o.inferenceScale !== undefined) config = makeConfig({ ...config, inferenceScale: o.inferenceScale as number });
      if (o.dropRefine) config = makeConfig({ ...config, refine: 'none' });
      if (o.flip !== undefined) {
        if (o.flip !== 'on' && o.flip !== 'off') throw new Error(`--flip must be on or off, got '${o.flip}'`);
        config = makeConfig({ ...config, inferenceFlip: o.flip === 'on' });
      }
    } catch (e) {
      disposeCheckpoint(ckpt);
      throw new UsageError(`export: ${(e as Error).message}`);
    }
    const model = new MattingModel(config);
    try {
      const state = o.dropRefine ? new Map([...ckpt.model].filter(([k]) => !k.startsWith('refine.'))) : ckpt.model;
      model.loadStateDict(state);
      const extra: Record<string, string> = {};
      if (o.recipe) extra.recipe = o.recipe;
      if (ckpt.training) extra.trainedSteps = String(ckpt.training.step);
      await saveCheckpoint(o.out, model, null, null, extra);
    } finally {
      disposeCheckpoint(ckpt);
      model.dispose();
    }
    process.stdout.write(`export: wrote ${o.out} (${(statSync(o.out).size / 1e6).toFixed(1)} MB, ${config.encoder}/${config.decoder}/${config.refine}, inference scale ${config.inferenceScale}, mirror averaging ${config.inferenceFlip ? 'on' : 'off'})\n`);
    return 0;
  } finally {
    shutdownEngine();
  }
}
