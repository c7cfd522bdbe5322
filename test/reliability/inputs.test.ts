/**
 * Issue 15 items 11 and 14 (arguments): a corrupt --val-data file no longer ends training before
 * that step's checkpoint; bad train arguments are refused before the GPU starts; a limit of 0
 * images is not a perfect score. Seen failing before the fix: the corrupt file threw out of the
 * run with no checkpoint on disk; --warmup -5, --workers -3/1000, --seed 1.5, --val-limit 0 were
 * accepted by the argument check; evaluation of 0 images returned SAD 0.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useEngine } from '../helpers/gpu.ts';
import { Trainer } from '../../matting/train/trainer.ts';
import { loadCheckpoint, disposeCheckpoint } from '../../matting/checkpoint.ts';
import { generateSyntheticDataset } from '../../matting/data/synthetic-files.ts';
import { openEvalSet } from '../../matting/data/eval-set.ts';
import { evaluateModel, summarise } from '../../matting/evaluate.ts';
import { MattingModel } from '../../matting/graph/model.ts';
import { buildTrainOptions } from '../../cli/train.ts';
import { UsageError } from '../../cli/args.ts';
import { tmp, trainOptions, TINY } from './helpers.ts';

useEngine();

describe('bad inputs never cost a run', () => {
  it('a corrupt validation image: a warning, training goes on, every checkpoint is written', async () => {
    const dir = tmp('val');
    generateSyntheticDataset(dir, { train: 0, eval: 2, size: 32, seed: 4 });
    const images = join(dir, 'eval', 'image');
    // a sound header (the set opens) but the pixel data cut short: found only when validation decodes it
    const victim = join(images, readdirSync(images)[1]!);
    const bytes = readFileSync(victim);
    writeFileSync(victim, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const out = tmp('val');
    const warnings: string[] = [];
    const r = await new Trainer(trainOptions(out, { steps: 3, valDir: join(dir, 'eval'), valEvery: 2, valLimit: 2, checkpointEvery: 2 }), (e) => {
      if (e.type === 'warning') warnings.push(e.message);
    }).run();
    expect(r.step).toBe(3);
    expect(warnings.join('\n')).toMatch(/validation at step 2 failed: .*corrupt or truncated PNG/);
    const ck = await loadCheckpoint(join(out, 'last.safetensors'));
    expect(ck.training!.step).toBe(3);
    disposeCheckpoint(ck);
  });

  it('train refuses bad numbers before anything starts', async () => {
    const bad: [string[], RegExp][] = [
      // the wording is the one parser's (cli/args.ts); each names the flag and what it must be
      [['--warmup', '-5'], /--warmup must be .*got -5/],
      [['--warmup', '1.5'], /--warmup must be .*integer.*got 1\.5/],
      [['--workers', '-3'], /--workers must be .*got -3/],
      [['--workers', '1000'], /--workers must be an integer in \[0, 64\]/],
      [['--seed', '1.5'], /--seed must be .*integer.*got 1\.5/],
      [['--weight-decay', '-1'], /--weight-decay must be .*got -1/],
      [['--val-limit', '0'], /--val-limit must be .*got 0/],
    ];
    for (const [args, re] of bad) {
      await expect(buildTrainOptions(args), args.join(' ')).rejects.toThrow(UsageError);
      await expect(buildTrainOptions(args), args.join(' ')).rejects.toThrow(re);
    }
    expect((await buildTrainOptions(['--workers', '2', '--seed', '7'])).opts.workers).toBe(2);
  });

  it('scoring zero images is an error, not a perfect score', async () => {
    const dir = tmp('val');
    generateSyntheticDataset(dir, { train: 0, eval: 1, size: 32, seed: 4 });
    const model = new MattingModel(TINY);
    await expect(evaluateModel(model, openEvalSet(join(dir, 'eval')), { limit: 0 })).rejects.toThrow(/limit must be a positive integer/);
    expect(() => summarise([])).toThrow(/no images were scored/);
    model.dispose();
    expect(existsSync(dir)).toBe(true);
  });
});
