/**
 * Dawn's start-up lines ("Warning: maxDynamic...BuffersPerPipelineLayout artificially reduced ...")
 * are silenced in-process while Dawn enumerates adapters, and stderr works normally afterwards;
 * `verbose` lets them through (which also shows that this machine's Dawn does print them, so the
 * quiet case is a real check). Run in child processes with stderr on a file and on a pipe.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'matting-quiet-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const script = join(dir, 'start.mts');
writeFileSync(
  script,
  `import ${JSON.stringify(pathToFileURL(join(ROOT, 'node/register-dawn.ts')).href)};
import { initEngine, shutdownEngine, tensor } from ${JSON.stringify(pathToFileURL(join(ROOT, 'engine/index.ts')).href)};
console.error('before start');
await initEngine({ verbose: process.argv[2] === 'verbose' });
console.error('after start: ' + (await tensor([41]).item() + 1));
shutdownEngine();
`,
);
const NOISE = /^Warning: maxDynamic\w+BuffersPerPipelineLayout artificially reduced/m;

/** stderr of the script, written to a file or through a shell pipe. */
function stderrOf(via: 'file' | 'pipe', mode: string): string {
  const node = `${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(script)} ${mode}`;
  const out = join(dir, `err-${via}-${mode}.txt`);
  const cmd = via === 'file' ? `${node} 2>${JSON.stringify(out)}` : `${node} 2>&1 >/dev/null | cat >${JSON.stringify(out)}`;
  const r = spawnSync('sh', ['-c', cmd], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  return readFileSync(out, 'utf8');
}

describe('Dawn start-up lines', () => {
  for (const via of ['file', 'pipe'] as const) {
    it(`are silenced with stderr on a ${via}, which works before and after`, () => {
      const quiet = stderrOf(via, 'quiet');
      expect(quiet).toBe('before start\nafter start: 42\n');
    });
    it(`show with verbose (stderr on a ${via})`, () => {
      const loud = stderrOf(via, 'verbose');
      expect(loud).toMatch(NOISE);
      expect(loud).toMatch(/after start: 42\n$/);
    });
  }
});
