/**
 * vitest globalSetup: gives every test process one log file for checked op cases, and prints the
 * gradient-check suite's one summary line at the end of the run.
 */
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'matting-gradcheck-'));
  const file = join(dir, 'cases.jsonl');
  process.env.MATTING_GRADCHECK_LOG = file;
  return () => {
    if (!existsSync(file)) return;
    const rows = readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { op: string });
    const perOp = new Map<string, number>();
    for (const r of rows) perOp.set(r.op, (perOp.get(r.op) ?? 0) + 1);
    const list = [...perOp.entries()].map(([op, n]) => `${op} ${n}`).join(', ');
    console.log(`\ngradient check: ${perOp.size} ops, ${rows.length} cases checked against f64 references (${list})\n`);
    rmSync(dir, { recursive: true, force: true });
  };
}
