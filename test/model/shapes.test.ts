/**
 * Output shapes and ranges of every encoder x decoder x refinement combination, at two input sizes
 * and batch 1 and 2, on a tiny model (width 1/32), forward only (noGrad).
 */
import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { MattingModel } from '../../matting/graph/model.ts';
import { tensor } from '../../engine/creation.ts';
import { keep, tidy } from '../../engine/scope.ts';
import { noGrad } from '../../engine/autograd/graph.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { validCombos } from './param-table.ts';
import { slice } from '../../engine/ops/concat.ts';
import { mul, sub } from '../../engine/ops/arith.ts';

/** Sample b of a batch, as a batch of one. */
const tensorSlice = (t: Tensor, b: number): Tensor => slice(t, 0, b, b + 1);

useEngine();

const WIDTH = 1 / 32;

/** A deterministic image (0..255, smooth + noise) and a trimap with all three values. */
function inputs(n: number, s: number): { image: Tensor; trimap: Tensor } {
  const img = new Float32Array(n * 3 * s * s);
  const tri = new Float32Array(n * s * s);
  let seed = 12345 + n * 7 + s;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let b = 0; b < n; b++) {
    for (let c = 0; c < 3; c++) for (let y = 0; y < s; y++) for (let x = 0; x < s; x++) {
      img[((b * 3 + c) * s + y) * s + x] = Math.min(255, Math.max(0, 128 + 90 * Math.sin((x + 2 * c + b) / 5) * Math.cos(y / 7) + 30 * (rnd() - 0.5)));
    }
    for (let y = 0; y < s; y++) for (let x = 0; x < s; x++) {
      const r = Math.hypot(x - s / 2, y - s / 2) / s;
      tri[(b * s + y) * s + x] = r < 0.2 ? 255 : r < 0.35 ? 128 : 0;
    }
  }
  return { image: tensor(img, [n, 3, s, s]), trimap: tensor(tri, [n, 1, s, s]) };
}

function stats(v: Float32Array): { min: number; max: number; finite: boolean } {
  let min = Infinity, max = -Infinity, finite = true;
  for (const x of v) {
    if (!Number.isFinite(x)) finite = false;
    min = Math.min(min, x);
    max = Math.max(max, x);
  }
  return { min, max, finite };
}

describe('model output shapes', () => {
  for (const [encoder, decoder, refine] of validCombos()) {
    it(`${encoder} + ${decoder} + ${refine}`, async () => {
      const model = new MattingModel({ encoder, decoder, refine, width: WIDTH, inputSize: 32 });
      try {
        for (const s of [32, 64]) {
          for (const n of [1, 2]) {
            // Batch norm in training mode needs more than one value per channel: ResNet's layer4 is
            // 1x1 at S=32, so a single 32x32 image only runs in eval mode (as in PyTorch).
            const bnTooSmall = encoder === 'resnet50-dual' && s === 32 && n === 1;
            model.train(!bnTooSmall);
            const out = noGrad(() =>
              tidy(() => {
                const { image, trimap } = inputs(n, s);
                const o = model.forward(image, trimap);
                return { raw: keep(o.rawAlpha), refined: o.refinedAlpha ? keep(o.refinedAlpha) : null };
              }),
            );
            const where = `S=${s} N=${n}`;
            expect(out.raw.shape, where).toEqual([n, 1, s, s]);
            const raw = stats(await out.raw.data());
            expect(raw.finite, where).toBe(true);
            // sigmoid outputs: inside [0, 1] (f32 rounds a sigmoid of |logit| > ~17 to exactly 1)
            expect(raw.min, where).toBeGreaterThanOrEqual(0);
            expect(raw.max, where).toBeLessThanOrEqual(1);
            expect(raw.max, `${where}: raw alpha is not constant`).toBeGreaterThan(raw.min);
            if (refine === 'none') {
              expect(out.refined, where).toBeNull();
            } else {
              expect(out.refined, where).not.toBeNull();
              expect(out.refined!.shape, where).toEqual([n, 1, s, s]);
              const r = stats(await out.refined!.data());
              expect(r.finite, where).toBe(true);
              expect(r.min, where).toBeGreaterThanOrEqual(0);
              expect(r.max, where).toBeLessThanOrEqual(1);
            }
            out.raw.dispose();
            out.refined?.dispose();
          }
        }
        if (encoder === 'resnet50-dual') {
          model.train(true);
          const { image, trimap } = inputs(1, 32);
          expect(() => noGrad(() => tidy(() => model.forward(image, trimap)))).toThrow(/more than 1 value per channel/);
          image.dispose();
          trimap.dispose();
        }
      } finally {
        model.dispose();
      }
    });
  }

  it('a batch is processed sample by sample (eval mode): batch of 2 == two batches of 1', async () => {
    for (const [encoder, decoder, refine] of [['vgg16-dual', 'unpool', 'sigmoid'], ['vgg16-4ch', 'deconv', 'residual'], ['resnet50-dual', 'deconv', 'sigmoid']] as const) {
      const model = new MattingModel({ encoder, decoder, refine, width: WIDTH, inputSize: 32 }).eval();
      const run = (n: number, take: number) =>
        noGrad(() =>
          tidy(() => {
            const { image, trimap } = inputs(n, 32);
            const one = (t: Tensor) => (take < 0 ? t : tensorSlice(t, take));
            const o = model.forward(one(image), one(trimap));
            return [keep(o.rawAlpha), keep(o.refinedAlpha!)];
          }),
        );
      const both = await Promise.all(run(2, -1).map((t) => t.data()));
      for (const b of [0, 1]) {
        const single = await Promise.all(run(2, b).map((t) => t.data()));
        for (const k of [0, 1]) {
          const part = both[k]!.subarray(b * 32 * 32, (b + 1) * 32 * 32);
          const maxDiff = part.reduce((m, v, i) => Math.max(m, Math.abs(v - single[k]![i]!)), 0);
          expect(maxDiff, `${encoder}+${decoder}+${refine} sample ${b} output ${k}`).toBeLessThan(1e-5);
        }
      }
      model.dispose();
    }
  });

  it('imageMean normalises the image for the encoder only (and survives tidy scopes)', async () => {
    // Caffe / TF-slim VGG mean; torchvision's mean and std (0.485/0.456/0.406, 0.229/0.224/0.225) x 255
    const kinds = {
      imagenet: { mean: [123.68, 116.779, 103.939], std: [1, 1, 1] },
      torchvision: { mean: [0.485, 0.456, 0.406].map((v) => v * 255), std: [0.229, 0.224, 0.225].map((v) => v * 255) },
    } as const;
    for (const [kind, { mean, std }] of Object.entries(kinds)) {
      const normalised = new MattingModel({ width: WIDTH, inputSize: 32, imageMean: kind as 'imagenet' | 'torchvision', seed: 3 });
      const plain = new MattingModel({ width: WIDTH, inputSize: 32, imageMean: 'none', seed: 3 });
      for (let round = 0; round < 2; round++) {
        // the constants are created lazily inside the first forward's tidy scope: they must outlive it
        const [a, b] = noGrad(() =>
          tidy(() => {
            const { image, trimap } = inputs(1, 32);
            const data = new Float32Array(3 * 32 * 32);
            const plane = (i: number) => Math.floor(i / 1024);
            const shift = tensor(data.map((_, i) => mean[plane(i)]!), [1, 3, 32, 32]);
            const scale = tensor(data.map((_, i) => 1 / std[plane(i)]!), [1, 3, 32, 32]);
            const ra = normalised.forward(image, trimap).rawAlpha;
            const rb = plain.forward(mul(sub(image, shift), scale), trimap).rawAlpha;
            return [keep(ra), keep(rb)];
          }),
        );
        const [va, vb] = [await a!.data(), await b!.data()];
        expect(va.reduce((m, v, i) => Math.max(m, Math.abs(v - vb[i]!)), 0), `${kind} round ${round}`).toBeLessThan(1e-5);
        a!.dispose();
        b!.dispose();
      }
      normalised.dispose();
      plain.dispose();
    }
  });

  it('resnet50-dual + unpool is refused with a clear error', () => {
    expect(() => new MattingModel({ encoder: 'resnet50-dual', decoder: 'unpool', width: WIDTH, inputSize: 32 })).toThrow(
      /decoder 'unpool' needs a VGG encoder/,
    );
  });

  it('rejects malformed inputs with clear errors', () => {
    const model = new MattingModel({ width: WIDTH, inputSize: 32 });
    noGrad(() =>
      tidy(() => {
        const { image, trimap } = inputs(1, 32);
        const { trimap: t2 } = inputs(2, 32);
        expect(() => model.forward(trimap, trimap)).toThrow(/\[N, 3, H, W\]/);
        expect(() => model.forward(image, t2)).toThrow(/trimap must be \[1, 1, 32, 32\]/);
        const odd = tensor(new Float32Array(3 * 48 * 48), [1, 3, 48, 48]);
        const oddT = tensor(new Float32Array(48 * 48), [1, 1, 48, 48]);
        expect(() => model.forward(odd, oddT)).toThrow(/multiple of 32/);
      }),
    );
    model.dispose();
  });
});
