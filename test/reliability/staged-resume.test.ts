/**
 * Issue 15 item 10: the paper's staged schedule as three commands with --resume between them
 * (encoder-decoder, then refine, then joint). Before the fix the second command failed with
 * "'state.8.step' names parameter 8, but there are 8" (optimiser state numbered over the
 * trainable parameters of the stage that wrote it). Now state is matched by parameter name and
 * frozen parameters keep theirs, so the encoder's Adam moments of stage 1 are there in stage 3.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { useEngine } from '../helpers/gpu.ts';
import { loadCheckpoint, disposeCheckpoint, type CheckpointContent } from '../../matting/checkpoint.ts';
import { tmp } from './helpers.ts';

useEngine();

const BIN = join(import.meta.dirname, '..', '..', 'cli', 'bin.js');
const SMALL = ['--input-size', '32', '--width', '0.03125', '--batch-size', '1', '--workers', '0', '--synthetic-count', '4', '--log-every', '2', '--quiet'];

function train(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, 'train', ...SMALL, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, out: r.stdout + r.stderr };
}

/** Every model tensor and every optimiser tensor keyed by parameter name, plus step counts by name. */
async function read(path: string) {
  const c: CheckpointContent = await loadCheckpoint(path);
  const names = c.training!.optimizerParams!;
  const model = new Map<string, Float32Array>();
  for (const [k, t] of c.model) model.set(k, await t.data());
  const opt = new Map<string, Float32Array>();
  for (const [k, t] of c.optimizer) {
    const m = /^state\.(\d+)\.(.+)$/.exec(k)!;
    opt.set(`${names[Number(m[1])]}:${m[2]}`, await t.data());
  }
  const steps = new Map<string, number>();
  for (const [k, n] of Object.entries(c.training!.optimizerSteps)) steps.set(names[Number(/^state\.(\d+)\./.exec(k)![1])]!, n);
  const step = c.training!.step;
  disposeCheckpoint(c);
  return { model, opt, steps, step };
}

const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('staged training through --resume', () => {
  it('encoder-decoder, then refine, then joint: each stage trains its part and keeps the others and their optimiser state', async () => {
    const dir = tmp('staged');
    const s1 = join(dir, 's1'), s2 = join(dir, 's2'), s3 = join(dir, 's3');
    const a = train('--stage', 'encoder-decoder', '--steps', '3', '--out', s1);
    expect(a.out).not.toMatch(/error|Error/);
    expect(a.code).toBe(0);
    const b = train('--stage', 'refine', '--resume', join(s1, 'last.safetensors'), '--steps', '5', '--out', s2);
    expect(b.out).not.toMatch(/names parameter|Error/);
    expect(b.code).toBe(0);
    const c = train('--stage', 'joint', '--resume', join(s2, 'last.safetensors'), '--steps', '7', '--out', s3);
    expect(c.code).toBe(0);

    const r1 = await read(join(s1, 'last.safetensors'));
    const r2 = await read(join(s2, 'last.safetensors'));
    const r3 = await read(join(s3, 'last.safetensors'));
    expect([r1.step, r2.step, r3.step]).toEqual([3, 5, 7]);
    const isRefine = (n: string) => n.startsWith('refine.');
    const params = [...r1.steps.keys(), ...r2.steps.keys()].filter((n, i, all) => all.indexOf(n) === i);
    expect(params.some(isRefine) && params.some((n) => !isRefine(n))).toBe(true);

    // stage 1: only the encoder-decoder has optimiser state; stage 2 adds the refinement's
    for (const n of r1.steps.keys()) expect(isRefine(n), n).toBe(false);
    for (const [n, k] of r1.steps) expect(k, n).toBe(3);
    for (const [n, k] of r2.steps) expect(k, n).toBe(isRefine(n) ? 2 : 3);
    // stage 2 leaves the encoder-decoder's weights and Adam moments bit-exact, and trains the refinement
    for (const [n, v] of r1.model) {
      if (n.endsWith('.weight') || n.endsWith('.bias')) expect(same(v, r2.model.get(n)!), n).toBe(!isRefine(n));
    }
    for (const [k, v] of r1.opt) expect(same(v, r2.opt.get(k)!), k).toBe(true);
    // stage 3 trains everything, each parameter continuing its own step count
    for (const [n, k] of r3.steps) expect(k, n).toBe(isRefine(n) ? 4 : 5);
    for (const [n, v] of r2.model) if (n.endsWith('.weight')) expect(same(v, r3.model.get(n)!), n).toBe(false);
  });
});
