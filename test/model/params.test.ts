/**
 * Parameter counts, names and shapes of every encoder x decoder x refinement combination, against
 * the table written out independently in ./param-table.ts (plain arithmetic on dim-model.md's
 * channel tables). Full-width models are only counted (building one allocates ~1 GB and draws
 * ~235M random numbers); the model itself is built at widths 1/16 and 1/8.
 */
import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { MattingModel } from '../../matting/graph/model.ts';
import { countParams, paramTable, resnet50Count, sizeOf, validCombos, vgg16ConvCount, type Entry } from './param-table.ts';

useEngine();

describe('parameter counts at full width (arithmetic only)', () => {
  it('the table reproduces the published counts of its building blocks', () => {
    // torchvision vgg16().features: 14,714,688 parameters
    expect(vgg16ConvCount(3)).toBe(14_714_688);
    // torchvision resnet50() has 25,557,032 parameters; its fc (2048 x 1000 + 1000) is 2,049,000
    expect(resnet50Count(3)).toBe(25_557_032 - 2_049_000);
    expect(resnet50Count(3)).toBe(23_508_032);
    // the other inputs change only conv1_1 / conv1: 64 x 3 x 3 (VGG) or 64 x 7 x 7 (ResNet) per channel
    expect(vgg16ConvCount(1)).toBe(14_714_688 - 2 * 64 * 9);
    expect(vgg16ConvCount(4)).toBe(14_714_688 + 64 * 9);
    expect(resnet50Count(1)).toBe(23_508_032 - 2 * 64 * 49);
  });

  it('every combination at width 1 adds up (trunks + fc6 + decoder + refinement)', () => {
    const fc6 = 512 * 4096 * 49 + 4096; // 7x7 SAME conv, 4096 channels
    const decoderAfter6 = (512 * 512 + 512 * 256 + 256 * 128 + 128 * 64 + 64 * 64) * 25 + (512 + 256 + 128 + 64 + 64) + (64 * 25 + 1);
    const deconv6 = (cin: number) => cin * 512 + 512; // 1x1, transposed or not
    const refine = 4 * 64 * 9 + 64 + 2 * (64 * 64 * 9 + 64) + 64 * 9 + 1;
    expect(refine).toBe(76_801);
    const expected = {
      'vgg16-dual': vgg16ConvCount(3) + vgg16ConvCount(1) + 2 * fc6 + deconv6(8192) + decoderAfter6,
      'vgg16-4ch': vgg16ConvCount(4) + fc6 + deconv6(4096) + decoderAfter6,
      'resnet50-dual': resnet50Count(3) + resnet50Count(1) + deconv6(4096) + decoderAfter6,
    };
    // literal totals, computed separately by hand (Python) from the same channel tables
    expect(expected).toEqual({ 'vgg16-dual': 250_111_553, 'vgg16-4ch': 130_536_897, 'resnet50-dual': 60_066_881 });
    // the unet decoder: deconv6 1x1 to 512, then 3x3 convs on concat(unpooled, skip): 1024->512,
    // 1024->256, 512->128, 256->64, 128+4 (the input) ->64, and the 3x3 alpha conv 64->1
    const unetAfter6 = (1024 * 512 + 1024 * 256 + 512 * 128 + 256 * 64 + 132 * 64) * 9 + (512 + 256 + 128 + 64 + 64) + (64 * 9 + 1);
    const unet = { 'vgg16-dual': vgg16ConvCount(3) + vgg16ConvCount(1) + 2 * fc6 + deconv6(8192) + unetAfter6, 'vgg16-4ch': vgg16ConvCount(4) + fc6 + deconv6(4096) + unetAfter6 };
    expect(unet['vgg16-4ch']).toBe(14_715_264 + 102_764_544 + 2_097_664 + 7_892_801);
    const rows: string[] = [];
    for (const [e, d, r] of validCombos()) {
      const n = countParams(paramTable(e, d, r, 1));
      const base = d === 'unet' ? unet[e as 'vgg16-dual' | 'vgg16-4ch'] : expected[e];
      expect(n, `${e} + ${d} + ${r}`).toBe(base + (r === 'none' ? 0 : refine));
      rows.push(`${`${e} + ${d} + ${r}`.padEnd(34)} ${n.toLocaleString('en-US').padStart(12)}`);
    }
    console.log(`parameters at width 1:\n${rows.join('\n')}`);
  });
});

/** Names, shapes (PyTorch layouts) and order of the model's parameters and buffers vs the table. */
function compareWithTable(model: MattingModel, table: Entry[]): void {
  const params = model.namedParameters().map(([name, t]) => ({ name, shape: [...t.shape] }));
  const buffers = model.namedBuffers().map(([name, t]) => ({ name, shape: [...t.shape] }));
  const want = (kind: Entry['kind']) => table.filter((e) => e.kind === kind).map(({ name, shape }) => ({ name, shape }));
  // same set of names first (a readable diff), then shapes, then PyTorch's registration order
  expect(params.map((p) => p.name).sort()).toEqual(want('param').map((p) => p.name).sort());
  expect(Object.fromEntries(params.map((p) => [p.name, p.shape]))).toEqual(Object.fromEntries(want('param').map((p) => [p.name, p.shape])));
  expect(params.map((p) => p.name)).toEqual(want('param').map((p) => p.name));
  expect(Object.fromEntries(buffers.map((p) => [p.name, p.shape]))).toEqual(Object.fromEntries(want('buffer').map((p) => [p.name, p.shape])));
  // the checkpoint's content in PyTorch's state_dict order (per module: parameters, buffers, children)
  expect([...model.stateDict().keys()]).toEqual(table.map((e) => e.name));
  expect(model.parameterCount()).toBe(countParams(table));
  expect(model.parameterCount()).toBe(params.reduce((n, p) => n + sizeOf(p.shape), 0));
  for (const [name, t] of model.namedParameters()) expect(t.requiresGrad, name).toBe(true);
  for (const [name, t] of model.namedBuffers()) expect(t.requiresGrad, name).toBe(false);
}

describe('the built model matches the independent table', () => {
  for (const width of [1 / 16, 1 / 8]) {
    for (const [encoder, decoder, refine] of validCombos()) {
      it(`${encoder} + ${decoder} + ${refine} at width 1/${1 / width}`, () => {
        const model = new MattingModel({ encoder, decoder, refine, width, inputSize: 32 });
        try {
          compareWithTable(model, paramTable(encoder, decoder, refine, width));
        } finally {
          model.dispose();
        }
      });
    }
  }

  it('names follow the docs naming table (spot checks) and layouts are PyTorch\'s', () => {
    const w = 1 / 16;
    const dual = new MattingModel({ encoder: 'vgg16-dual', decoder: 'deconv', refine: 'sigmoid', width: w, inputSize: 32 });
    const shapes = new Map(dual.namedParameters().map(([n, t]) => [n, [...t.shape]]));
    expect(shapes.get('encoder.image.conv1_1.weight')).toEqual([4, 3, 3, 3]); // [out, in, kh, kw]
    expect(shapes.get('encoder.trimap.conv1_1.weight')).toEqual([4, 1, 3, 3]);
    expect(shapes.get('encoder.image.conv5_3.bias')).toEqual([32]);
    expect(shapes.get('encoder.image.fc6.weight')).toEqual([256, 32, 7, 7]);
    expect(shapes.get('encoder.trimap.fc6.bias')).toEqual([256]);
    expect(shapes.get('decoder.deconv6.weight')).toEqual([512, 32, 1, 1]); // transposed: [in, out, kh, kw]
    expect(shapes.get('decoder.deconv2.weight')).toEqual([8, 4, 5, 5]);
    expect(shapes.get('decoder.deconv1.weight')).toEqual([4, 4, 5, 5]);
    expect(shapes.get('decoder.alpha.weight')).toEqual([1, 4, 5, 5]);
    expect(shapes.get('refine.conv1.weight')).toEqual([4, 4, 3, 3]);
    expect(shapes.get('refine.alpha.bias')).toEqual([1]);
    expect([...shapes.keys()].some((n) => n.startsWith('encoder.trimap.') && n.includes('conv1_1'))).toBe(true);
    dual.dispose();

    const four = new MattingModel({ encoder: 'vgg16-4ch', decoder: 'unpool', refine: 'none', width: w, inputSize: 32 });
    const names4 = four.namedParameters().map(([n]) => n);
    expect(four.namedParameters().find(([n]) => n === 'encoder.image.conv1_1.weight')![1].shape).toEqual([4, 4, 3, 3]);
    expect(names4.some((n) => n.startsWith('encoder.trimap.') || n.startsWith('refine.'))).toBe(false);
    expect(four.namedParameters().find(([n]) => n === 'decoder.deconv6.weight')![1].shape).toEqual([32, 256, 1, 1]); // a conv here
    four.dispose();

    const res = new MattingModel({ encoder: 'resnet50-dual', decoder: 'deconv', refine: 'residual', width: w, inputSize: 32 });
    const rp = new Map(res.namedParameters().map(([n, t]) => [n, [...t.shape]]));
    const rb = new Map(res.namedBuffers().map(([n, t]) => [n, [...t.shape]]));
    expect(rp.get('encoder.image.conv1.weight')).toEqual([4, 3, 7, 7]);
    expect(rp.has('encoder.image.conv1.bias')).toBe(false);
    expect(rp.get('encoder.trimap.layer1.0.downsample.0.weight')).toEqual([16, 4, 1, 1]);
    expect(rp.get('encoder.image.layer4.2.bn3.weight')).toEqual([128]);
    expect(rb.get('encoder.image.layer4.2.bn3.running_var')).toEqual([128]);
    expect(rb.get('encoder.image.layer4.2.bn3.running_mean')).toEqual([128]);
    expect(rb.get('encoder.trimap.bn1.num_batches_tracked')).toEqual([]);
    expect(rp.has('encoder.image.layer4.2.bn3.running_var')).toBe(false);
    expect(rp.get('decoder.deconv6.weight')).toEqual([256, 32, 1, 1]);
    res.dispose();
  });
});
