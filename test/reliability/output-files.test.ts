/**
 * Issue 15 items 12 and 14 (output files). Seen failing before the fix: temp checkpoint files of a
 * killed writer stayed forever (3 GB each at paper size); metrics.jsonl repeated the rows logged
 * after the checkpoint a run was resumed from; an unwritable output folder was only reported at
 * the first log or checkpoint.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useEngine } from '../helpers/gpu.ts';
import { Trainer, type TrainEvent } from '../../matting/train/trainer.ts';
import { tmp, trainOptions } from './helpers.ts';

useEngine();

const steps = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { step: number }).step);

describe('output files', () => {
  it('a checkpoint write removes temp files left by a killed writer', async () => {
    const dir = tmp('out');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    const stale = join(dir, `last.safetensors.tmp-${dead}-0123456789ab`);
    writeFileSync(stale, Buffer.alloc(1024));
    await new Trainer(trainOptions(dir, { steps: 1 }), () => {}).run();
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(join(dir, 'last.safetensors'))).toBe(true);
  });

  it('resuming from an older checkpoint into the same folder does not repeat metrics rows', async () => {
    const dir = tmp('out');
    await new Trainer(trainOptions(dir, { steps: 2 }), () => {}).run();
    const older = join(tmp('out'), 'step2.safetensors');
    copyFileSync(join(dir, 'last.safetensors'), older);
    await new Trainer(trainOptions(dir, { steps: 4, resume: join(dir, 'last.safetensors') }), () => {}).run();
    expect(steps(dir)).toEqual([1, 2, 3, 4]);
    await new Trainer(trainOptions(dir, { steps: 4, resume: older }), () => {}).run();
    expect(steps(dir)).toEqual([1, 2, 3, 4]);
  });

  it('an existing output folder that cannot be written is reported before the first step, by name', async () => {
    const events: TrainEvent[] = [];
    const t0 = performance.now();
    await expect(new Trainer(trainOptions('/proc/self', { steps: 1 }), (e) => events.push(e)).run()).rejects.toThrow(/cannot write to the output folder \/proc\/self/);
    expect(events.filter((e) => e.type === 'start')).toEqual([]);
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});
