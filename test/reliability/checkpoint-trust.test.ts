/**
 * Issue 15 items 6, 9 and 14 (tampered training metadata): a checkpoint is untrusted input, and
 * resuming takes what it holds instead of depending on repeated flags.
 * Seen failing before the fix: config.width = 4 in a small file was used to build a 4x-wide model
 * (gigabytes) before shapes were compared; `history: 5` gave "this.history.push is not a function";
 * resuming without --seed changed every tensor; conflicting --encoder/--batch-size were accepted.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { useEngine } from '../helpers/gpu.ts';
import { loadCheckpoint, saveCheckpoint } from '../../matting/checkpoint.ts';
import { readSafetensors } from '../../engine/io/safetensors-read.ts';
import { writeSafetensors } from '../../engine/io/safetensors-write.ts';
import { MattingModel } from '../../matting/graph/model.ts';
import { Trainer, type TrainEvent } from '../../matting/train/trainer.ts';
import { ResumeConflictError } from '../../matting/train/resume.ts';
import { tmp, trainOptions, TINY } from './helpers.ts';

useEngine();

/** Rewrites a safetensors file with `edit` applied to its metadata (and optionally dropping tensors). */
async function tamper(src: string, dst: string, edit: (m: Record<string, string>) => void, drop: (name: string) => boolean = () => false) {
  const f = await readSafetensors(src);
  const meta = { ...f.metadata };
  edit(meta);
  await writeSafetensors(dst, Object.fromEntries([...f.tensors].filter(([k]) => !drop(k))), meta);
}

const losses = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; total: number });

describe('checkpoints as untrusted input', () => {
  it('a tampered config.width is refused before the model is built', async () => {
    const dir = tmp('trust');
    const model = new MattingModel(TINY);
    const good = join(dir, 'good.safetensors');
    await saveCheckpoint(good, model, null, null);
    model.dispose();
    const bad = join(dir, 'wide.safetensors');
    await tamper(good, bad, (m) => (m.config = JSON.stringify({ ...JSON.parse(m.config!), width: 4 })));
    const rss = process.memoryUsage().rss;
    const t0 = performance.now();
    await expect(loadCheckpoint(bad)).rejects.toThrow(/config does not match its tensors .*fc6\.weight has 128 output channels where width 4 gives 16384/);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(process.memoryUsage().rss - rss).toBeLessThan(100e6);
    const kind = join(dir, 'kind.safetensors');
    await tamper(good, kind, (m) => (m.config = JSON.stringify({ ...JSON.parse(m.config!), encoder: 'vgg16-4ch' })));
    await expect(loadCheckpoint(kind)).rejects.toThrow(/trimap branch does not match encoder 'vgg16-4ch'/);
  });

  it('tampered training metadata gets one message naming the field', async () => {
    const dir = tmp('trust');
    await new Trainer(trainOptions(dir, { steps: 1 }), () => {}).run();
    const bad = join(dir, 'bad.safetensors');
    await tamper(join(dir, 'last.safetensors'), bad, (m) => (m.training = JSON.stringify({ ...JSON.parse(m.training!), extra: { history: 5 } })));
    await expect(loadCheckpoint(bad)).rejects.toThrow(/bad checkpoint metadata: training\.extra\.history is not a list/);
    await tamper(join(dir, 'last.safetensors'), bad, (m) => (m.training = JSON.stringify({ ...JSON.parse(m.training!), step: -3 })));
    await expect(loadCheckpoint(bad)).rejects.toThrow(/training\.step is not a non-negative integer/);
  });

  it('resume restores the seed and batch size, so a run resumed without repeating them equals the uninterrupted run', async () => {
    const full = tmp('trust');
    const opts = { steps: 4, seed: 5, batchSize: 2, logEvery: 1, checkpointEvery: 2 };
    await new Trainer(trainOptions(full, opts), () => {}).run();
    const first = tmp('trust');
    await new Trainer(trainOptions(first, { ...opts, steps: 2 }), () => {}).run();
    const ckpt = join(tmp('trust'), 'step2.safetensors');
    copyFileSync(join(first, 'last.safetensors'), ckpt);
    const second = tmp('trust');
    // the flags a user would type: only --resume and --steps
    await new Trainer(trainOptions(second, { steps: 4, resume: ckpt, given: new Set(['resume', 'steps']) }), () => {}).run();
    expect(losses(second).map((r) => r.step)).toEqual([3, 4]);
    expect(losses(second).map((r) => r.total)).toEqual(losses(full).slice(2).map((r) => r.total));
  });

  it('conflicting flags are refused; a partial optimizer state is reported', async () => {
    const dir = tmp('trust');
    await new Trainer(trainOptions(dir, { steps: 1, seed: 5 }), () => {}).run();
    const ckpt = join(dir, 'last.safetensors');
    const resume = (over: Parameters<typeof trainOptions>[1]) => new Trainer(trainOptions(tmp('trust'), { steps: 2, resume: ckpt, ...over }), () => {}).run();
    await expect(resume({ seed: 6, given: new Set(['resume', 'seed']) })).rejects.toThrow(ResumeConflictError);
    await expect(resume({ batchSize: 3, given: new Set(['resume', 'batchSize']) })).rejects.toThrow(/--batch-size 3 \(the checkpoint was trained with 1/);
    const partial = join(dir, 'partial.safetensors');
    await tamper(ckpt, partial, () => {}, (k) => k.startsWith('optimizer.state.0.'));
    const warnings: string[] = [];
    const events: TrainEvent[] = [];
    await new Trainer(trainOptions(tmp('trust'), { steps: 2, resume: partial, given: new Set(['resume']) }), (e) => {
      events.push(e);
      if (e.type === 'warning') warnings.push(e.message);
    }).run();
    expect(warnings.join('\n')).toMatch(/no optimizer state for 1 parameter/);
    // through the command line: one line, exit code 2
    const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', '..', 'cli', 'bin.js'), 'train', '--resume', ckpt, '--encoder', 'resnet50-dual', '--steps', '2', '--out', tmp('trust')], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--encoder "resnet50-dual" \(the checkpoint's model has "vgg16-dual"\)/);
    expect(r.status).toBe(2);
  });
});
