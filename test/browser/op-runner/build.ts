/**
 * Builds the browser runner of the engine's op tests: one page whose bundle holds the same test
 * files vitest runs under Node (test/ops, test/autograd, test/nn, test/optim: every case that needs
 * no file), with `vitest` mapped to vitest-shim.ts and test/helpers/gpu.ts to gpu-helper.ts (the
 * engine on navigator.gpu instead of Dawn). The op-check helper's case log (node:fs, for the Node
 * summary line) becomes a no-op, and the tests' one use of Buffer (byte equality) is injected.
 */
import { readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const HERE = fileURLToPath(new URL('.', import.meta.url));
/** Test folders whose files need no files; tfjs-oracle needs tfjs, a second engine, so it stays in Node. */
export const BROWSER_TEST_DIRS = ['test/ops', 'test/autograd', 'test/nn', 'test/optim'];
const EXCLUDED = new Set(['test/ops/tfjs-oracle.test.ts']);

export function browserTestFiles(): string[] {
  return BROWSER_TEST_DIRS.flatMap((d) =>
    readdirSync(join(ROOT, d))
      .filter((f) => f.endsWith('.test.ts'))
      .sort()
      .map((f) => `${d}/${f}`),
  ).filter((f) => !EXCLUDED.has(f));
}

const redirect: Plugin = {
  name: 'browser-test-redirects',
  setup(b) {
    b.onResolve({ filter: /^vitest$/ }, () => ({ path: join(HERE, 'vitest-shim.ts') }));
    b.onResolve({ filter: /helpers\/gpu\.ts$/ }, () => ({ path: join(HERE, 'gpu-helper.ts') }));
    b.onResolve({ filter: /^node:fs$/ }, () => ({ path: 'node-fs', namespace: 'stub' }));
    b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({ contents: 'export function appendFileSync() {}', loader: 'js' }));
  },
};

/** Writes index.html and ops.js into `outdir`; returns the test files bundled. */
export async function buildOpRunner(outdir: string): Promise<string[]> {
  mkdirSync(outdir, { recursive: true });
  const files = browserTestFiles();
  const shim = join(HERE, 'vitest-shim.ts');
  // Each file is imported in turn so its cases are tagged with its name (the bundler inlines these).
  const entry = [
    `import { setFile, tagCases, run } from ${JSON.stringify(shim)};`,
    ...files.map((f) => `setFile(${JSON.stringify(f)}); await import(${JSON.stringify(join(ROOT, f))}); tagCases();`),
    `globalThis.runOpTests = run;`,
    `document.body.dataset.loaded = '1';`,
  ].join('\n');
  await build({
    stdin: { contents: entry, resolveDir: ROOT, sourcefile: 'op-tests-entry.ts', loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outfile: join(outdir, 'ops.js'),
    plugins: [redirect],
    inject: [join(HERE, 'buffer-shim.ts')],
    define: { 'process.env.MATTING_GRADCHECK_LOG': 'undefined' },
    logLevel: 'warning',
  });
  writeFileSync(join(outdir, 'index.html'), `<!doctype html><meta charset="utf-8"><title>matting-engine op tests</title><body><pre id="log"></pre><script type="module" src="ops.js"></script></body>\n`);
  return files.map((f) => relative(ROOT, join(ROOT, f)));
}
