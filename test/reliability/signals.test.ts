/**
 * Issue 15 items 3 and 13: SIGINT, SIGTERM and SIGHUP during `train` (through the `matting-engine`
 * wrapper, as a user runs it) write the checkpoint of the step reached; kill -9 of the wrapper
 * stops the trainer the same way instead of leaving it running as an orphan.
 * Before the fix (seen failing): the stop flag set while the loss readback waited came after the
 * checkpoint decision, so with default cadences the checkpoint was usually missing; SIGHUP killed
 * the process without one; the orphan trained on.
 */
import { describe, expect, it } from 'vitest';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { useEngine } from '../helpers/gpu.ts';
import { loadCheckpoint, disposeCheckpoint } from '../../matting/checkpoint.ts';
import { tmp } from './helpers.ts';

useEngine();

const BIN = join(import.meta.dirname, '..', '..', 'cli', 'bin.js');
// Log every step (each log waits on a readback, where the signal tends to land: the old race), checkpoint rarely.
const ARGS = ['train', '--input-size', '32', '--width', '0.03125', '--batch-size', '1', '--workers', '0', '--synthetic-count', '4', '--steps', '100000', '--log-every', '1', '--checkpoint-every', '100000', '--json'];

interface Run {
  pid: number;
  done: Promise<{ code: number | null; events: { type: string; step?: number; reason?: string }[] }>;
  logged: Promise<void>;
}

function start(out: string): Run {
  const child = spawn(process.execPath, [BIN, ...ARGS, '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  let onLog: () => void;
  const logged = new Promise<void>((r) => (onLog = r));
  child.stdout.on('data', (d: Buffer) => {
    text += d.toString();
    if (/"type":"log"/.test(text)) onLog();
  });
  child.stderr.resume();
  const done = new Promise<{ code: number | null; events: { type: string; step?: number }[] }>((resolve) =>
    child.on('exit', (code) => resolve({ code, events: text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)) })),
  );
  return { pid: child.pid!, done, logged };
}

async function checkpointStep(path: string): Promise<number> {
  const c = await loadCheckpoint(path);
  const s = c.training!.step;
  disposeCheckpoint(c);
  return s;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('signals during train', () => {
  for (const [sig, delay] of [['SIGINT', 0], ['SIGTERM', 150], ['SIGHUP', 60]] as const) {
    it(`${sig} writes the checkpoint of the step reached`, async () => {
      const out = tmp('sig');
      const r = start(out);
      await r.logged;
      await new Promise((res) => setTimeout(res, delay));
      process.kill(r.pid, sig);
      const { code, events } = await r.done;
      const done = events.find((e) => e.type === 'done');
      expect(done, JSON.stringify(events.slice(-3))).toMatchObject({ reason: 'interrupted' });
      expect(code).toBe(130);
      const ckpt = join(out, 'last.safetensors');
      expect(existsSync(ckpt)).toBe(true);
      expect(await checkpointStep(ckpt)).toBe(done!.step);
    });
  }

  it('kill -9 of the wrapper stops the trainer with a checkpoint instead of orphaning it', async () => {
    const out = tmp('orphan');
    const r = start(out);
    await r.logged;
    const trainer = Number(execFileSync('pgrep', ['-P', String(r.pid)], { encoding: 'utf8' }).trim().split('\n')[0]);
    expect(trainer).toBeGreaterThan(0);
    process.kill(r.pid, 'SIGKILL');
    await r.done;
    const t0 = Date.now();
    while (alive(trainer) && Date.now() - t0 < 20_000) await new Promise((res) => setTimeout(res, 100));
    const orphaned = alive(trainer);
    if (orphaned) process.kill(trainer, 'SIGKILL');
    expect(orphaned).toBe(false);
    const ckpt = join(out, 'last.safetensors');
    expect(existsSync(ckpt)).toBe(true);
    expect(await checkpointStep(ckpt)).toBeGreaterThan(0);
  });
});
