/**
 * The measuring core shared by every suite: agreement first, then interleaved timed repetitions.
 *
 * Timing method (the same for both engines): wall-clock time from the first recorded command of a
 * repetition to the resolution of `device.queue.onSubmittedWorkDone()` after that repetition's work is
 * submitted, with both devices idle at the start. It therefore includes each engine's own CPU-side
 * cost of recording the work (bind groups, uniforms, command encoding) as well as the kernels' run
 * time; on a software adapter the kernels dominate. The two engines' repetitions alternate (ours,
 * tfjs, ours, ...) so slow drifts of the machine hit both alike. Warm-up runs (which also compile
 * pipelines) are not timed. Reported: the median, min, max and interquartile range.
 */

export interface TimingOptions {
  warmup: number;
  minReps: number;
  maxReps: number;
  /** Stop adding repetitions after this many ms of timed runs (of all peers together), once minReps is reached. */
  budgetMs: number;
}

export interface Timing {
  reps: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  q1Ms: number;
  q3Ms: number;
  samplesMs: number[];
}

/** One peer's way to run the measured work: `run` records it, `settle` submits and waits. */
export interface Runner {
  run(): void | Promise<void>;
  settle(): Promise<void>;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function summarise(samples: number[]): Timing {
  const s = [...samples].sort((a, b) => a - b);
  return {
    reps: s.length,
    medianMs: quantile(s, 0.5),
    minMs: s[0] ?? NaN,
    maxMs: s[s.length - 1] ?? NaN,
    q1Ms: quantile(s, 0.25),
    q3Ms: quantile(s, 0.75),
    samplesMs: samples.map((v) => Math.round(v * 1000) / 1000),
  };
}

async function once(r: Runner): Promise<number> {
  const t0 = performance.now();
  await r.run();
  await r.settle();
  return performance.now() - t0;
}

/**
 * Times several runners on the same work, interleaved. A runner given as null is skipped (its
 * result is null). Warm-up runs are done for each runner first.
 */
export async function timeInterleaved(runners: (Runner | null)[], o: TimingOptions): Promise<(Timing | null)[]> {
  const active = runners.map((r, i) => [r, i] as const).filter((p): p is readonly [Runner, number] => p[0] !== null);
  for (const [r] of active) {
    await r.settle();
    for (let i = 0; i < o.warmup; i++) await once(r);
  }
  const samples: number[][] = runners.map(() => []);
  let spent = 0;
  for (let rep = 0; rep < o.maxReps; rep++) {
    if (rep >= o.minReps && spent >= o.budgetMs) break;
    for (const [r, i] of active) {
      const ms = await once(r);
      samples[i]!.push(ms);
      spent += ms;
    }
  }
  return runners.map((r, i) => (r ? summarise(samples[i]!) : null));
}

export interface Agreement {
  /** max |ours - peer| / max |peer| over every compared output (0 when both are exactly zero). */
  relErr: number;
  /** The threshold it was held to. */
  tolerance: number;
  ok: boolean;
  /** What was compared (e.g. "dx", "loss and 42 parameter gradients"). */
  what: string;
}

/** Max-normalised error of `got` against `ref`: max|got - ref| / max|ref|. NaN anywhere gives Infinity. */
export function relativeError(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (got.length !== ref.length) throw new Error(`agreement: ${got.length} values vs ${ref.length}`);
  let maxDiff = 0, maxRef = 0;
  for (let i = 0; i < got.length; i++) {
    const a = got[i]!, b = ref[i]!;
    if (!Number.isFinite(a) || !Number.isFinite(b)) return Infinity;
    maxDiff = Math.max(maxDiff, Math.abs(a - b));
    maxRef = Math.max(maxRef, Math.abs(b));
  }
  if (maxDiff === 0) return 0;
  return maxRef === 0 ? Infinity : maxDiff / maxRef;
}

export function agreement(pairs: [ArrayLike<number>, ArrayLike<number>][], tolerance: number, what: string): Agreement {
  const relErr = Math.max(0, ...pairs.map(([a, b]) => relativeError(a, b)));
  return { relErr, tolerance, ok: relErr <= tolerance, what };
}

/** 2 * N * OH * OW * O * C * KH * KW: a conv's multiply-adds, also the count of each of its two backwards. */
export function convFlops(g: { N: number; OH: number; OW: number; O: number; C: number; KH: number; KW: number }): number {
  return 2 * g.N * g.OH * g.OW * g.O * g.C * g.KH * g.KW;
}

/** Deterministic normal numbers (Box-Muller over a small LCG) for inputs both engines get. */
export function normalData(n: number, seed: number, scale = 1): Float32Array {
  let s = (seed * 2654435761 + 12345) >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next()));
    const t = 2 * Math.PI * next();
    out[i] = r * Math.cos(t) * scale;
    if (i + 1 < n) out[i + 1] = r * Math.sin(t) * scale;
  }
  return out;
}
