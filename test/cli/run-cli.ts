/** Runs the command as a user does (through bin.js, stdin/stdout/stderr pipes: not a terminal). */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const BIN = join(import.meta.dirname, '..', '..', 'cli', 'bin.js');

export function cli(args: string[], env: Record<string, string> = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 240_000, env: { ...process.env, ...env } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The single error line users see (exit 2, no stack trace). */
export function usageError(args: string[], env: Record<string, string> = {}): string {
  const r = cli(args, env);
  if (r.code !== 2) throw new Error(`${args.join(' ')}: exit ${r.code}, stderr: ${r.stderr}, stdout: ${r.stdout}`);
  const lines = r.stderr.trim().split('\n');
  if (lines.length !== 1) throw new Error(`${args.join(' ')}: ${lines.length} lines on stderr:\n${r.stderr}`);
  return lines[0]!;
}
