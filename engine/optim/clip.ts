/**
 * Global-norm gradient clipping as torch.nn.utils.clip_grad_norm_, entirely on the GPU:
 *
 *   total = sqrt(sum over every gradient element of g^2)
 *   scale = min(1, maxNorm / (total + 1e-6))
 *   g *= scale  (every gradient, in place, always: a scale of 1 leaves it unchanged)
 *
 * The sum is deterministic: each gradient is cut into fixed chunks of SUMSQ_CHUNK elements, each
 * chunk summed by one workgroup in a fixed order (serial per invocation, then a tree), and the
 * partials summed by a single workgroup in a fixed order. The scale never leaves the GPU: the
 * scaling kernel reads it from a storage buffer. Nothing is read back.
 */
import { Tensor } from '../tensor.ts';
import { fill } from '../kernels/elementwise.ts';
import { gradNormFinish, scaleInPlaceByDevice, sumSquaresPartialCount, sumSquaresPartials } from './kernels.ts';
import { scaleInPlaceByDeviceMulti, sumSquaresPartialsMulti } from './clip-multi.ts';
import { maxBindingElements } from '../kernels/binding.ts';

const large = (g: Tensor) => g.size > maxBindingElements();

function gradsOf(params: readonly Tensor[]): Tensor[] {
  const out: Tensor[] = [];
  for (const p of params) if (p.grad && !p.grad.disposed) out.push(p.grad);
  return out;
}

/** norm (a new scalar tensor) and, with maxNorm, the clip scale (a new one-element tensor). */
function normAndScale(grads: readonly Tensor[], maxNorm: number | null): { norm: Tensor; scale: Tensor } {
  const count = grads.reduce((n, g) => n + sumSquaresPartialCount(g.size), 0);
  const norm = Tensor.empty([], 'f32', 'grad norm');
  const scale = Tensor.empty([1], 'f32', 'clip scale');
  const partials = Tensor.empty([Math.max(1, count)], 'f32', 'grad norm partials');
  let at = 0;
  // Runs of gradients within one binding go several per dispatch; a larger one keeps its windowed
  // launch. Either way the partials come in gradient order, so the sum is the same.
  let run: Tensor[] = [];
  for (const g of grads) {
    if (!large(g)) {
      run.push(g);
      continue;
    }
    at = sumSquaresPartialsMulti(run, partials, at);
    run = [];
    at = sumSquaresPartials(g, partials, at);
  }
  sumSquaresPartialsMulti(run, partials, at);
  gradNormFinish(partials, count, norm, scale, maxNorm);
  partials.dispose();
  return { norm, scale };
}

/**
 * The global L2 norm of the gradients of `params` (those without a gradient are ignored), as a
 * scalar GPU tensor; nothing is read back.
 */
export function gradNorm(params: readonly Tensor[]): Tensor {
  const grads = gradsOf(params);
  if (grads.length === 0) return fill([], 0);
  const { norm, scale } = normAndScale(grads, null);
  scale.dispose();
  return norm;
}

/**
 * Clips the gradients of `params` in place to a global L2 norm of at most `maxNorm` and returns
 * the norm they had before clipping, as a scalar GPU tensor (the caller disposes it, or a `tidy`
 * does). No readback: the scale is computed and applied on the GPU. With no gradients at all it
 * returns a zero scalar, as PyTorch does.
 */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number): Tensor {
  if (typeof maxNorm !== 'number' || !(maxNorm >= 0) || !Number.isFinite(maxNorm)) throw new Error(`clipGradNorm: invalid maxNorm ${maxNorm}`);
  const grads = gradsOf(params);
  if (grads.length === 0) return fill([], 0);
  const { norm, scale } = normAndScale(grads, maxNorm);
  scaleInPlaceByDeviceMulti(grads.filter((g) => !large(g)), scale);
  for (const g of grads) if (large(g)) scaleInPlaceByDevice(g, scale);
  scale.dispose();
  return norm;
}
