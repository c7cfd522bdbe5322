/**
 * The data pipeline rows: bench/data-pipeline.ts run as a child process (it is a script), its JSON
 * line parsed into rows of samples/s. No peer: tfjs has no matting data pipeline to compare with.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { emptyRow, type BenchRow } from './rows.ts';

interface PipelineResult {
  source: string;
  workers: number;
  size: number;
  batchSize: number;
  batches: number;
  seconds: number;
  samplesPerSecond: number;
}

export interface DataSuiteOptions {
  quick: boolean;
  /** The repository root (the script is bench/data-pipeline.ts under it). */
  root: string;
  log: (line: string) => void;
}

/** The script's arguments: quick is a 64 px, batch 4, in-thread run of a few seconds. */
export function dataPipelineArgs(quick: boolean): string[] {
  return quick
    ? ['--workers', '0', '--seconds', '2', '--warmup', '1', '--size', '64', '--batch', '4']
    : ['--workers', '0,2', '--seconds', '6', '--warmup', '2', '--size', '320', '--batch', '8'];
}

export async function runDataSuite(o: DataSuiteOptions): Promise<BenchRow[]> {
  const args = dataPipelineArgs(o.quick);
  const script = join(o.root, 'bench', 'data-pipeline.ts');
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((res) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: o.root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (c) => res({ code: c, stdout: out, stderr: err }));
    child.on('error', (e) => res({ code: -1, stdout: out, stderr: String(e) }));
  });
  const jsonLine = stdout.split('\n').reverse().find((l) => l.startsWith('{'));
  if (code !== 0 || !jsonLine) {
    const why = (stderr.trim().split('\n').pop() ?? '') || `exit code ${code}`;
    o.log(`  data pipeline failed: ${why}`);
    return [emptyRow({ suite: 'data', layer: 'data pipeline', pass: 'pipeline', shape: args.join(' '), batch: 0, note: `failed: ${why}` })];
  }
  const parsed = JSON.parse(jsonLine) as { results: PipelineResult[] };
  return parsed.results.map((r) => {
    const row = emptyRow({
      suite: 'data',
      layer: `${r.source}, workers ${r.workers}`,
      pass: 'pipeline',
      shape: `${r.size}x${r.size}, batch ${r.batchSize}`,
      batch: r.batchSize,
      note: `${r.batches} batches in ${r.seconds.toFixed(1)} s`,
    });
    row.samplesPerSec = r.samplesPerSecond;
    o.log(`  ${row.layer}: ${r.samplesPerSecond.toFixed(1)} samples/s`);
    return row;
  });
}
