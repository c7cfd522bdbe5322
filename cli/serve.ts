/** `matting-engine serve`: the web app (matting in the browser on its WebGPU device) on a local address. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs, helpText, UsageError } from './args.ts';
import { startWebServer } from './web-server.ts';
import { resolveModelPath } from '../matting/default-model.ts';

const SPEC = {
  port: { type: 'number', default: 8080, help: 'TCP port (0: any free port)' },
  host: { type: 'string', arg: '<address>', default: '127.0.0.1', help: 'address to listen on (WebGPU needs localhost or https)' },
  model: { type: 'string', arg: '<file>', help: 'checkpoint the page loads', defaultText: 'the shipped model, models/default.safetensors' },
  debug: { type: 'boolean', help: 'print stack traces on errors' },
  help: { type: 'boolean', help: 'show this help', alias: 'h' },
} as const;

const here = dirname(fileURLToPath(import.meta.url));

/**
 * The built app's folder, and what to remove when the server stops. From a clone (web/ sources
 * beside cli/) the app is built afresh into a temporary folder, so the page is never stale and
 * dist/ (which `npm run build` replaces whole) is never written under a running server; an
 * installed package serves the dist/web its build shipped.
 */
export async function webRoot(): Promise<{ root: string; temporary: boolean }> {
  const sources = join(here, '..', 'web', 'build.mjs');
  if (existsSync(sources)) {
    const { buildWeb } = (await import(pathToFileURL(sources).href)) as typeof import('../web/build.mjs');
    const root = mkdtempSync(join(tmpdir(), 'matting-engine-web-'));
    await buildWeb({ outdir: root });
    return { root, temporary: true };
  }
  const shipped = join(here, '..', 'web'); // dist/cli/ -> dist/web/
  if (!existsSync(join(shipped, 'index.html'))) throw new Error(`the web app is missing from this installation (${shipped}); reinstall the package`);
  return { root: shipped, temporary: false };
}

export async function serveCommand(argv: string[]): Promise<number> {
  const o = parseArgs(argv, SPEC, 'serve');
  if (o.help) {
    process.stdout.write(helpText('serve', 'Serves the web app: open an image, give a trimap (file, brushes or a rough mask), matte it on the browser\'s WebGPU device, download the alpha and the cut-out, fine-tune on a corrected alpha.', SPEC));
    return 0;
  }
  if (!(Number.isInteger(o.port) && o.port >= 0 && o.port < 65536)) throw new UsageError(`serve: --port must be an integer 0-65535, got ${o.port}`);
  if (o.model && !existsSync(o.model)) throw new UsageError(`serve: --model ${o.model}: no such file`);
  let model: string | null = null;
  let note = '';
  try {
    model = resolveModelPath(o.model);
  } catch (e) {
    note = ` (no model: ${(e as Error).message}; the page can load a checkpoint file)`;
  }
  const web = await webRoot();
  const cleanUp = () => web.temporary && rmSync(web.root, { recursive: true, force: true });
  let server;
  try {
    server = await startWebServer({ root: web.root, model, port: o.port, host: o.host });
  } catch (e) {
    cleanUp();
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE') throw new UsageError(`serve: port ${o.port} on ${o.host} is in use; pick another with --port (0: any free port)`);
    if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') throw new UsageError(`serve: cannot listen on ${o.host}`);
    throw e;
  }
  console.log(`matting-engine: the web app is at ${server.url}${model ? ` (model ${model})` : note}; Ctrl-C stops the server`);
  await new Promise<void>((ok) => {
    const stop = () => ok();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  cleanUp();
  return 0;
}
