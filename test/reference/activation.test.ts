import { describe, expect, it } from 'vitest';
import { arr, mulberry32, randomArr } from './array.ts';
import { relu, reluBackward, sigmoid, sigmoidBackward, sigmoidBackwardFromInput } from './activation.ts';
import { checkBackward, expectClose } from './grad-check.ts';

describe('activations, hand-computed', () => {
  it('relu and its gradient (0 at the kink)', () => {
    const x = arr([3], [-1, 0, 2]);
    expectClose(relu(x), [0, 0, 2]);
    expectClose(reluBackward(x, arr([3], [5, 5, 5])), [0, 0, 5]);
  });

  it('sigmoid at 0, +-ln 3 and extreme values', () => {
    // sigmoid(ln 3) = 1 / (1 + 1/3) = 3/4; sigmoid(-ln 3) = 1/4; no NaN at +-1000.
    const y = sigmoid(arr([5], [0, Math.log(3), -Math.log(3), 1000, -1000]));
    expectClose(y, [0.5, 0.75, 0.25, 1, 0], 1e-15);
    // dx = dy * y * (1 - y): 0.5*0.5 = 0.25; 0.75*0.25 = 0.1875 (times dy = 2 -> 0.375)
    expectClose(sigmoidBackward(arr([2], [0.5, 0.75]), arr([2], [1, 2])), [0.25, 0.375]);
  });
});

describe('activation backward vs finite differences', () => {
  for (const shape of [[7], [2, 3, 5, 4], [1, 1, 9, 1]]) {
    it(`relu ${shape}`, () => {
      const rng = mulberry32(shape.length + 1);
      checkBackward(([x]) => relu(x), ([x], dy) => [reluBackward(x, dy)], [randomArr(shape, rng)], rng);
    });
    it(`sigmoid ${shape} (from output and from input)`, () => {
      const rng = mulberry32(shape.length + 2);
      const x = randomArr(shape, rng, -6, 6);
      checkBackward(([v]) => sigmoid(v), ([v], dy) => [sigmoidBackward(sigmoid(v), dy)], [x], rng);
      checkBackward(([v]) => sigmoid(v), ([v], dy) => [sigmoidBackwardFromInput(v, dy)], [x], rng);
    });
  }
  it('relu gradient is not trivially zero or identity on mixed-sign data', () => {
    const x = arr([4], [-2, -0.5, 0.5, 2]);
    expect(Array.from(reluBackward(x, arr([4], [1, 1, 1, 1])).data)).toEqual([0, 0, 1, 1]);
  });
});
