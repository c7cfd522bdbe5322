import { describe, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { checkOp } from '../helpers/op-check.ts';
import * as ref from '../reference/elementwise.ts';
import * as act from '../reference/activation.ts';
import { add, sub, mul, div, affine, sqrt, square, relu, sigmoid, where, sum, mean, reshape } from '../../engine/ops/arith.ts';
import type { Arr } from '../reference/array.ts';

useEngine();

const binaryShapes: [number[], number[]][] = [
  [[7], [7]],
  [[3, 5], [3, 5]],
  [[3, 4, 7, 7], [1, 4, 1, 1]], // bias over channels
  [[3, 1, 13, 13], [3, 3, 13, 13]], // mask over channels
  [[2, 5, 2, 2], [2, 5, 2, 2]],
  [[1, 64, 1, 1], [3, 64, 2, 2]],
  [[5], [1]],
  [[2, 3, 4], [4]],
];

const binaries = { add, sub, mul, div } as const;

describe('element-wise binary ops with broadcasting', () => {
  for (const [name, fn] of Object.entries(binaries)) {
    for (const [sa, sb] of binaryShapes) {
      it(`${name} [${sa}] with [${sb}]`, async () => {
        const op = name as ref.BinaryOp;
        await checkOp({
          op: name,
          label: `[${sa}] [${sb}]`,
          // keep divisors away from 0
          inputs: [{ shape: sa, grad: true }, { shape: sb, grad: true, ...(name === 'div' ? { lo: 0.5, hi: 2 } : {}) }],
          gpu: ([a, b]) => fn(a!, b!),
          ref: ([a, b]) => ref.binary(op, a!, b!),
          refBackward: ([a, b], dy) => {
            const g = ref.binaryBackward(op, a!, b!, dy);
            return [g.da, g.db];
          },
        });
      });
    }
  }
});

const unaryShapes = [[1], [7], [3, 5, 13, 13], [2, 64, 2, 2], [1, 1, 32, 32]];

const unaries: { name: string; gpu: (t: any) => any; ref: (a: Arr) => Arr; back: (x: Arr, y: Arr, dy: Arr) => Arr; lo?: number }[] = [
  { name: 'relu', gpu: relu, ref: act.relu, back: (x, _y, dy) => act.reluBackward(x, dy) },
  { name: 'sigmoid', gpu: sigmoid, ref: act.sigmoid, back: (_x, y, dy) => act.sigmoidBackward(y, dy) },
  { name: 'sqrt', gpu: sqrt, ref: ref.sqrt, back: (_x, y, dy) => ref.sqrtBackward(y, dy), lo: 0.1 },
  { name: 'square', gpu: square, ref: ref.square, back: (x, _y, dy) => ref.squareBackward(x, dy) },
];

describe('element-wise unary ops', () => {
  for (const u of unaries) {
    for (const shape of unaryShapes) {
      it(`${u.name} [${shape}]`, async () => {
        await checkOp({
          op: u.name,
          label: `[${shape}]`,
          inputs: [{ shape, grad: true, lo: u.lo ?? -3, hi: 3 }],
          gpu: ([x]) => u.gpu(x),
          ref: ([x]) => u.ref(x!),
          refBackward: ([x], dy) => [u.back(x!, u.ref(x!), dy)],
        });
      });
    }
  }
  it('sigmoid stays finite for large inputs', async () => {
    await checkOp({
      op: 'sigmoid',
      label: 'large |x|',
      inputs: [{ shape: [6], grad: true, data: [-200, -90, -1, 1, 90, 200] }],
      gpu: ([x]) => sigmoid(x!),
      ref: ([x]) => act.sigmoid(x!),
      refBackward: ([x], dy) => [act.sigmoidBackward(act.sigmoid(x!), dy)],
    });
  });
  for (const [scale, shift] of [[2, 0], [1, -3], [-0.5, 0.25]] as const) {
    it(`affine ${scale}x+${shift}`, async () => {
      await checkOp({
        op: 'affine',
        label: `${scale},${shift}`,
        inputs: [{ shape: [3, 4, 5], grad: true }],
        gpu: ([x]) => affine(x!, scale, shift),
        ref: ([x]) => ref.addScalar(ref.mulScalar(x!, scale), shift),
        refBackward: (_xs, dy) => [ref.mulScalarBackward(dy, scale)],
      });
    });
  }
});

describe('where', () => {
  for (const [sm, sa, sb] of [
    [[7], [7], [7]],
    [[3, 1, 5, 5], [3, 4, 5, 5], [1]],
    [[2, 1, 7, 7], [2, 3, 7, 7], [2, 3, 7, 7]],
  ] as number[][][]) {
    it(`mask [${sm}] a [${sa}] b [${sb}]`, async () => {
      const n = sm!.reduce((x, y) => x * y, 1);
      await checkOp({
        op: 'where',
        label: `[${sm}] [${sa}] [${sb}]`,
        inputs: [{ shape: sm!, data: Array.from({ length: n }, (_, i) => ((i * 7) % 3 === 0 ? 1 : 0)) }, { shape: sa!, grad: true }, { shape: sb!, grad: true }],
        gpu: ([m, a, b]) => where(m!, a!, b!),
        ref: ([m, a, b]) => ref.where(m!, a!, b!),
        refBackward: ([m, a, b], dy) => {
          const g = ref.whereBackward(m!, dy, a!.shape, b!.shape);
          return [null, g.da, g.db];
        },
      });
    });
  }
});

describe('sum and mean over axes', () => {
  const cases: [number[], number[] | null, boolean][] = [
    [[7], null, false],
    [[3, 5], [1], false],
    [[3, 5], [0], true],
    [[3, 4, 13, 13], [0, 2, 3], false], // per-channel (batch norm's statistics)
    [[3, 4, 13, 13], null, false],
    [[2, 64, 7, 7], [1], true],
    [[1, 1, 32, 32], [2, 3], true],
    [[3, 5, 32, 32], null, false], // long sums split into partials
  ];
  for (const [shape, axes, keep] of cases) {
    for (const kind of ['sum', 'mean'] as const) {
      it(`${kind} [${shape}] axes ${axes ?? 'all'} keepDims ${keep}`, async () => {
        await checkOp({
          op: kind,
          label: `[${shape}] ${axes} ${keep}`,
          inputs: [{ shape, grad: true }],
          gpu: ([x]) => (kind === 'sum' ? sum(x!, axes, keep) : mean(x!, axes, keep)),
          ref: ([x]) => (kind === 'sum' ? ref.sum(x!, axes, keep) : ref.mean(x!, axes, keep)),
          refBackward: ([x], dy) => [kind === 'sum' ? ref.sumBackward(dy, x!.shape, axes, keep) : ref.meanBackward(dy, x!.shape, axes, keep)],
        });
      });
    }
  }
  it('reshape passes gradients through', async () => {
    await checkOp({
      op: 'reshape',
      label: '[2,3,4]->[6,4]',
      inputs: [{ shape: [2, 3, 4], grad: true }],
      gpu: ([x]) => reshape(x!, [6, -1]),
      ref: ([x]) => ({ shape: [6, 4], data: x!.data }),
      refBackward: (_xs, dy) => [{ shape: [2, 3, 4], data: dy.data }],
    });
  });
});
