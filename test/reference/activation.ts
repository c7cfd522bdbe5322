// Reference activations, elementwise, f64.

import { type Arr, arr, assertShape } from './array.ts';

export function relu(x: Arr): Arr {
  const y = arr(x.shape);
  for (let i = 0; i < x.data.length; i++) y.data[i] = x.data[i] > 0 ? x.data[i] : 0;
  return y;
}

/**
 * Takes the INPUT x (the output y works too, since y > 0 exactly when x > 0).
 * dx = dy where x > 0, else 0; at the kink x = 0 the gradient is 0, as in PyTorch's threshold_backward.
 */
export function reluBackward(x: Arr, dy: Arr): Arr {
  assertShape(dy, x.shape, 'reluBackward dy');
  const dx = arr(x.shape);
  for (let i = 0; i < x.data.length; i++) dx.data[i] = x.data[i] > 0 ? dy.data[i] : 0;
  return dx;
}

/** 1 / (1 + e^-x), evaluated so that neither branch overflows for large |x|. */
export function sigmoid(x: Arr): Arr {
  const y = arr(x.shape);
  for (let i = 0; i < x.data.length; i++) {
    const v = x.data[i];
    if (v >= 0) {
      y.data[i] = 1 / (1 + Math.exp(-v));
    } else {
      const e = Math.exp(v);
      y.data[i] = e / (1 + e);
    }
  }
  return y;
}

/**
 * Takes the OUTPUT y = sigmoid(x) (what a kernel keeps around after the forward pass):
 * dx = dy * y * (1 - y).
 */
export function sigmoidBackward(y: Arr, dy: Arr): Arr {
  assertShape(dy, y.shape, 'sigmoidBackward dy');
  const dx = arr(y.shape);
  for (let i = 0; i < y.data.length; i++) dx.data[i] = dy.data[i] * y.data[i] * (1 - y.data[i]);
  return dx;
}

/** Same gradient as sigmoidBackward, but from the INPUT x. */
export function sigmoidBackwardFromInput(x: Arr, dy: Arr): Arr {
  return sigmoidBackward(sigmoid(x), dy);
}
