import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useEngine } from '../helpers/gpu.ts';
import { MattingModel } from '../../matting/graph/model.ts';
import { saveCheckpoint, loadCheckpoint, disposeCheckpoint } from '../../matting/checkpoint.ts';
import { Adam } from '../../engine/optim/adam.ts';
import { backward } from '../../engine/autograd/backward.ts';
import { randn, tensor } from '../../engine/creation.ts';
import { tidy } from '../../engine/scope.ts';
import { mean, square } from '../../engine/ops/arith.ts';
import { makeConfig } from '../../matting/graph/config.ts';
import { Trainer, type TrainOptions } from '../../matting/train/trainer.ts';
import { loadPretrained, vggNameMap } from '../../matting/pretrained.ts';
import { writeSafetensors } from '../../engine/io/safetensors-write.ts';
import { f32Entry } from '../../engine/io/safetensors-common.ts';

useEngine();

const tmp = () => mkdtempSync(join(tmpdir(), 'matting-ckpt-'));
const tinyConfig = { encoder: 'vgg16-dual', decoder: 'deconv', refine: 'sigmoid', inputSize: 32, width: 1 / 32, seed: 3 } as const;

async function allValues(m: Map<string, { data(): Promise<Float32Array> }>): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [k, t] of m) out.set(k, await t.data());
  return out;
}

describe('checkpoints', () => {
  it('round-trip the model, its buffers and the optimiser state bit-exactly', async () => {
    const model = new MattingModel({ ...tinyConfig, encoder: 'resnet50-dual' }); // has BN buffers
    const opt = new Adam(model.trainableParameters(), { lr: 1e-3 });
    tidy(() => {
      // batch 2: ResNet's 1x1 map at 1/32 of 32 px needs more than one value per channel for batch norm
      const out = model.forward(randn([2, 3, 32, 32], { seed: 1, std: 50, mean: 128 }), tensor(new Float32Array(2 * 32 * 32).fill(128), [2, 1, 32, 32]));
      backward(mean(square(out.refinedAlpha!)));
    });
    opt.step();
    const path = join(tmp(), 'a.safetensors');
    await saveCheckpoint(path, model, opt, { step: 1, epoch: 0, batchIndex: 1, optimizerSteps: Object.fromEntries(opt.stepCounts()), learningRates: [1e-3], extra: {} });
    const ck = await loadCheckpoint(path);
    expect(ck.config).toEqual(model.config);
    expect(ck.training!.step).toBe(1);
    const want = await allValues(model.stateDict());
    const got = await allValues(ck.model);
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [k, v] of want) expect(Buffer.from(got.get(k)!.buffer).equals(Buffer.from(v.buffer)), k).toBe(true);
    const wantOpt = await allValues(opt.stateTensors());
    const gotOpt = await allValues(ck.optimizer);
    expect(gotOpt.size).toBe(wantOpt.size);
    for (const [k, v] of wantOpt) expect(Buffer.from(gotOpt.get(k)!.buffer).equals(Buffer.from(v.buffer)), k).toBe(true);
    // A second model loads it exactly
    const other = new MattingModel({ ...tinyConfig, encoder: 'resnet50-dual', seed: 99 });
    other.loadStateDict(ck.model);
    const loaded = await allValues(other.stateDict());
    for (const [k, v] of want) expect(Buffer.from(loaded.get(k)!.buffer).equals(Buffer.from(v.buffer)), k).toBe(true);
    expect(Array.from(got.get('encoder.image.bn1.num_batches_tracked')!)).toEqual([1]);
    disposeCheckpoint(ck);
    // PyTorch stores the BN counter as int64: check the dtype in the raw header
    const raw = readFileSync(path);
    const header = JSON.parse(raw.subarray(8, 8 + Number(raw.readBigUInt64LE(0))).toString()) as Record<string, { dtype: string }>;
    expect(header['encoder.image.bn1.num_batches_tracked']!.dtype).toBe('I64');
    expect(header['encoder.image.conv1.weight']!.dtype).toBe('F32');
    model.dispose();
    other.dispose();
    opt.dispose();
  });

  it('rejects a file that is not a matting-engine checkpoint, and mismatched weights by name', async () => {
    const dir = tmp();
    const plain = join(dir, 'plain.safetensors');
    await writeSafetensors(plain, { x: f32Entry([1], new Float32Array([1])) });
    await expect(loadCheckpoint(plain)).rejects.toThrow(/not a matting-engine checkpoint/);
    const model = new MattingModel(tinyConfig);
    expect(() => model.loadStateDict(new Map([['decoder.alpha.weight', new Float32Array(3)]]))).toThrow(/decoder\.alpha\.weight[\s\S]*missing/);
    model.dispose();
  });

  it('resumed training produces the same losses as the uninterrupted run', async () => {
    const base = (outDir: string, steps: number, resume: string | null): TrainOptions => ({
      config: makeConfig(tinyConfig),
      stage: 'joint',
      batchSize: 2,
      lr: 1e-3,
      schedule: 'cosine',
      warmupSteps: 2,
      steps,
      seed: 11,
      outDir,
      data: { kind: 'synthetic', count: 5 }, // an odd count: resuming crosses an epoch boundary
      workers: 0,
      logEvery: 1,
      checkpointEvery: 3,
      valDir: null,
      valEvery: 0,
      valLimit: 0,
      resume,
      pretrained: null,
      clipNorm: 1,
      weightDecay: 0,
      onNonFinite: 'stop',
    });
    const losses = (dir: string) =>
      readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; total: number });
    const full = tmp();
    await new Trainer(base(full, 6, null), () => {}).run();
    const first = tmp();
    await new Trainer(base(first, 3, null), () => {}).run();
    const ckpt = join(tmp(), 'step3.safetensors');
    copyFileSync(join(first, 'last.safetensors'), ckpt);
    const second = tmp();
    await new Trainer(base(second, 6, ckpt), () => {}).run();
    const a = losses(full).filter((r) => r.step > 3);
    const b = losses(second);
    expect(b.map((r) => r.step)).toEqual([4, 5, 6]);
    for (let i = 0; i < 3; i++) expect(Math.abs(b[i]!.total - a[i]!.total)).toBeLessThanOrEqual(1e-6 * Math.abs(a[i]!.total));
    // and the steps before the cut agree with the first run (same seed, same data order)
    expect(losses(first).map((r) => r.total)).toEqual(losses(full).filter((r) => r.step <= 3).map((r) => r.total));
  });

  it('imports torchvision-named VGG-16 weights, reshaping fc6 and reporting mismatches by name', async () => {
    const model = new MattingModel({ ...tinyConfig, encoder: 'vgg16-4ch' });
    const own = model.stateDict();
    const entries: Record<string, ReturnType<typeof f32Entry>> = {};
    const expected = new Map<string, Float32Array>();
    let k = 0;
    for (const [src, dst] of vggNameMap()) {
      const t = own.get(`encoder.image.${dst}`)!;
      let shape = [...t.shape];
      if (dst === 'conv1_1.weight') shape = [shape[0]!, 3, 3, 3]; // ImageNet's RGB conv1_1
      const n = shape.reduce((a, b) => a * b, 1);
      const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i + 17 * k++));
      if (dst === 'fc6.weight') shape = [shape[0]!, n / shape[0]!]; // torchvision's classifier.0 is 2-D
      entries[src] = f32Entry(shape, data);
      expected.set(`encoder.image.${dst}`, data);
    }
    const file = join(tmp(), 'vgg16.safetensors');
    await writeSafetensors(file, entries);
    const before = await own.get('encoder.image.conv1_1.weight')!.data();
    const report = await loadPretrained(model, file);
    expect(report.loaded).toContain('encoder.image.fc6.weight');
    for (const [name, data] of expected) {
      const got = await own.get(name)!.data();
      if (name.endsWith('conv1_1.weight')) {
        // channels 0..2 from the file, channel 3 keeps the model's own init
        const [o, , kh, kw] = own.get(name)!.shape as number[];
        const kk = kh! * kw!;
        for (let oc = 0; oc < o!; oc++) {
          for (let c = 0; c < 4; c++) {
            for (let j = 0; j < kk; j++) {
              const want = c < 3 ? data[(oc * 3 + c) * kk + j]! : before[(oc * 4 + c) * kk + j]!;
              expect(got[(oc * 4 + c) * kk + j]).toBe(want);
            }
          }
        }
      } else expect(Array.from(got)).toEqual(Array.from(data));
    }
    // a wrong shape is reported by name and shape, and nothing is loaded
    entries['features.2.weight'] = f32Entry([1, 1, 1, 1], new Float32Array(1));
    writeFileSync(file, '');
    await writeSafetensors(file, entries);
    await expect(loadPretrained(model, file)).rejects.toThrow(/encoder\.image\.conv1_2\.weight.*\[1,1,1,1\]/);
    model.dispose();
  });
});
