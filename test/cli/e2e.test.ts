/**
 * End to end through the command line, as a user runs it: train the tiny preset a few steps on
 * generated data, predict with its checkpoint, eval the prediction, resume training.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSyntheticDataset } from '../../matting/data/synthetic-files.ts';

const BIN = join(import.meta.dirname, '..', '..', 'cli', 'bin.js');

function cli(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 240_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'matting-e2e-'));
const data = join(dir, 'data');
const run = join(dir, 'run');
const small = ['--input-size', '32', '--width', '0.03125', '--batch-size', '2', '--workers', '0'];

describe('matting-engine CLI, end to end', () => {
  beforeAll(async () => {
    await generateSyntheticDataset(data, { train: 4, eval: 2, size: 64, seed: 5 });
  });

  it('trains, predicts, evaluates and resumes', () => {
    const t = cli('train', '--data', join(data, 'train'), ...small, '--steps', '4', '--log-every', '2', '--checkpoint-every', '2', '--out', run);
    // stderr holds only the progress (plain lines: not a terminal), no warnings or errors
    expect(t.stderr.trim().split('\n').every((l) => /^step \d+\/4 \[/.test(l)), t.stderr).toBe(true);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/done at step 4/);
    const ckpt = join(run, 'last.safetensors');
    expect(existsSync(ckpt)).toBe(true);
    expect(readFileSync(join(run, 'loss.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<path/);
    const log = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; total: number });
    expect(log.map((r) => r.step)).toEqual([2, 4]);
    expect(log.every((r) => Number.isFinite(r.total) && r.total > 0)).toBe(true);

    const pred = join(dir, 'pred');
    const p = cli('predict', '--model', ckpt, '--image', join(data, 'eval', 'image'), '--trimap', join(data, 'eval', 'trimap'), '--out', pred, '--cutout');
    expect(p.stderr).not.toMatch(/warning|error/i);
    expect(p.code).toBe(0);
    const files = readdirSync(pred).sort();
    expect(files.filter((f) => f.endsWith('.cutout.png'))).toHaveLength(2);
    expect(files.filter((f) => !f.endsWith('.cutout.png'))).toHaveLength(2);

    const e = cli('eval', '--pred', pred, '--data', join(data, 'eval'), '--json');
    expect(e.code).toBe(0);
    const scores = JSON.parse(e.stdout) as { images: { sad: number }[]; mean: { sad: number; mse: number; grad: number; conn: number } };
    expect(scores.images).toHaveLength(2);
    for (const v of Object.values(scores.mean)) expect(Number.isFinite(v)).toBe(true);
    // the model scored directly gives the same numbers as its saved predictions
    const m = cli('eval', '--model', ckpt, '--data', join(data, 'eval'), '--json');
    expect(m.code).toBe(0);
    expect((JSON.parse(m.stdout) as typeof scores).mean.sad).toBeCloseTo(scores.mean.sad, 6);

    const r = cli('train', '--data', join(data, 'train'), ...small, '--steps', '6', '--log-every', '2', '--resume', ckpt);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/starting at step 4/);
    const log2 = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number });
    expect(log2.map((x) => x.step)).toEqual([2, 4, 6]);
  });

  it('bad arguments and files get one clear line and exit code 2, no stack trace', () => {
    const cases: [string[], RegExp][] = [
      [['train', '--bogus'], /unknown option '--bogus'/],
      [['train', '--batch-size', 'x'], /--batch-size needs a number/],
      [['train', '--stage', 'nope'], /--stage must be one of/],
      [['train', '--input-size', '100'], /multiple of 32/],
      [['train', '--data', join(dir, 'missing')], /no such file or folder/],
      [['predict', '--model', join(dir, 'none.safetensors'), '--image', 'a', '--trimap', 'b', '--out', 'c'], /no such file/],
      [['eval', '--data', join(data, 'eval'), '--pred', data, '--baseline'], /at most one of/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['info', '--backend', 'foo'], /unknown backend 'foo'.*available: auto, vulkan/],
    ];
    for (const [args, re] of cases) {
      const r = cli(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr, args.join(' ')).toMatch(re);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('--help tells the options of each command', () => {
    for (const verb of ['train', 'predict', 'eval', 'info']) {
      const r = cli(verb, '--help');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`matting-engine ${verb}`));
      expect(r.stdout).toMatch(/--backend/);
    }
    expect(cli('--help').stdout).toMatch(/train[\s\S]*predict[\s\S]*eval/);
  });
});
