/**
 * `matting-engine serve` as a user runs it: the CLI builds the web app, prints its URL, serves the
 * page, its bundle and the model, refuses paths outside the app, stops cleanly on SIGINT; bad
 * options are one line and exit code 2. (The page itself is tested in Chromium: test/browser/.)
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../cli/bin.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'matting-serve-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('matting-engine serve', () => {
  it('serves the built page, its bundle and the model; 404 and 403 where due; SIGINT stops it with code 0', async () => {
    const model = join(tmp, 'some.safetensors');
    writeFileSync(model, 'not really a checkpoint, served as bytes');
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--model', model], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const url = await new Promise<string>((ok, fail) => {
      child.stdout.on('data', (d) => {
        out += d;
        const m = /the web app is at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) ok(m[1]!);
      });
      child.on('exit', (code) => fail(new Error(`serve exited with ${code}: ${out}${err}`)));
    });
    try {
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await page.text();
      expect(html).toContain('<script type="module" src="app.js">');
      const app = await fetch(new URL('app.js', url));
      expect(app.headers.get('content-type')).toMatch(/^text\/javascript/);
      const js = await app.text();
      expect(js).toContain('navigator.gpu is missing'); // the bundle holds the page's code ...
      expect(js).not.toMatch(/from\s*["']node:/); // ... and nothing from Node
      const m = await fetch(new URL('model.safetensors', url));
      expect(m.status).toBe(200);
      expect(m.headers.get('x-model-name')).toBe('some.safetensors');
      expect(await m.text()).toBe(readFileSync(model, 'utf8'));
      expect((await fetch(new URL('nothing-here.js', url))).status).toBe(404);
      expect((await fetch(new URL('/..%2F..%2Fpackage.json', url))).status).toBe(403); // decoded: /../../package.json
      expect((await fetch(url, { method: 'POST' })).status).toBe(405);
    } finally {
      child.kill('SIGINT');
    }
    const code = await new Promise<number | null>((ok) => child.on('exit', ok));
    expect(code, err).toBe(0);
  });

  it('bad options: one line, exit code 2', async () => {
    const run = (args: string[]) => spawnSync(process.execPath, [BIN, 'serve', ...args], { encoding: 'utf8', timeout: 60_000 });
    const badPort = run(['--port', '70000']);
    expect(badPort.status).toBe(2);
    expect(badPort.stderr.trim()).toBe('matting-engine: serve: --port must be an integer 0-65535, got 70000');
    const noModel = run(['--model', join(tmp, 'missing.safetensors')]);
    expect(noModel.status).toBe(2);
    expect(noModel.stderr.trim()).toMatch(/^matting-engine: serve: --model .*missing\.safetensors: no such file$/);
    // A port that is taken.
    const blocker = createServer();
    await new Promise<void>((ok) => blocker.listen(0, '127.0.0.1', ok));
    const port = (blocker.address() as { port: number }).port;
    const taken = run(['--port', String(port)]);
    blocker.close();
    expect(taken.status).toBe(2);
    expect(taken.stderr.trim()).toBe(`matting-engine: serve: port ${port} on 127.0.0.1 is in use; pick another with --port (0: any free port)`);
  });
});
