/**
 * Plain CPU f64 implementations of PyTorch's optimisers, written from the algorithm boxes of the
 * torch.optim documentation (Adam, AdamW, SGD) and of torch.nn.utils.clip_grad_norm_. Each
 * reference keeps its own state and takes one step at a time.
 */

export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  amsgrad?: boolean;
  /** AdamW: decoupled weight decay. */
  decoupled?: boolean;
}

/**
 * Adam (box):  g_t <- g_t + lambda * theta_{t-1}  (if lambda != 0)
 * AdamW (box): theta_t <- theta_{t-1} - gamma * lambda * theta_{t-1}
 * then m_t = b1 m + (1-b1) g;  v_t = b2 v + (1-b2) g^2;  mhat = m_t / (1-b1^t)
 *      amsgrad: vmax = max(vmax, v_t), vhat = vmax / (1-b2^t); else vhat = v_t / (1-b2^t)
 *      theta_t = theta_t - gamma * mhat / (sqrt(vhat) + eps)
 */
export class AdamRef {
  readonly m: Float64Array;
  readonly v: Float64Array;
  readonly vmax: Float64Array;
  t = 0;
  constructor(readonly theta: Float64Array, readonly h: AdamHyper) {
    this.m = new Float64Array(theta.length);
    this.v = new Float64Array(theta.length);
    this.vmax = new Float64Array(theta.length);
  }

  step(grad: ArrayLike<number>): void {
    const { lr, beta1, beta2, eps, weightDecay, amsgrad, decoupled } = this.h;
    this.t++;
    const t = this.t;
    for (let i = 0; i < this.theta.length; i++) {
      let theta = this.theta[i]!;
      let g = grad[i]!;
      if (decoupled) theta = theta - lr * weightDecay * theta;
      else if (weightDecay !== 0) g = g + weightDecay * theta;
      const m = (this.m[i] = beta1 * this.m[i]! + (1 - beta1) * g);
      const v = (this.v[i] = beta2 * this.v[i]! + (1 - beta2) * g * g);
      const mhat = m / (1 - beta1 ** t);
      let vhat: number;
      if (amsgrad) {
        this.vmax[i] = Math.max(this.vmax[i]!, v);
        vhat = this.vmax[i]! / (1 - beta2 ** t);
      } else vhat = v / (1 - beta2 ** t);
      this.theta[i] = theta - (lr * mhat) / (Math.sqrt(vhat) + eps);
    }
  }
}

export interface SgdHyper {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

/**
 * SGD (box): g <- g + lambda theta; if mu != 0: b <- (t > 1 ? mu b + (1 - tau) g : g);
 * g <- nesterov ? g + mu b : b;  theta <- theta - gamma g
 */
export class SgdRef {
  readonly b: Float64Array;
  t = 0;
  constructor(readonly theta: Float64Array, readonly h: SgdHyper) {
    this.b = new Float64Array(theta.length);
  }

  step(grad: ArrayLike<number>): void {
    const { lr, momentum, dampening, weightDecay, nesterov } = this.h;
    this.t++;
    for (let i = 0; i < this.theta.length; i++) {
      let g = grad[i]!;
      if (weightDecay !== 0) g = g + weightDecay * this.theta[i]!;
      if (momentum !== 0) {
        this.b[i] = this.t > 1 ? momentum * this.b[i]! + (1 - dampening) * g : g;
        g = nesterov ? g + momentum * this.b[i]! : this.b[i]!;
      }
      this.theta[i] = this.theta[i]! - lr * g;
    }
  }
}

/** clip_grad_norm_: the total 2-norm over all gradients, and the gradients scaled by min(1, max/(norm+1e-6)). */
export function clipRef(grads: readonly ArrayLike<number>[], maxNorm: number): { norm: number; clipped: Float64Array[] } {
  let ss = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) ss += g[i]! * g[i]!;
  const norm = Math.sqrt(ss);
  const scale = Math.min(1, maxNorm / (norm + 1e-6));
  return { norm, clipped: grads.map((g) => Float64Array.from(g, (x) => x * scale)) };
}

/** Largest |a - b| / max(|b|, floor) over all elements, and where. */
export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>, floor: number): { err: number; at: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let err = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i]! - b[i]!) / Math.max(Math.abs(b[i]!), floor);
    if (!(e <= err)) {
      err = e;
      at = i;
    }
  }
  return { err, at };
}

/** Largest |a - b| relative to the largest |b| (for state tensors whose entries pass through 0). */
export function relToMax(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  let err = 0;
  for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i]! - b[i]!));
  return scale === 0 ? err : err / scale;
}
