/**
 * The part of vitest's API the engine's op tests use (describe, it, beforeAll, expect), for running
 * the same test files in a browser page. `expect` is vitest's own (@vitest/expect on chai), so the
 * matchers behave exactly as under Node; describe/it (and their .each tables) only collect the
 * cases, which run() then runs one after another, in file order.
 */
import * as chai from 'chai';
import { JestChaiExpect, JestAsymmetricMatchers, JestExtend } from '@vitest/expect';

chai.use(JestExtend);
chai.use(JestChaiExpect);
chai.use(JestAsymmetricMatchers);

export const expect = ((value: unknown, message?: string) => chai.expect(value, message)) as unknown as typeof import('vitest').expect;

interface Case {
  name: string;
  fn: () => unknown;
}
const cases: Case[] = [];
const hooks: (() => unknown)[] = [];
const path: string[] = [];

/**
 * A `.each` title for one row, as vitest formats it: `$key` (or `$a.b`) from an object row, printf
 * `%s %d %i %f %j %o` from the row's values in turn, `%#` the row's index, `%%` a percent sign.
 */
export function eachTitle(title: string, row: unknown, index: number): string {
  const args = Array.isArray(row) ? [...row] : [row];
  let out = title.replace(/%([sdifjo#%])/g, (m, k: string) => {
    if (k === '%') return '%';
    if (k === '#') return String(index);
    if (!args.length) return m;
    const v = args.shift();
    if (k === 'd' || k === 'i') return String(k === 'i' ? Math.trunc(Number(v)) : Number(v));
    if (k === 'f') return String(Number(v));
    if (k === 'j' || k === 'o') return JSON.stringify(v);
    return typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  });
  if (row && typeof row === 'object' && !Array.isArray(row)) {
    out = out.replace(/\$([A-Za-z_][\w.]*)/g, (m, key: string) => {
      let v: unknown = row;
      for (const part of key.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
      return v === undefined ? m : typeof v === 'string' ? v : JSON.stringify(v);
    });
  }
  return out;
}

/** `describe.each(rows)(title, fn)` / `it.each`: one block per row, fn given the row (an array row spread). */
function eachOf<F extends (name: string, fn: () => unknown) => void>(register: F) {
  return (rows: readonly unknown[]) =>
    (title: string, fn: (...args: any[]) => unknown): void =>
      rows.forEach((row, i) => register(eachTitle(title, row, i), () => (Array.isArray(row) ? fn(...row) : fn(row))));
}

function describeBlock(name: string, fn: () => unknown): void {
  path.push(name);
  try {
    fn();
  } finally {
    path.pop();
  }
}
export const describe = Object.assign(describeBlock, { each: eachOf(describeBlock) });

function itCase(name: string, fn: () => unknown): void {
  cases.push({ name: [...path, name].join(' > '), fn });
}
export const it = Object.assign(itCase, { each: eachOf(itCase) });
export const test = it;

/** Every beforeAll runs once, before the first case (the op tests use it to start the engine). */
export function beforeAll(fn: () => unknown): void {
  hooks.push(fn);
}

/**
 * afterAll hooks run after each file's cases, every hook registered so far. Under vitest each file
 * is isolated, so a helper's module-level afterAll runs after every file that imports it; in one
 * bundle a module runs once, so its hook is kept and run after every file (the one the op tests
 * have, test/helpers/conv-variants.ts, restores the conv variants a file forced: idempotent).
 */
const afterHooks: (() => unknown)[] = [];
export function afterAll(fn: () => unknown): void {
  afterHooks.push(fn);
}

export interface CaseResult {
  file: string;
  name: string;
  ok: boolean;
  /** Left out by run()'s `skip` pattern. */
  skipped?: boolean;
  ms: number;
  error?: string;
}

let currentFile = '';
export function setFile(file: string): void {
  currentFile = file;
}
const fileOf = new WeakMap<Case, string>();
export function tagCases(): void {
  for (const c of cases) if (!fileOf.has(c)) fileOf.set(c, currentFile);
}

/** One case, timed; a throw is its failure. */
async function runCase(c: Case, file: string): Promise<CaseResult> {
  const t0 = performance.now();
  let error: string | undefined;
  try {
    await c.fn();
  } catch (e) {
    error = e instanceof Error ? `${e.message}` : String(e);
  }
  return { file, name: c.name, ok: error === undefined, ms: performance.now() - t0, ...(error ? { error } : {}) };
}

/**
 * Runs the beforeAll hooks, then every collected case (but those whose name matches `skip`), with
 * the afterAll hooks after each file's last case; reports each case as it finishes.
 */
export async function run(onResult: (r: CaseResult) => void, skip?: string): Promise<CaseResult[]> {
  for (const h of hooks) await h();
  const results: CaseResult[] = [];
  const skipping = skip ? new RegExp(skip) : null;
  for (const [i, c] of cases.entries()) {
    const file = fileOf.get(c) ?? '';
    const r: CaseResult = skipping?.test(c.name) ? { file, name: c.name, ok: true, skipped: true, ms: 0 } : await runCase(c, file);
    results.push(r);
    onResult(r);
    const next = cases[i + 1];
    if (!next || fileOf.get(next) !== file) for (const h of afterHooks) await h();
  }
  return results;
}
