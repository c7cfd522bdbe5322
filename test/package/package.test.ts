/**
 * The package as a user gets it: `npm pack`, the tarball installed into a fresh project, and there
 * plain `node` ESM scripts (the README example among them), a strict `tsc` over a TypeScript
 * consumer, a browser bundle of the core entries, and the CLI from the installed package.
 * The install is offline: the tarball's runtime dependencies are linked from this checkout's
 * node_modules (the same versions npm would fetch), everything else is what a user's install does;
 * a dependency missing from package.json fails here, since nothing above the temp project resolves.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'esbuild';
import { syntheticForeground } from '../../matting/data/synthetic.ts';
import { trimapFromAlpha } from '../../matting/data/trimap.ts';
import { writePng } from '../../matting/data/image-io.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const NOISE = /^(Warning: |MESA: |WARNING: lavapipe|error: XDG_RUNTIME_DIR)/m;

let tmp = '';
let proj = '';
let tarball = '';

/** Runs `node file` in the project; stderr goes to a file (so the engine can silence Dawn there). */
function runNode(file: string, args: string[] = []): { code: number; stdout: string; stderr: string } {
  const errPath = join(tmp, `${basename(file)}.stderr`);
  const errFd = openSync(errPath, 'w');
  try {
    const r = spawnSync(process.execPath, [file, ...args], { cwd: proj, encoding: 'utf8', stdio: ['ignore', 'pipe', errFd], timeout: 180_000 });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: readFileSync(errPath, 'utf8') };
  } finally {
    closeSync(errFd);
  }
}

function tsc(args: string[]): { code: number; out: string } {
  const r = spawnSync(process.execPath, [TSC, ...args], { cwd: proj, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'matting-pack-'));
  // `npm pack` runs `prepare`, i.e. the build, as a user's `npm publish` would.
  const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', tmp], { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
  tarball = join(tmp, packed.trim().split('\n').pop()!);
  proj = join(tmp, 'consumer');
  mkdirSync(proj);
  writeFileSync(join(proj, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  const deps = Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies);
  const links = deps.map((d) => realpathSync(join(ROOT, 'node_modules', d)));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--install-links=false', tarball, ...links], { cwd: proj, stdio: 'pipe', timeout: 240_000 });
}, 600_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('ships built JavaScript, declarations, docs and the bin, and no TypeScript sources or tests', () => {
    const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
    for (const f of ['dist/engine/index.js', 'dist/engine/index.d.ts', 'dist/matting/index.js', 'dist/matting/index.d.ts', 'dist/node/index.js', 'dist/node/index.d.ts', 'dist/cli/main.js', 'cli/bin.js', 'docs/dim-model.md', 'docs/api.md']) {
      expect(files, f).toContain(`package/${f}`);
    }
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('package/test/'))).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(proj, 'node_modules', 'matting-engine', 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(pkg.dependencies)).not.toContain('tsx');
  });

  it('a plain node ESM script imports the entry points, builds the tiny model and predicts (no Dawn/Mesa lines on stderr)', () => {
    writeFileSync(
      join(proj, 'smoke.mjs'),
      `import { initEngine, shutdownEngine, tensor, add, gt, sum } from 'matting-engine';
import { MattingModel, MODEL_PRESETS, predictAlpha } from 'matting-engine/matting';
import { decodeImage } from 'matting-engine/node';
await initEngine();
const model = new MattingModel(MODEL_PRESETS.tiny);
const w = 40, h = 24;
const image = { width: w, height: h, data: new Float32Array(3 * w * h).map((_, i) => (i * 7) % 256) };
const trimap = { width: w, height: h, data: new Float32Array(w * h).map((_, i) => (i % w < 10 ? 0 : i % w > 30 ? 255 : 128)) };
const alpha = await predictAlpha(model, image, trimap);
console.log('shape', JSON.stringify([h, w]), alpha.length, alpha[0], alpha[w - 1]);
console.log('ops', await sum(gt(add(tensor([1, 2, 3]), 1), 2)).item(), typeof decodeImage);
shutdownEngine();
`,
    );
    const r = runNode('smoke.mjs');
    expect(r.stderr).not.toMatch(NOISE);
    expect(r.code, r.stderr).toBe(0);
    // known trimap regions are copied into the alpha: 0 on the left edge, 1 on the right
    expect(r.stdout).toContain('shape [24,40] 960 0 1\n');
    expect(r.stdout).toContain('ops 2 function\n');
  });

  it('the README "Use it from code" example runs as written', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const m = /<!-- example:use-it-from-code -->\n```js\n([\s\S]*?)\n```/.exec(readme);
    expect(m, 'README example block').not.toBeNull();
    writeFileSync(join(proj, 'example.mjs'), m![1]!);
    const S = 48;
    const { fg, alpha } = syntheticForeground(7, S, S);
    writePng(join(proj, 'image.png'), fg);
    writePng(join(proj, 'trimap.png'), { width: S, height: S, channels: 1, data: trimapFromAlpha(alpha, S, S, 5) });
    const r = runNode('example.mjs');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(NOISE);
    expect(r.stdout).toMatch(/step 0: loss \d+\.\d{4}\nstep 1: loss \d+\.\d{4}\nstep 2: loss \d+\.\d{4}\n/);
    expect(r.stdout).toMatch(/alpha 48x48, mean 0\.\d{3}/);
    expect(existsSync(join(proj, 'tiny.safetensors'))).toBe(true);
    expect(existsSync(join(proj, 'alpha.png'))).toBe(true);
  }, 300_000);

  it("type-checks strict TypeScript consumers: Node's module settings, tsc's defaults, a browser app's settings without Node types", () => {
    writeFileSync(
      join(proj, 'consumer.ts'),
      `import { initEngine, shutdownEngine, tensor, add, gt, sum, parseSafetensors, type Tensor, type InitOptions } from 'matting-engine';
import { MattingModel, MODEL_PRESETS, predictAlpha, parseCheckpoint, type PlanarImage, type ModelConfig } from 'matting-engine/matting';
import { decodeImage, loadModel, readImage, type DeviceOptions } from 'matting-engine/node';

export async function run(device?: GPUDevice): Promise<number[]> {
  const options: InitOptions = device ? { device } : {};
  await initEngine(options);
  const config: Partial<ModelConfig> = MODEL_PRESETS.tiny;
  const model = new MattingModel(config);
  const image: PlanarImage = { width: 32, height: 32, data: new Float32Array(3 * 32 * 32) };
  const trimap: PlanarImage = { width: 32, height: 32, data: new Float32Array(32 * 32).fill(128) };
  const alpha: Float32Array = await predictAlpha(model, image, trimap);
  const t: Tensor = gt(add(tensor([1, 2, 3]), 1), 2);
  t.backward;
  const n: number = await sum(t).item();
  const d: DeviceOptions = { backend: 'vulkan' };
  const fns = [decodeImage, loadModel, readImage, parseSafetensors, parseCheckpoint];
  shutdownEngine();
  return [alpha.length, n, fns.length, d.backend!.length];
}
`,
    );
    // tsc's own defaults (no tsconfig.json: tsc refuses file arguments next to one)
    const defaults = tsc(['--strict', '--noEmit', 'consumer.ts']);
    expect(defaults.out).toBe('');
    expect(defaults.code).toBe(0);
    // The declarations are real types, not `any`: a wrong use fails.
    writeFileSync(join(proj, 'wrong.ts'), `import { sum, tensor } from 'matting-engine';\nexport async function f(): Promise<string> {\n  return await sum(tensor([1])).item();\n}\n`);
    const wrong = tsc(['--strict', '--noEmit', 'wrong.ts']);
    expect(wrong.code).not.toBe(0);
    expect(wrong.out).toMatch(/wrong\.ts.*TS2322/);
    // Node's module settings, strict, nothing else
    writeFileSync(join(proj, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'nodenext', noEmit: true }, files: ['consumer.ts'] }));
    const nodeNext = tsc(['-p', '.']);
    expect(nodeNext.out).toBe('');
    expect(nodeNext.code).toBe(0);
    // A browser app's settings: bundler resolution, the DOM lib, no Node types at all. The core
    // entries' declarations must not need @types/node.
    writeFileSync(
      join(proj, 'web.ts'),
      `import { initEngine, tensor, type Tensor } from 'matting-engine';\nimport { MattingModel, predictAlpha, parseCheckpoint } from 'matting-engine/matting';\nexport async function run(device: GPUDevice, bytes: ArrayBuffer): Promise<Float32Array> {\n  await initEngine({ device });\n  const t: Tensor = tensor([1]);\n  t.dispose();\n  const model: MattingModel = new MattingModel(parseCheckpoint(bytes).config);\n  return predictAlpha(model, { width: 1, height: 1, data: new Float32Array(3) }, { width: 1, height: 1, data: new Float32Array(1) });\n}\n`,
    );
    writeFileSync(join(proj, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'esnext', moduleResolution: 'bundler', lib: ['es2022', 'dom'], types: [], noEmit: true }, files: ['web.ts'] }));
    const web = tsc(['-p', '.']);
    expect(web.out).toBe('');
    expect(web.code).toBe(0);
  }, 300_000);

  it('bundles the core entries for the browser with no Node module and no Dawn, the bundle runs on navigator.gpu; the Node entry refuses to bundle', async () => {
    writeFileSync(join(proj, 'browser.mjs'), `export * as core from 'matting-engine';\nexport * as matting from 'matting-engine/matting';\n`);
    const r = await build({ entryPoints: [join(proj, 'browser.mjs')], bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent' });
    const inputs = Object.keys(r.metafile.inputs);
    expect(inputs.some((i) => i.includes('dist/engine/engine.js'))).toBe(true);
    expect(inputs.filter((i) => /^node:|node_modules\/(webgpu|pngjs|jpeg-js)\//.test(i))).toEqual([]);
    // The bundle runs where navigator.gpu is the only WebGPU: here Dawn's GPU object stands in for
    // a browser's (asking for the feature level this machine's adapter has), nothing else from Node.
    writeFileSync(join(proj, 'core.bundle.mjs'), r.outputFiles[0]!.text);
    writeFileSync(
      join(proj, 'browser-run.mjs'),
      `import { acquireDevice } from 'matting-engine/node';
const dawn = await acquireDevice();
dawn.device.destroy();
globalThis.navigator = { gpu: { requestAdapter: (o) => dawn.gpu.requestAdapter({ ...o, featureLevel: dawn.featureLevel }) } };
const { core, matting } = await import('./core.bundle.mjs');
const e = await core.initEngine();
const model = new matting.MattingModel(matting.MODEL_PRESETS.tiny);
const alpha = await matting.predictAlpha(model, { width: 33, height: 20, data: new Float32Array(3 * 33 * 20).fill(90) }, { width: 33, height: 20, data: new Float32Array(33 * 20).fill(128) });
console.log('browser bundle', e.acquired.backend, alpha.length, alpha.every((a) => a >= 0 && a <= 1));
core.shutdownEngine();
`,
    );
    const run = runNode('browser-run.mjs');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('browser bundle browser 660 true\n');
    writeFileSync(join(proj, 'browser-node.mjs'), `export * from 'matting-engine/node';\n`);
    await expect(build({ entryPoints: [join(proj, 'browser-node.mjs')], bundle: true, platform: 'browser', write: false, logLevel: 'silent' })).rejects.toThrow();
  });

  it('the installed CLI runs from the built JavaScript, without tsx', () => {
    const r = runNode(join('node_modules', 'matting-engine', 'cli', 'bin.js'), ['info', '--brief']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/self-check ok/);
    expect(r.stderr).not.toMatch(NOISE);
    expect(existsSync(join(proj, 'node_modules', 'tsx'))).toBe(false);
  });
});

describe('the repository', () => {
  it('points nowhere outside itself (the specification lives in docs/)', () => {
    const files = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n');
    const offenders = files.filter((f) => existsSync(join(ROOT, f)) && /\.\.\/shared|shared\/(docs|data)\//.test(readFileSync(join(ROOT, f), 'utf8')));
    expect(offenders.filter((f) => f !== 'test/package/package.test.ts')).toEqual([]);
  });
});
