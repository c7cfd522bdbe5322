import { describe, expect, it } from 'vitest';
import { arr, mulberry32, randomArr } from './array.ts';
import { type BatchNorm2dOpts, batchNorm2d, batchNorm2dBackward } from './batch-norm.ts';
import { checkBackward, expectClose } from './grad-check.ts';

// x: [N=2, C=2, H=1, W=2], data order n0c0, n0c1, n1c0, n1c1
// channel 0 values {2, 2, 4, 4}: mean 3, biased var 1, unbiased var 4/3
// channel 1 values {5, 3, 5, 3}: mean 4, biased var 1, unbiased var 4/3
const x = arr([2, 2, 1, 2], [2, 2, 5, 3, 4, 4, 5, 3]);
const gamma = arr([2], [2, -1]);
const beta = arr([2], [1, 0]);

describe('batchNorm2d forward, hand-computed', () => {
  it('training: batch statistics, eps inside the sqrt, PyTorch running update', () => {
    // eps = 3 -> invStd = 1/sqrt(1 + 3) = 0.5 for both channels.
    // c0: xhat = (x - 3) * 0.5 = [-0.5, -0.5, 0.5, 0.5]; y = 2*xhat + 1 = [0, 0, 2, 2]
    // c1: xhat = (x - 4) * 0.5 = [0.5, -0.5, 0.5, -0.5]; y = -xhat = [-0.5, 0.5, -0.5, 0.5]
    // running mean: 0.9*[0, 4] + 0.1*[3, 4] = [0.3, 4]
    // running var (unbiased 4/3): 0.9*[1, 2] + 0.1*4/3 = [0.9 + 0.1333.., 1.8 + 0.1333..]
    const o: BatchNorm2dOpts = { training: true, eps: 3, momentum: 0.1, runningMean: arr([2], [0, 4]), runningVar: arr([2], [1, 2]) };
    const r = batchNorm2d(x, gamma, beta, o);
    expectClose(r.y, [0, 0, -0.5, 0.5, 2, 2, -0.5, 0.5]);
    expectClose(r.newRunningMean, [0.3, 4]);
    expectClose(r.newRunningVar, [0.9 + 0.4 / 3, 1.8 + 0.4 / 3]);
    // the options' running stats are not mutated
    expectClose(o.runningMean, [0, 4]);
  });

  it('eval: running statistics, no update', () => {
    // running mean [1, 0], var [1, 13], eps 3 -> invStd [0.5, 0.25]
    // c0: (x - 1)*0.5*2 + 1 = x -> [2, 2, 4, 4]; c1: x*0.25*(-1) -> [-1.25, -0.75, -1.25, -0.75]
    const o: BatchNorm2dOpts = { training: false, eps: 3, momentum: 0.1, runningMean: arr([2], [1, 0]), runningVar: arr([2], [1, 13]) };
    const r = batchNorm2d(x, gamma, beta, o);
    expectClose(r.y, [2, 2, -1.25, -0.75, 4, 4, -1.25, -0.75]);
    expectClose(r.newRunningMean, [1, 0]);
    expectClose(r.newRunningVar, [1, 13]);
  });

  it('training refuses a single value per channel', () => {
    const o: BatchNorm2dOpts = { training: true, eps: 1e-5, momentum: 0.1, runningMean: arr([1]), runningVar: arr([1], [1]) };
    expect(() => batchNorm2d(arr([1, 1, 1, 1], [3]), arr([1], [1]), arr([1]), o)).toThrow();
  });
});

describe('batchNorm2d backward vs finite differences', () => {
  const shapes = [
    [2, 3, 4, 5],
    [1, 2, 3, 3],
    [4, 1, 1, 1],
    [3, 5, 2, 1],
  ];
  for (const training of [true, false]) {
    for (const shape of shapes) {
      it(`${training ? 'training' : 'eval'} ${shape}`, () => {
        const rng = mulberry32(shape.join('').length * 17 + (training ? 1 : 2));
        const C = shape[1];
        const o: BatchNorm2dOpts = {
          training,
          eps: 1e-5,
          momentum: 0.1,
          runningMean: randomArr([C], rng),
          runningVar: randomArr([C], rng, 0.5, 2),
        };
        const inputs = [randomArr(shape, rng, -2, 3), randomArr([C], rng, 0.5, 1.5), randomArr([C], rng)];
        checkBackward(
          ([xx, g, b]) => batchNorm2d(xx, g, b, o).y,
          ([xx, g], dy) => {
            const r = batchNorm2dBackward(xx, g, dy, o);
            return [r.dx, r.dgamma, r.dbeta];
          },
          inputs,
          rng,
        );
      });
    }
  }
});
