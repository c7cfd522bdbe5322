import { describe, expect, it } from 'vitest';
import { arr } from './array.ts';
import { maxRelError, numericGradient } from './finite-diff.ts';
import { expectClose } from './grad-check.ts';

describe('finite differences', () => {
  it('gradient of a cubic, and the caller\'s inputs are untouched', () => {
    // f(x, y) = sum(x^3) + 2*sum(y); df/dx = 3x^2 = [3, 12], df/dy = [2, 2]
    const x = arr([2], [1, 2]);
    const y = arr([2], [5, 6]);
    const f = ([a, b]: typeof x[]) => a.data[0] ** 3 + a.data[1] ** 3 + 2 * (b.data[0] + b.data[1]);
    expectClose(numericGradient(f, [x, y], 0), [3, 12], 1e-8);
    expectClose(numericGradient(f, [x, y], 1), [2, 2], 1e-8);
    expect(Array.from(x.data)).toEqual([1, 2]);
  });

  it('maxRelError = max|a-b| / max(max|a|, max|b|, 1e-8)', () => {
    // |2 - 2.5| = 0.5 over the largest magnitude 2.5 -> 0.2
    expect(maxRelError(arr([2], [1, 2]), arr([2], [1, 2.5]))).toBeCloseTo(0.2, 15);
    expect(maxRelError(arr([3]), arr([3]))).toBe(0);
    expect(maxRelError(arr([1], [NaN]), arr([1], [1]))).toBe(Infinity);
    expect(() => maxRelError(arr([2]), arr([1, 2]))).toThrow();
  });
});
