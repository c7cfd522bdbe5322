#!/usr/bin/env node
// Builds the published package into dist/: tsc emits JavaScript and .d.ts files from the TypeScript
// sources (tsconfig.build.json; relative `.ts` imports become `.js`), then this script fixes what
// tsc leaves for a consumer: declaration files keep `.ts` specifiers, which a consumer's tsc
// cannot follow without allowImportingTsExtensions, so they are rewritten to `.js`; the Node entry's
// declarations reference @types/node (a dependency: Buffer, worker threads, file handles); and the
// shell script setup-gpu runs and the shipped model (models/) are copied where dist/ looks for them. The GPU* types come from
// the consumer's default DOM lib, which declares WebGPU in TypeScript 7; referencing @webgpu/types
// as well would declare every GPU* global twice and fail the consumer's check (a consumer whose lib
// lacks them adds @webgpu/types to its `types`, as the README says). Run by `npm run build` and by `prepare`
// (so `npm ci`, `npm run setup` and `npm pack` build it). About 3 s.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const NODE_DECLARATIONS = ['node/index.d.ts'];

rmSync(dist, { recursive: true, force: true });
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });

// from './x.ts' / import('./x.ts') / declare module paths: only relative specifiers.
const TS_SPECIFIER = /((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]*?)\.ts(['"])/g;
let files = 0;
for (const file of walk(dist)) {
  if (!file.endsWith('.d.ts')) continue;
  const text = readFileSync(file, 'utf8');
  let out = text.replace(TS_SPECIFIER, '$1$2.js$3');
  const rel = file.slice(dist.length + 1).split('\\').join('/');
  if (NODE_DECLARATIONS.includes(rel)) out = `/// <reference types="node" />\n${out}`;
  if (out !== text) {
    writeFileSync(file, out);
    files++;
  }
}
mkdirSync(join(dist, 'scripts'), { recursive: true });
cpSync(join(root, 'scripts', 'setup-gpu.sh'), join(dist, 'scripts', 'setup-gpu.sh'));
// The shipped model, where matting/default-model.ts looks for it from dist/matting/.
if (existsSync(join(root, 'models'))) cpSync(join(root, 'models'), join(dist, 'models'), { recursive: true });
// The web app (web/: the page and its esbuild bundle) into dist/web/, where `serve` finds it when installed.
await (await import('../web/build.mjs')).buildWeb({ outdir: join(dist, 'web') });
console.log(`built dist/ (${files} declaration files adjusted)`);

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else yield p;
  }
}
