/**
 * The CLI's stderr filter wrapper (used only where stderr is a socket, as here under a Node parent
 * with piped stdio): its child never outlives it. Killing the wrapper with SIGKILL (no chance to
 * forward anything) closes the child's IPC channel, and the child stops as on Ctrl-C.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../cli/bin.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'matting-wrapper-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(what: string, cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('CLI wrapper', () => {
  it('its child stops when the wrapper is killed (no orphaned trainer)', async () => {
    const wrapper = spawn(process.execPath, [BIN, 'train', '--steps', '1000000', '--out', join(dir, 'run')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    wrapper.stdout.on('data', (d: Buffer) => (out += d.toString()));
    wrapper.stderr.on('data', (d: Buffer) => (out += d.toString()));
    let child = 0;
    try {
      await until('the trainer to start', () => /step \d+\/|output folder/.test(out), 90_000);
      child = Number(execFileSync('pgrep', ['-P', String(wrapper.pid)], { encoding: 'utf8' }).trim().split('\n')[0]);
      expect(child).toBeGreaterThan(0);
      expect(alive(child)).toBe(true);
      wrapper.kill('SIGKILL');
      await until('the child to exit', () => !alive(child), 60_000);
    } finally {
      if (child && alive(child)) process.kill(child, 'SIGKILL');
      if (alive(wrapper.pid!)) wrapper.kill('SIGKILL');
    }
  }, 180_000);
});
