/**
 * Whole-model gradient checks: the total loss (alpha + composition + refined, all weights 1)
 * differentiated by autograd vs central finite differences on the GPU, for every parameter tensor
 * of three tiny models. See ./gradcheck.ts for the probes, steps and tolerances.
 *
 * Criteria. A probe passes when the central difference matches at one of its steps (5% relative
 * + 4 f32 ulps of the loss divided by the step); it is "strong" when its |analytic gradient| is
 * above 10x that absolute part, i.e. the match is a real measurement. Each parameter tensor must
 * have a strong passing 'max' or 'dense' probe (bounded exceptions, explained where they are
 * allowed: the unpooling model's image branch, a few ResNet batch-norm vectors), and at most 5% of
 * the probes of a model may miss
 * (f32 central differences cannot resolve every coordinate of a ReLU network on 0..255 inputs:
 * tiny gradients, kinks crossed at every affordable step). A wrong gradient in a layer costs that
 * layer its strong probes (and, flowing upstream, many others): the last test shows that a gradient
 * scaled by 1.5, sign-flipped or put on the wrong coordinates is caught in every kind of layer.
 */
import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { MattingModel } from '../../matting/graph/model.ts';
import type { ModelConfig } from '../../matting/graph/config.ts';
import { evalLosses, syntheticBatch, take } from './helpers.ts';
import { describeProbe, gradCheck, jitterBiases, snapshotBuffers, type GradCheckOptions, type ProbeResult } from './gradcheck.ts';

useEngine();

const WIDTH = 1 / 16;
const SIZE = 32;

function summarise(results: ProbeResult[]) {
  const failed = results.filter((r) => !r.pass && !r.inconclusive); // missed at every step tried
  const inconclusive = results.filter((r) => r.inconclusive);
  const tensors = new Map<string, boolean>();
  for (const r of results) tensors.set(r.name, (tensors.get(r.name) ?? false) || (r.strong && !r.probe.startsWith('random')));
  const weak = [...tensors].filter(([, strong]) => !strong).map(([n]) => n);
  const rounds = [0, 0, 0, 0, 0];
  for (const r of results) if (r.pass) rounds[r.numeric.length - 1]!++;
  const strong = results.filter((r) => r.strong).length;
  console.log(
    `${results.length} probes over ${tensors.size} tensors: ${results.length - failed.length - inconclusive.length} pass (${strong} strong; at step 1..5: ${rounds.join('/')}), ` +
      `${failed.length} missed, ${inconclusive.length} inconclusive (pooling index moved); tensors without a strong probe: ${weak.length ? weak.join(', ') : 'none'}`,
  );
  for (const r of [...failed, ...inconclusive]) console.log(`  ${r.inconclusive ? 'inconclusive' : 'missed'}: ${describeProbe(r)}`);
  return { failed, inconclusive, weak, tensors: tensors.size, probes: results.length };
}

async function check(config: Partial<ModelConfig>, o: { eval?: boolean; noise?: number; options?: Partial<GradCheckOptions> } = {}) {
  const model = new MattingModel({ ...config, width: WIDTH, inputSize: SIZE, seed: 0 });
  const batch = syntheticBatch(1, SIZE, 1, o.noise ?? 0);
  try {
    expect(batch.unknown).toBeGreaterThan(100); // the losses only see the unknown region
    if (o.eval) model.eval();
    jitterBiases(model, 0.05, 7);
    const restore = await snapshotBuffers(model);
    const { results, loss0, loss1 } = await gradCheck(model, batch, o.options);
    restore();
    // every perturbation was undone exactly: the loss is bit-identical afterwards
    expect(loss1).toBe(loss0);
    expect(results.length).toBeGreaterThanOrEqual(model.namedParameters().length);
    return summarise(results);
  } finally {
    batch.dispose();
    model.dispose();
  }
}

describe('gradient of the total loss vs finite differences, every parameter tensor', () => {
  it('vgg16-dual + deconv + sigmoid', async () => {
    const s = await check({ encoder: 'vgg16-dual', decoder: 'deconv', refine: 'sigmoid' });
    expect(s.weak).toEqual([]);
    expect(s.failed.length, s.failed.map(describeProbe).join('\n')).toBeLessThanOrEqual(Math.floor(0.05 * s.probes));
    expect(s.inconclusive).toEqual([]);
  });

  it('vgg16-4ch + unpool + residual', async () => {
    // Max-unpooling makes the loss jump where a pooling argmax of the image branch switches (the
    // unpooled value moves to another pixel); the check watches the indices and skips such steps.
    // A little noise on F and B (the image re-composited from them) removes the exact ties of the
    // synthetic images' flat regions, which rounding alone would flip.
    // The residual refinement is the roughest part: it sees alpha x 255, so a change of the raw
    // alpha is amplified ~100x into its ReLUs and its clamp; a few decoder probes need very small
    // steps (measured on decoder.alpha.bias: the central difference is 19% off at h = 3e-3, 8% at
    // 3e-4, 0.6% at 1e-4).
    const s = await check({ encoder: 'vgg16-4ch', decoder: 'unpool', refine: 'residual' }, { noise: 4 });
    // Only the image branch, whose pooling indices the decoder reuses, may lack a strong probe.
    expect(s.weak.filter((n) => !n.startsWith('encoder.image.'))).toEqual([]);
    expect(s.weak.length, s.weak.join(', ')).toBeLessThanOrEqual(Math.floor(0.2 * s.tensors));
    expect(s.failed.length, s.failed.map(describeProbe).join('\n')).toBeLessThanOrEqual(Math.floor(0.05 * s.probes));
    expect(s.inconclusive.length).toBeLessThanOrEqual(Math.floor(0.1 * s.probes));
  });

  it('vgg16-4ch + unet + residual, normalised inputs (the shipped model\'s kind)', async () => {
    // Same discontinuities as the unpooling decoder (the unet decoder unpools too); the skip
    // connections carry the image branch's activations straight to the decoder.
    // Every encoder parameter now also reaches the output through the skips, so a finite step of
    // an encoder weight moves some pooling argmax far more often than with the plain unpooling
    // decoder (measured: ~40% of the probes, all in encoder.image.*): those probes are skipped as
    // inconclusive, and the encoder's own gradients are proved by the unpooling case above and the
    // per-op suites. Every decoder and refinement tensor must still have a strong passing probe.
    const s = await check({ encoder: 'vgg16-4ch', decoder: 'unet', refine: 'residual', inputs: 'normalised' }, { noise: 4 });
    expect(s.weak.filter((n) => !n.startsWith('encoder.image.'))).toEqual([]);
    expect(s.failed.length, s.failed.map(describeProbe).join('\n')).toBeLessThanOrEqual(Math.floor(0.05 * s.probes));
    expect(s.inconclusive.length).toBeLessThanOrEqual(Math.floor(0.5 * s.probes));
  });

  it('resnet50-dual + deconv + sigmoid (batch norm in eval mode)', async () => {
    // Batch norm: in training mode every forward moves the running statistics (and normalises with
    // the batch's own statistics, which the running ones never feed back into), so the finite
    // differences would be valid but leave the buffers changed; more to the point, at the tiny sizes
    // a fast test affords BN normalises over M = N*H*W values (4 at layer4 for one 64x64 input; a
    // single 32x32 input is refused), and the loss becomes so curved that f32 central differences
    // do not converge (measured: layer2.1.bn1.bias[7] gives -0.005 .. -0.116 for h = 1e-1 .. 1e-4).
    // So the check runs in eval mode, where BN is the affine map gamma (x - mean) / sqrt(var + eps)
    // + beta with the running statistics as constants: every conv and BN parameter's gradient
    // through the whole network is checked. (Training-mode BN's backward through the batch
    // statistics is checked against an f64 reference in test/ops/batch-norm.test.ts.) The buffers
    // are snapshotted and restored anyway, and the test below shows why training mode would need it.
    // Probes: the largest coordinate and the dense direction per conv weight, the dense direction
    // alone per vector (BN's gamma and beta: 4..128 values, covered whole by it): the 340 tensors are
    // the most expensive check of this folder.
    const probesFor = (_: string, shape: readonly number[]) => (shape.length === 1 ? ['dense' as const] : ['max' as const, 'dense' as const]);
    const s = await check({ encoder: 'resnet50-dual', decoder: 'deconv', refine: 'sigmoid' }, { eval: true, options: { probesFor } });
    // A few BN shifts/scales have gradients too small to resolve with steps below the biases' jitter
    // (a larger step would cross the kinks where a BN output equals its shift): at most 5% of tensors.
    expect(s.weak.filter((n) => !/\.(bn\d|downsample\.1)\.(weight|bias)$/.test(n))).toEqual([]);
    expect(s.weak.length, s.weak.join(', ')).toBeLessThanOrEqual(Math.floor(0.05 * s.tensors));
    expect(s.failed.length, s.failed.map(describeProbe).join('\n')).toBeLessThanOrEqual(Math.floor(0.05 * s.probes));
    expect(s.inconclusive).toEqual([]);
  });

  it('resnet50: a training-mode forward moves the running statistics, an eval-mode one does not', async () => {
    const model = new MattingModel({ encoder: 'resnet50-dual', refine: 'none', width: WIDTH, inputSize: 64 });
    const batch = syntheticBatch(1, 64);
    const stat = () => model.namedBuffers().find(([n]) => n === 'encoder.image.layer4.2.bn3.running_mean')![1].data();
    const restore = await snapshotBuffers(model);
    const before = await stat();
    model.eval();
    await take(evalLosses(model, batch).total);
    expect(await stat()).toEqual(before);
    model.train();
    const l1 = await take(evalLosses(model, batch).total);
    const after = await stat();
    expect(after).not.toEqual(before);
    // the training-mode loss does not depend on the running statistics
    expect(await take(evalLosses(model, batch).total)).toBe(l1);
    restore();
    expect(await stat()).toEqual(before);
    batch.dispose();
    model.dispose();
  });
});

describe('the gradient check has power', () => {
  it('catches a mis-scaled, sign-flipped or misplaced gradient in any kind of layer', async () => {
    const model = new MattingModel({ encoder: 'vgg16-dual', decoder: 'deconv', refine: 'sigmoid', width: WIDTH, inputSize: SIZE, seed: 0 });
    const batch = syntheticBatch(1, SIZE);
    jitterBiases(model, 0.05, 7);
    const targets = ['encoder.image.conv3_1.weight', 'encoder.trimap.fc6.weight', 'decoder.deconv4.weight', 'decoder.alpha.bias', 'refine.conv2.weight'];
    const filter = (n: string) => targets.includes(n);
    const tampers: Record<string, (g: Float32Array) => void> = {
      'scaled by 1.5': (g) => g.forEach((v, i) => (g[i] = 1.5 * v)),
      'sign flipped': (g) => g.forEach((v, i) => (g[i] = -v)),
      // what a transposed / mis-indexed kernel does: the right values on the wrong coordinates
      misplaced: (g) => g.reverse(),
    };
    const verified = (results: ProbeResult[], name: string) => results.some((r) => r.name === name && !r.probe.startsWith('random') && r.strong);
    const baseline = await gradCheck(model, batch, { filter });
    for (const name of targets) expect(verified(baseline.results, name), name).toBe(true);
    for (const [what, tamper] of Object.entries(tampers)) {
      const { results } = await gradCheck(model, batch, { filter, tamper: (_n, g) => tamper(g) });
      for (const name of targets) {
        // a one-element tensor reversed is itself: only the other tampers apply there
        if (what === 'misplaced' && name.endsWith('alpha.bias')) continue;
        const mine = results.filter((r) => r.name === name);
        const why = `${what}: ${name}\n${mine.map((r) => `${r.pass ? 'pass' : 'miss'} ${describeProbe(r)}`).join('\n')}`;
        expect(verified(results, name), why).toBe(false);
        expect(mine.filter((r) => !r.probe.startsWith('random')).every((r) => !r.pass), why).toBe(true);
      }
    }
    batch.dispose();
    model.dispose();
  });
});
