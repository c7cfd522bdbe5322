/** The result rows every suite produces, and the shared measuring procedure for a pair of ops. */
import { engine } from '../engine/engine.ts';
import { gpuWait } from '../engine/gpu-wait.ts';
import { tidy } from '../engine/scope.ts';
import type { Tensor } from '../engine/tensor.ts';
import type * as TF from '@tensorflow/tfjs-core';
import { agreement, timeInterleaved, type Agreement, type Runner, type Timing, type TimingOptions } from './harness.ts';
import type { TfjsPeer } from './tfjs-peer.ts';
import type { TorchPeer } from './torch-peer.ts';

export type Suite = 'kernels' | 'step' | 'data';

export interface BenchRow {
  suite: Suite;
  /** The layer or op (e.g. `conv3_3`, `deconv5`, `maxPool 2x2`, `train step`). */
  layer: string;
  /** forward, backward-data, backward-weights, forward+backward, step, pipeline. */
  pass: string;
  /** The shapes, in words. */
  shape: string;
  batch: number;
  /** Floating-point operations of one run (counted from the shapes), when meaningful. */
  flops: number | null;
  /** Bytes one run must at least move (memory-bound rows), when meaningful. */
  bytes: number | null;
  ours: Timing | null;
  tfjs: Timing | null;
  /** PyTorch CPU peer (null: not run; conv kernel rows only). */
  torch: Timing | null;
  /** max|ours - torch| / max|torch| of the torch run (null: not run). */
  torchRelErr: number | null;
  /** torch median time / our median time. */
  torchRatio: number | null;
  agreement: Agreement | null;
  /** Our speed relative to tfjs: tfjs median time / our median time (> 1: we are faster). */
  ratio: number | null;
  /** Data pipeline rows: samples per second. */
  samplesPerSec?: number;
  note: string;
}

/** One op as each engine runs it; both return the output to compare (and to dispose). */
export interface OpPair {
  ours: () => Tensor;
  tfjs: (() => TF.Tensor) | null;
  /** Converts tfjs's output data to our layout (NHWC -> NCHW, HWIO -> OIHW, ...). */
  tfjsToOurs: (d: Float32Array) => Float32Array;
}

export interface MeasureContext {
  peer: TfjsPeer | null;
  /** The optional PyTorch CPU peer (conv kernel rows). */
  torch?: TorchPeer | null;
  timing: TimingOptions;
  tolerance: number;
  log: (line: string) => void;
}

export function oursRunner(op: () => Tensor): Runner {
  const e = engine();
  return {
    run: () => tidy(op).dispose(),
    settle: async () => {
      e.flush();
      await gpuWait(e.device.queue.onSubmittedWorkDone());
    },
  };
}

export function tfjsRunner(peer: TfjsPeer, op: () => TF.Tensor): Runner {
  return {
    run: () => peer.tf.tidy(op).dispose(),
    settle: () => peer.settle(),
  };
}

function short(e: unknown): string {
  const m = (e as Error)?.message ?? String(e);
  const line = m.split('\n')[0]!;
  return line.length > 140 ? line.slice(0, 137) + '...' : line;
}

/** Agreement, then timing: fills `row.ours`, `row.tfjs`, `row.agreement`, `row.ratio`. */
export async function measurePair(ctx: MeasureContext, row: BenchRow, op: OpPair, onOurs?: (out: Float32Array) => void): Promise<BenchRow> {
  const e = engine();
  const outT = op.ours();
  const ours = await outT.data();
  outT.dispose();
  onOurs?.(ours);
  await e.sync();
  let tfjsOk = false;
  if (ctx.peer && op.tfjs) {
    const peer = ctx.peer;
    try {
      const t = op.tfjs();
      await peer.settle();
      peer.throwPending();
      const d = (await t.data()) as Float32Array;
      t.dispose();
      peer.throwPending();
      row.agreement = agreement([[ours, op.tfjsToOurs(d)]], ctx.tolerance, row.pass);
      tfjsOk = true;
      if (!row.agreement.ok) row.note = appendNote(row.note, `MISMATCH with tfjs (rel err ${row.agreement.relErr.toExponential(1)}): not timed`);
    } catch (err) {
      row.note = appendNote(row.note, `tfjs failed: ${short(err)}`);
    }
  } else if (ctx.peer === null) row.note = appendNote(row.note, 'tfjs not run');
  if (row.agreement && !row.agreement.ok) return row;
  const runners: (Runner | null)[] = [oursRunner(op.ours), tfjsOk ? tfjsRunner(ctx.peer!, op.tfjs!) : null];
  const [tOurs, tTfjs] = await timeInterleaved(runners, ctx.timing);
  await e.sync();
  if (tfjsOk) ctx.peer!.throwPending();
  row.ours = tOurs ?? null;
  row.tfjs = tTfjs ?? null;
  row.ratio = row.ours && row.tfjs ? row.tfjs.medianMs / row.ours.medianMs : null;
  return row;
}

export function appendNote(note: string, more: string): string {
  return note ? `${note}; ${more}` : more;
}

export function emptyRow(p: Pick<BenchRow, 'suite' | 'layer' | 'pass' | 'shape' | 'batch'> & Partial<BenchRow>): BenchRow {
  return { flops: null, bytes: null, ours: null, tfjs: null, torch: null, torchRelErr: null, torchRatio: null, agreement: null, ratio: null, note: '', ...p };
}

/** One progress line for stderr. */
export function progressLine(r: BenchRow): string {
  const ms = (t: Timing | null) => (t ? `${t.medianMs.toFixed(2)} ms` : '-');
  const ratio = r.ratio ? ` ratio ${r.ratio.toFixed(2)}` : '';
  const agree = r.agreement ? ` rel err ${r.agreement.relErr.toExponential(1)}` : '';
  const torch = r.torch ? `, torch ${ms(r.torch)}` : '';
  return `  ${r.layer} ${r.pass} N${r.batch}: ours ${ms(r.ours)}, tfjs ${ms(r.tfjs)}${ratio}${agree}${torch}${r.note ? ` (${r.note})` : ''}`;
}
