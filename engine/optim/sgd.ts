/**
 * SGD with momentum, dampening, Nesterov and weight decay, with torch.optim.SGD's semantics:
 *
 *   g = grad + weightDecay * p
 *   momentum != 0:  buf = g on the parameter's first step (no dampening),
 *                   else buf = momentum * buf + (1 - dampening) * g
 *                   g = g + momentum * buf (Nesterov) or g = buf
 *   p = p - lr * g
 *
 * One fused kernel per parameter. The momentum buffer (`momentum_buffer`) exists only when
 * momentum is non-zero; a group whose momentum is 0 keeps no state tensors.
 */
import type { Tensor } from '../tensor.ts';
import { Optimizer, checkHyper, type BaseGroupOptions, type ParamGroup, type ParamGroupSpec, type ParamState } from './optimizer.ts';
import { sgdStepKernel } from './kernels.ts';

export interface SgdOptions extends BaseGroupOptions {
  momentum: number;
  dampening: number;
  nesterov: boolean;
}

export class SGD extends Optimizer<SgdOptions> {
  protected readonly needsStepCount = false;

  /** `lr` is required, as in PyTorch (which has no sensible default for SGD). */
  constructor(params: readonly Tensor[] | readonly ParamGroupSpec<SgdOptions>[], config: Partial<SgdOptions> & { lr: number }) {
    super(params, {
      lr: config.lr,
      momentum: config.momentum ?? 0,
      dampening: config.dampening ?? 0,
      weightDecay: config.weightDecay ?? 0,
      nesterov: config.nesterov ?? false,
    });
  }

  protected stateNames(): readonly string[] {
    return ['momentum_buffer'];
  }

  protected validate(g: SgdOptions): void {
    checkHyper('learning rate', g.lr);
    checkHyper('momentum', g.momentum);
    checkHyper('weight decay', g.weightDecay);
    if (typeof g.dampening !== 'number' || !Number.isFinite(g.dampening)) throw new Error(`invalid dampening: ${String(g.dampening)}`);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) throw new Error('Nesterov momentum requires a momentum and zero dampening');
  }

  protected update(p: Tensor, grad: Tensor, st: ParamState, group: ParamGroup<SgdOptions>): void {
    let buf: Tensor | null = null;
    let first = false;
    if (group.momentum !== 0) {
      const s = this.emptyState(st, 'momentum_buffer', p);
      buf = s.tensor;
      first = s.fresh;
    }
    sgdStepKernel(p, grad, buf, first, group);
  }
}
