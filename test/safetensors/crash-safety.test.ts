import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  SafetensorsError,
  f32Entry,
  i64Entry,
  readSafetensors,
  removeStaleTempFiles,
  writeSafetensors,
} from '../../engine/io/safetensors.ts';
import { useTempDir, writeBytes } from './helpers.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url));

const tmp = useTempDir();

async function writeOriginal(path: string): Promise<Buffer> {
  await writeSafetensors(
    path,
    new Map([
      ['w', f32Entry([2, 2], new Float32Array([1, 2, 3, 4]))],
      ['step', i64Entry([], new BigInt64Array([42n]))],
    ]),
    { epoch: '7' },
  );
  return readFile(path);
}

interface Child {
  proc: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor: (line: string) => Promise<void>;
  output: () => string;
}

function startChild(target: string, mode: 'pause' | 'free', megabytes: number): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, target, mode, String(megabytes)], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters: { line: string; resolve: () => void }[] = [];
  const check = (): void => {
    for (const w of [...waiters]) {
      if (out.split('\n').includes(w.line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    check();
  });
  proc.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const waitFor = (line: string): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      waiters.push({ line, resolve });
      check();
      void exited.then(({ code, signal }) =>
        reject(new Error(`child exited (code ${code}, signal ${signal}) before "${line}":\n${out}`)),
      );
    });
  return { proc, exited, waitFor, output: () => out };
}

async function tempFilesFor(target: string): Promise<string[]> {
  const base = target.slice(tmp.dir.length + 1);
  return (await readdir(tmp.dir)).filter((n) => n.startsWith(`${base}.tmp-`)).map((n) => join(tmp.dir, n));
}

describe('crash safety (child process SIGKILLed mid-write)', () => {
  it('deterministic kill in the middle of the data keeps the old checkpoint intact', async () => {
    const target = join(tmp.dir, 'ckpt-pause.safetensors');
    const original = await writeOriginal(target);

    const child = startChild(target, 'pause', 32);
    await child.waitFor('MID-WRITE');
    // The temp file exists, next to the target, and is partially written.
    const temps = await tempFilesFor(target);
    expect(temps).toHaveLength(1);
    expect(temps[0]).toMatch(new RegExp(`\\.tmp-${child.proc.pid}-[0-9a-f]{12}$`));
    const partial = (await stat(temps[0]!)).size;
    expect(partial).toBeGreaterThan(8 * 1024 * 1024);
    expect(partial).toBeLessThan(32 * 1024 * 1024);

    child.proc.kill('SIGKILL');
    expect(await child.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(child.output()).not.toContain('DONE');

    // The checkpoint is byte-for-byte the old one and reads fine.
    expect(Buffer.compare(await readFile(target), original)).toBe(0);
    const { metadata, tensors } = await readSafetensors(target);
    expect({ ...metadata }).toEqual({ epoch: '7' });
    expect([...tensors.keys()]).toEqual(['w', 'step']);

    // The leftover temp file is not a valid checkpoint: the reader rejects it (truncated).
    await expect(readSafetensors(temps[0]!)).rejects.toThrow(SafetensorsError);
    await expect(readSafetensors(temps[0]!)).rejects.toThrow(/beyond the data section .*file truncated/);

    // A later write ignores and does not collide with the leftover; stale temps can be removed.
    await writeSafetensors(target, { w: f32Entry([1], new Float32Array([9])) });
    expect([...toArray((await readSafetensors(target)).tensors.get('w')!.data)]).toEqual([...toArray(new Uint8Array(new Float32Array([9]).buffer))]);
    expect(await removeStaleTempFiles(target)).toEqual(temps);
    expect(await tempFilesFor(target)).toEqual([]);
  });

  it('a kill at full speed during a 200 MB write keeps the old checkpoint intact', async () => {
    const target = join(tmp.dir, 'ckpt-free.safetensors');
    const original = await writeOriginal(target);

    const child = startChild(target, 'free', 200);
    await child.waitFor('STARTED');
    // Kill as soon as the temp file has received data.
    let seen: string | undefined;
    const deadline = Date.now() + 30_000;
    while (seen === undefined && Date.now() < deadline) {
      for (const t of await tempFilesFor(target)) {
        const size = await stat(t).then((s) => s.size, () => 0);
        if (size > 0) seen = t;
      }
      if (seen === undefined) await new Promise((r) => setImmediate(r));
    }
    child.proc.kill('SIGKILL');
    const exit = await child.exited;
    expect(seen, `temp file never appeared:\n${child.output()}`).toBeDefined();
    expect(exit.signal, child.output()).toBe('SIGKILL');
    expect(child.output()).not.toContain('DONE');
    const leftover = await stat(seen!);
    expect(leftover.size).toBeLessThan(200 * 1024 * 1024);

    expect(Buffer.compare(await readFile(target), original)).toBe(0);
    expect([...(await readSafetensors(target)).tensors.keys()]).toEqual(['w', 'step']);
    await expect(readSafetensors(seen!)).rejects.toThrow(SafetensorsError);
    expect(await removeStaleTempFiles(target)).toEqual([seen]);
  });

  it('an uninterrupted child write replaces the checkpoint completely', async () => {
    const target = join(tmp.dir, 'ckpt-done.safetensors');
    await writeOriginal(target);
    const child = startChild(target, 'free', 8);
    const exit = await child.exited;
    expect(exit, child.output()).toEqual({ code: 0, signal: null });
    const { metadata, tensors } = await readSafetensors(target);
    expect({ ...metadata }).toEqual({ writer: 'crash-child' });
    expect(tensors.size).toBe(2);
    expect(await tempFilesFor(target)).toEqual([]);
  });

  it('removeStaleTempFiles keeps temp files of live processes and unrelated files', async () => {
    const target = join(tmp.dir, 'ckpt-live.safetensors');
    await writeOriginal(target);
    const mine = await writeBytes(tmp.dir, `ckpt-live.safetensors.tmp-${process.pid}-0123456789ab`, new Uint8Array(3));
    const unrelated = await writeBytes(tmp.dir, 'ckpt-live.safetensors.tmp-notes', new Uint8Array(3));
    expect(await removeStaleTempFiles(target)).toEqual([]);
    await stat(mine);
    await stat(unrelated);
  });
});

function toArray(b: Uint8Array): number[] {
  return [...b];
}
