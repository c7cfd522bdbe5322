// Test helper: checks a reference backward against central finite differences.
//
// The scalar probed is L(inputs) = sum(forward(inputs) * R) for a fixed random R, whose gradient is
// exactly what backward(inputs, dy = R) must return. A random R (rather than all ones) makes every
// output element matter with a different weight, so permuted or misplaced gradients cannot cancel.

import { expect } from 'vitest';
import { type Arr, dot, randomArr } from './array.ts';
import { maxRelError, numericGradient } from './finite-diff.ts';

export interface GradCheckResult {
  /** maxRelError(analytic, numeric) for each checked input (NaN for skipped ones) */
  errors: number[];
}

/**
 * backward returns one gradient per input, aligned with `inputs`; null means "not differentiable /
 * not checked" (masks, indices). Each checked gradient must match to `tol` and must not be all zero
 * (a vanishing gradient would make the comparison vacuous).
 */
export function checkBackward(
  forward: (inputs: Arr[]) => Arr,
  backward: (inputs: Arr[], dy: Arr) => (Arr | null)[],
  inputs: Arr[],
  rng: () => number,
  tol = 1e-6,
): GradCheckResult {
  const y = forward(inputs);
  const R = randomArr(y.shape, rng);
  const analytic = backward(inputs, R);
  expect(analytic.length).toBe(inputs.length);
  const f = (xs: Arr[]) => dot(forward(xs), R);
  const errors: number[] = [];
  for (let i = 0; i < inputs.length; i++) {
    const a = analytic[i];
    if (a === null || a === undefined) {
      errors.push(NaN);
      continue;
    }
    expect(a.shape).toEqual(inputs[i].shape);
    const numeric = numericGradient(f, inputs, i);
    let maxAbs = 0;
    for (const v of numeric.data) maxAbs = Math.max(maxAbs, Math.abs(v));
    expect(maxAbs, `input ${i}: numeric gradient is all zero`).toBeGreaterThan(1e-6);
    const err = maxRelError(a, numeric);
    expect(err, `input ${i}: max relative error`).toBeLessThan(tol);
    errors.push(err);
  }
  return { errors };
}

/** Elementwise closeness with an absolute+relative tolerance, with a readable failure message. */
export function expectClose(actual: Arr | ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-12): void {
  const a = 'data' in actual ? (actual as Arr).data : actual;
  expect(a.length, 'length').toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    if (Math.abs(a[i] - e) > tol * Math.max(1, Math.abs(e))) {
      expect.fail(`element ${i}: got ${a[i]}, expected ${e} (all: [${Array.from(a).join(', ')}])`);
    }
  }
}
