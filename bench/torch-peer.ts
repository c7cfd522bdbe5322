/**
 * The optional PyTorch CPU column: bench/torch_peer.py in a long-lived python process (the
 * interpreter is MATTING_BENCH_PYTHON or python3), used for the conv kernel rows only. Inputs travel
 * as raw float32 files in a temp folder; the outputs come back the same way for the agreement check.
 * Where `python3 -c "import torch"` fails, the column says n/a.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';

/**
 * MATTING_BENCH_PYTHON, else `python3` from PATH, else Debian's /usr/bin/python3 (where apt's
 * python3-torch lives when PATH leads to another python, e.g. pyenv): the first that imports torch.
 */
let chosenPython: string | null = null;
export function pythonCommand(): string {
  if (process.env.MATTING_BENCH_PYTHON) return process.env.MATTING_BENCH_PYTHON;
  if (chosenPython) return chosenPython;
  for (const py of ['python3', '/usr/bin/python3']) {
    if (spawnSync(py, ['-c', 'import torch'], { timeout: 120_000 }).status === 0) return (chosenPython = py);
  }
  return 'python3';
}

/** The threads llvmpipe runs a dispatch on (LP_NUM_THREADS, else one per core): PyTorch gets as many. */
export function torchThreads(): number {
  const lp = Number(process.env.LP_NUM_THREADS);
  return Number.isInteger(lp) && lp > 0 ? lp : availableParallelism();
}

const torchEnv = (): NodeJS.ProcessEnv => ({ ...process.env, MATTING_BENCH_TORCH_THREADS: String(torchThreads()) });

/** Installs Debian's python3-torch with apt-get (bench --install-torch; root only). */
export function installTorch(log: (line: string) => void): void {
  if (torchStatus().available) return;
  log('bench: installing python3-torch with apt-get (Debian\'s PyTorch, for the CPU column)');
  const r = spawnSync('apt-get', ['install', '-y', 'python3-torch'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  chosenPython = null;
  if (r.status !== 0) log(`bench: apt-get install python3-torch failed (${r.error?.message ?? `exit ${r.status}`}); the PyTorch column stays n/a`);
}

/** The torch version when the interpreter can import torch, else why not. */
export function torchStatus(): { available: boolean; text: string } {
  const r = spawnSync(pythonCommand(), ['-c', 'import os, torch; torch.set_num_threads(int(os.environ["MATTING_BENCH_TORCH_THREADS"])); print(torch.__version__, torch.get_num_threads())'], {
    encoding: 'utf8', timeout: 120_000, env: torchEnv(),
  });
  if (r.status === 0) {
    const [version, threads] = r.stdout.trim().split(/\s+/);
    return { available: true, text: `torch ${version} (CPU, ${threads} threads, ${pythonCommand()})` };
  }
  if (r.error) return { available: false, text: `n/a (no ${pythonCommand()})` };
  return { available: false, text: `n/a (${pythonCommand()} cannot import torch)` };
}

export type TorchKernel = 'xy' | 'yx' | 'w';

export interface TorchConvRequest {
  N: number; C: number; H: number; O: number; K: number; S: number;
  x: Float32Array; y: Float32Array; w: Float32Array;
  kernels: TorchKernel[];
  minReps: number; maxReps: number; budgetMs: number;
}

export interface TorchConvResult {
  samplesMs: number[];
  out: Float32Array;
}

export class TorchPeer {
  private readonly lines: Interface;
  private readonly waiting: ((line: string) => void)[] = [];
  private exited = false;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: child.stdout });
    this.lines.on('line', (l) => this.waiting.shift()?.(l));
    child.on('exit', () => {
      this.exited = true;
      for (const w of this.waiting.splice(0)) w('{"ok": false, "error": "the python process exited"}');
    });
    child.stderr.resume();
  }

  /** Starts the python side; null (with the reason) when torch is not importable. */
  static async start(script: string): Promise<TorchPeer> {
    const child = spawn(pythonCommand(), [script], { stdio: ['pipe', 'pipe', 'pipe'], env: torchEnv() });
    const peer = new TorchPeer(child);
    const first = JSON.parse(await peer.nextLine()) as { ready?: boolean; error?: string };
    if (!first.ready) throw new Error(first.error ?? 'torch peer did not start');
    return peer;
  }

  private nextLine(): Promise<string> {
    if (this.exited) return Promise.resolve('{"ok": false, "error": "the python process exited"}');
    return new Promise((res) => this.waiting.push(res));
  }

  async conv(r: TorchConvRequest): Promise<Record<TorchKernel, TorchConvResult>> {
    const dir = mkdtempSync(join(tmpdir(), 'matting-bench-torch-'));
    try {
      for (const [name, d] of [['x', r.x], ['y', r.y], ['w', r.w]] as const) writeFileSync(join(dir, `${name}.bin`), new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      const { x: _x, y: _y, w: _w, ...spec } = r;
      const answer = this.nextLine();
      this.child.stdin.write(JSON.stringify({ ...spec, dir }) + '\n');
      const a = JSON.parse(await answer) as { ok: boolean; error?: string; results?: Record<string, { samplesMs: number[] }> };
      if (!a.ok) throw new Error(`torch: ${a.error}`);
      const out = {} as Record<TorchKernel, TorchConvResult>;
      for (const k of r.kernels) {
        const buf = readFileSync(join(dir, `out-${k}.bin`));
        out[k] = { samplesMs: a.results![k]!.samplesMs, out: new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)) };
      }
      return out;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  close(): void {
    this.child.stdin.end();
    this.lines.close();
    if (!this.exited) this.child.kill();
  }
}
