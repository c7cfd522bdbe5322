/**
 * The part of vitest's API the engine's op tests use (describe, it, beforeAll, expect), for running
 * the same test files in a browser page. `expect` is vitest's own (@vitest/expect on chai), so the
 * matchers behave exactly as under Node; describe/it only collect the cases, which run() then runs
 * one after another, in file order.
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

export function describe(name: string, fn: () => void): void {
  path.push(name);
  try {
    fn();
  } finally {
    path.pop();
  }
}

export function it(name: string, fn: () => unknown): void {
  cases.push({ name: [...path, name].join(' > '), fn });
}
export const test = it;

/** Every beforeAll runs once, before the first case (the op tests use it to start the engine). */
export function beforeAll(fn: () => unknown): void {
  hooks.push(fn);
}
export function afterAll(): void {}

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

/** Runs the hooks, then every collected case (but those whose name matches `skip`); reports each as it finishes. */
export async function run(onResult: (r: CaseResult) => void, skip?: string): Promise<CaseResult[]> {
  for (const h of hooks) await h();
  const results: CaseResult[] = [];
  const skipping = skip ? new RegExp(skip) : null;
  for (const c of cases) {
    if (skipping?.test(c.name)) {
      const r: CaseResult = { file: fileOf.get(c) ?? '', name: c.name, ok: true, skipped: true, ms: 0 };
      results.push(r);
      onResult(r);
      continue;
    }
    const t0 = performance.now();
    let error: string | undefined;
    try {
      await c.fn();
    } catch (e) {
      error = e instanceof Error ? `${e.message}` : String(e);
    }
    const r: CaseResult = { file: fileOf.get(c) ?? '', name: c.name, ok: error === undefined, ms: performance.now() - t0, ...(error ? { error } : {}) };
    results.push(r);
    onResult(r);
  }
  return results;
}
