/**
 * Whole-model gradient check: the analytic gradient of the total matting loss (all three terms)
 * against central finite differences evaluated ON THE GPU, for every parameter tensor.
 *
 * Probes per parameter tensor:
 * - 'max': the coordinate with the largest |analytic gradient|, so every tensor is tested where its
 *   gradient is clearly non-zero (a wrong gradient there cannot hide under the absolute tolerance);
 * - 'random': one coordinate drawn at random (seeded);
 * - 'dense': the directional derivative along a direction d over the WHOLE tensor,
 *   d_i = sign(g_i) * u_i with u_i uniform in [0.5, 1]. Then g.d = sum |g_i| u_i is large, and the
 *   central difference (L(p + h d) - L(p - h d)) / 2h, the true derivative along d, matches it only
 *   if the analytic gradient is right across the tensor (wrong signs, a transposed or misplaced
 *   kernel, a mis-scaled gradient all change the true derivative along d).
 *
 * f32 and ReLUs make finite differences delicate: a loss near 1 is resolved to ~1.2e-7, so the step
 * h must move it well above that, while a large step crosses ReLU kinks (and this model's
 * activations are O(100) on 0..255 inputs, so small weight changes move pre-activations a lot).
 * Each probe's step starts at h0 = targetDelta / |slope| clamped to [hMin, hMax] (the loss moves by
 * ~targetDelta, ~800 f32 ulps of a loss near 1), and a probe that misses is retried at h0/4,
 * h0/16, ... as long as the step still moves the loss by minDeltaUlps ulps: it passes if the central
 * difference at one of the steps matches. A wrong gradient fails at every step, since the finite
 * differences converge to the true derivative, not to the analytic value (the power test in
 * gradcheck.test.ts shows it). The absolute tolerance is the f32 resolution of the difference at
 * that step: atolUlps * 2^-23 * |loss| / h.
 * Losses are evaluated with noGrad, queued, and read back in groups (no sync per evaluation).
 */
import { engine } from '../../engine/engine.ts';
import { keep, tidy } from '../../engine/scope.ts';
import { backward } from '../../engine/autograd/backward.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { mattingLosses, type LossBatch } from '../../matting/losses.ts';
import type { MattingModel } from '../../matting/graph/model.ts';
import { evalLosses, prng, take, yieldToEventLoop } from './helpers.ts';

export interface GradCheckOptions {
  seed: number;
  probes: ('max' | 'random' | 'dense')[];
  hMin: number;
  hMax: number;
  /** Largest step for biases: below jitterBiases' smallest |bias| (0.05 in the tests), so a step never crosses the kink where a pre-activation is the bias alone. */
  hMaxBias: number;
  /** Smallest step of the dense direction (its slope sums a whole tensor, so its steps are small). */
  denseHMin: number;
  /** Target loss change of the first step. */
  targetDelta: number;
  /** Step divisions tried after a miss (each divides the previous step by 4). */
  retries: number;
  rtol: number;
  /** Absolute tolerance in f32 ulps of the loss, divided by the step. */
  atolUlps: number;
  /**
   * A retry is only taken while the step moves the loss by this many ulps (|analytic| * h): with
   * 10 x atolUlps, the absolute tolerance stays below a tenth of |analytic| at every retry, so a
   * retry only passes an analytic value within ~16% of the central difference (a first step is
   * always taken).
   */
  minDeltaUlps: number;
  /** Probes per tensor, when they should depend on it (default: `probes` for every tensor). */
  probesFor?: (name: string, shape: readonly number[]) => ('max' | 'random' | 'dense')[];
  /** Only check parameters whose name passes this filter. */
  filter?: (name: string) => boolean;
  /** Edits the analytic gradient before it is compared (to show that the check catches wrong ones). */
  tamper?: (name: string, grad: Float32Array) => void;
}

export const DEFAULT_GRADCHECK: GradCheckOptions = {
  seed: 1,
  probes: ['max', 'random', 'dense'],
  hMin: 1e-4,
  hMax: 2e-2,
  hMaxBias: 0.04,
  denseHMin: 1e-7,
  targetDelta: 1e-4,
  retries: 4,
  rtol: 0.05,
  atolUlps: 4,
  minDeltaUlps: 40,
};

export interface ProbeResult {
  name: string;
  probe: string;
  analytic: number;
  /** Central differences at each step tried, in order. */
  numeric: number[];
  h: number[];
  /** The tolerance's absolute part at the last step tried. */
  atol: number;
  pass: boolean;
  /** Every step tried moved a pooling index: no valid finite difference (unpooling decoder). */
  inconclusive: boolean;
  /** |analytic| well above the absolute tolerance where it passed: the probe had real power. */
  strong: boolean;
  /** Steps at which a pooling argmax moved (unpooling decoder): skipped, not failures. */
  jumps: number;
}

/** The backward of the total loss; the gradients land in each parameter's `.grad`. */
export function analyticGradients(model: MattingModel, batch: LossBatch): void {
  model.zeroGrad();
  tidy(() => {
    const l = mattingLosses(model.forward(batch.image, batch.trimap), batch, model.config.lossWeights);
    if (!l.alpha || !l.composition || (model.refine && !l.refined)) throw new Error('gradient check needs every loss term');
    backward(l.total);
  });
}

interface Probe {
  name: string;
  probe: string;
  analytic: number;
  /** Sets the parameter to its value + s * (its direction); s = 0 restores it. */
  shift: (s: number) => void;
  h: number;
  result: ProbeResult;
}

export async function gradCheck(model: MattingModel, batch: LossBatch, o: Partial<GradCheckOptions> = {}): Promise<{ results: ProbeResult[]; loss0: number; loss1: number }> {
  const opt = { ...DEFAULT_GRADCHECK, ...o };
  const e = engine();
  const rnd = prng(opt.seed);
  analyticGradients(model, batch);
  const watch = watchPoolIndices(model);
  try {
    const base = watch.evaluate(batch);
    const loss0 = await take(base.loss);
    const baseIndices = await Promise.all(base.indices.map((t) => take32(t)));
    const ulp = 2 ** -23 * Math.abs(loss0);
    const atolAt = (h: number) => (opt.atolUlps * ulp) / h;
    const close = (fd: number, g: number, h: number) => Math.abs(fd - g) <= opt.rtol * Math.max(Math.abs(fd), Math.abs(g)) + atolAt(h);
    const stepFor = (slope: number, hMin: number, hMax = opt.hMax) => Math.min(hMax, Math.max(hMin, opt.targetDelta / Math.max(Math.abs(slope), 1e-30)));

    // Build the probes (reading each parameter and its gradient once).
    const probes: Probe[] = [];
    for (const [name, p] of model.namedParameters()) {
      if (opt.filter && !opt.filter(name)) continue;
      if (!p.grad) throw new Error(`${name} got no gradient`);
      const g = await p.grad.data();
      opt.tamper?.(name, g);
      const values = await p.data();
      const hMax = name.endsWith('.bias') ? opt.hMaxBias : opt.hMax;
      const add = (probe: string, analytic: number, h: number, shift: (s: number) => void) =>
        probes.push({ name, probe, analytic, shift, h, result: { name, probe, analytic, numeric: [], h: [], atol: 0, pass: false, inconclusive: false, strong: false, jumps: 0 } });
      const coordinate = (i: number) => (s: number) => e.write(p.buffer, i * 4, Float32Array.of(values[i]! + s));
      const kinds = opt.probesFor?.(name, p.shape) ?? opt.probes;
      if (kinds.includes('max')) {
        let best = 0;
        for (let i = 1; i < g.length; i++) if (Math.abs(g[i]!) > Math.abs(g[best]!)) best = i;
        add(`max@${best}`, g[best]!, stepFor(g[best]!, opt.hMin, hMax), coordinate(best));
      }
      if (kinds.includes('random')) {
        const i = Math.floor(rnd() * g.length);
        add(`random@${i}`, g[i]!, stepFor(g[i]!, opt.hMin, hMax), coordinate(i));
      }
      if (kinds.includes('dense')) {
        const d = new Float32Array(g.length);
        let slope = 0;
        for (let i = 0; i < g.length; i++) {
          const sign = g[i]! > 0 ? 1 : g[i]! < 0 ? -1 : rnd() < 0.5 ? -1 : 1;
          d[i] = sign * (0.5 + 0.5 * rnd());
          slope += g[i]! * d[i]!;
        }
        add('dense', slope, stepFor(slope, opt.denseHMin, hMax), (s) => e.write(p.buffer, 0, s === 0 ? values : values.map((v, i) => v + s * d[i]!)));
      }
    }

    // Rounds: every probe at its step, then the misses again at a quarter of the step, ...
    let todo = probes;
    for (let round = 0; round <= opt.retries && todo.length > 0; round++) {
      const queued: [Probe, Evaluation, Evaluation][] = [];
      const drain = async () => {
        for (const [pr, plus, minus] of queued) {
          const fd = ((await take(plus.loss)) - (await take(minus.loss))) / (2 * pr.h);
          // a max-pooling argmax that moved makes the unpooling decoder jump: no derivative there
          let jumped = false;
          for (const ev of [plus, minus]) {
            for (let k = 0; k < ev.indices.length; k++) {
              const now = await take32(ev.indices[k]!);
              if (!jumped && !now.every((v, i) => v === baseIndices[k]![i])) jumped = true;
            }
          }
          const r = pr.result;
          r.numeric.push(fd);
          r.h.push(pr.h);
          r.atol = atolAt(pr.h);
          if (jumped) r.jumps++;
          r.pass = !jumped && close(fd, pr.analytic, pr.h);
          r.strong = r.pass && Math.abs(pr.analytic) > 10 * r.atol;
          r.inconclusive = !r.pass && r.jumps === r.numeric.length;
        }
        queued.length = 0;
        await yieldToEventLoop();
      };
      for (const pr of todo) {
        pr.shift(pr.h);
        const plus = watch.evaluate(batch);
        pr.shift(-pr.h);
        const minus = watch.evaluate(batch);
        pr.shift(0);
        queued.push([pr, plus, minus]);
        if (queued.length >= 16) await drain();
      }
      await drain();
      for (const pr of todo) pr.h /= 4;
      todo = todo.filter((pr) => !pr.result.pass && Math.abs(pr.analytic) * pr.h >= opt.minDeltaUlps * ulp);
    }
    const loss1 = await take(evalLosses(model, batch).total);
    return { results: probes.map((p) => p.result), loss0, loss1 };
  } finally {
    watch.remove();
  }
}

interface Evaluation {
  loss: Tensor;
  /** The image branch's max-pooling indices (unpooling decoder only). */
  indices: Tensor[];
}

async function take32(t: Tensor): Promise<Int32Array> {
  const v = await t.dataInt();
  t.dispose();
  return v;
}

/**
 * With the unpooling decoder, the loss is discontinuous where a max-pooling argmax of the image
 * branch switches (the unpooled value jumps to another pixel). To tell such jumps from wrong
 * gradients, the branch's forward is wrapped for the check so that every evaluation also returns
 * its pooling indices; a step that moved any index is not a valid finite difference.
 */
function watchPoolIndices(model: MattingModel): { evaluate: (batch: LossBatch) => Evaluation; remove: () => void } {
  const branch = model.encoder.image as unknown as { forward: (x: Tensor, withIndices: boolean) => { pools: { indices: Tensor }[] } };
  if (model.config.decoder === 'deconv') return { evaluate: (batch) => ({ loss: keep(evalLosses(model, batch).total), indices: [] }), remove: () => {} };
  const original = branch.forward;
  let captured: Tensor[] = [];
  branch.forward = function (this: unknown, x: Tensor, withIndices: boolean) {
    const out = original.call(this, x, withIndices);
    captured = out.pools.map((p) => keep(p.indices.detach()));
    return out;
  };
  return {
    evaluate: (batch) => {
      const loss = keep(evalLosses(model, batch).total);
      const indices = captured;
      captured = [];
      return { loss, indices };
    },
    remove: () => {
      delete (branch as { forward?: unknown }).forward;
    },
  };
}

export function describeProbe(r: ProbeResult): string {
  const steps = r.numeric.map((fd, i) => `${fd.toExponential(3)} (h ${r.h[i]!.toExponential(1)})`).join(', ');
  return `${r.name} ${r.probe}: analytic ${r.analytic.toExponential(4)}, numeric ${steps}; atol ${r.atol.toExponential(1)}${r.jumps ? `; ${r.jumps} step(s) moved a pooling index` : ''}`;
}

/**
 * Moves the model off the degenerate point of its initialisation: biases start at exactly 0, so
 * wherever a layer's input is exactly 0 (the trimap's background, the holes of deconv6's 1x1
 * stride-2 transposed conv, which only its bias fills) the pre-activation sits exactly on ReLU's
 * kink, where a central difference measures the mean of the two one-sided slopes and the analytic
 * gradient (relu'(0) = 0) the left one. Random biases of magnitude scale..2 scale make every point
 * generic; bias steps stay below hMaxBias < scale.
 */
export function jitterBiases(model: MattingModel, scale: number, seed: number): void {
  const rnd = prng(seed);
  for (const [name, p] of model.namedParameters()) {
    if (!name.endsWith('.bias')) continue;
    const v = new Float32Array(p.size);
    // |bias| in [scale, 2 scale], random sign: a step below `scale` never crosses the kink
    for (let i = 0; i < v.length; i++) v[i] = (rnd() < 0.5 ? -1 : 1) * scale * (1 + rnd());
    engine().write(p.buffer, 0, v);
  }
}

/** Snapshot of every buffer (batch-norm running statistics); the returned function restores them. */
export async function snapshotBuffers(model: MattingModel): Promise<() => void> {
  const saved = await Promise.all(model.namedBuffers().map(async ([, t]) => [t, await t.data()] as const));
  return () => {
    for (const [t, v] of saved) engine().write(t.buffer, 0, v);
  };
}
