/**
 * Adam and AdamW with torch.optim's exact semantics (the single-tensor, non-fused implementation):
 *
 *   Adam:  g = grad + weightDecay * p                       (L2 folded into the gradient)
 *   AdamW: p = p * (1 - lr * weightDecay); g = grad          (decoupled decay, applied first)
 *   m = lerp(m, g, 1 - beta1); v = beta2 * v + (1 - beta2) * g * g
 *   (amsgrad: vmax = max(vmax, v), used for v below)
 *   denom = sqrt(v) / sqrt(1 - beta2^t) + eps               (eps outside the sqrt, after correction)
 *   p = p - lr / (1 - beta1^t) * m / denom
 *
 * t is the parameter's own step count (it advances only on steps where the parameter has a
 * gradient). The bias corrections are computed on the CPU in f64 each step and passed as uniforms;
 * the update itself is one fused kernel, several parameters per dispatch (adam-multi.ts).
 */
import type { Tensor } from '../tensor.ts';
import { Optimizer, checkHyper, type BaseGroupOptions, type ParamGroup, type ParamGroupSpec, type ParamState } from './optimizer.ts';
import { adamStepKernel, type AdamScalars } from './kernels.ts';
import { adamStepMulti, type AdamSegment } from './adam-multi.ts';
import { maxBindingElements } from '../kernels/binding.ts';

export interface AdamOptions extends BaseGroupOptions {
  beta1: number;
  beta2: number;
  eps: number;
  amsgrad: boolean;
}

export type AdamConfig = Partial<AdamOptions> & { betas?: [number, number] };

function adamDefaults(config: AdamConfig, weightDecay: number): AdamOptions {
  const [b1, b2] = config.betas ?? [config.beta1 ?? 0.9, config.beta2 ?? 0.999];
  return {
    lr: config.lr ?? 1e-3,
    weightDecay: config.weightDecay ?? weightDecay,
    beta1: b1,
    beta2: b2,
    eps: config.eps ?? 1e-8,
    amsgrad: config.amsgrad ?? false,
  };
}

/** Accepts `betas: [b1, b2]` in a group as well as `beta1`/`beta2`. */
function normaliseGroups(params: readonly Tensor[] | readonly (ParamGroupSpec<AdamOptions> & { betas?: [number, number] })[]) {
  return params.map((g) => {
    if (!('params' in g) || !g.betas) return g;
    const { betas, ...rest } = g;
    return { ...rest, beta1: betas[0], beta2: betas[1] };
  }) as readonly Tensor[] | readonly ParamGroupSpec<AdamOptions>[];
}

class AdamBase extends Optimizer<AdamOptions> {
  protected readonly needsStepCount = true;
  /** This step's updates of parameters within one binding, launched together by finishStep. */
  private pending: AdamSegment[] = [];

  constructor(
    params: readonly Tensor[] | readonly (ParamGroupSpec<AdamOptions> & { betas?: [number, number] })[],
    defaults: AdamOptions,
    private readonly decoupled: boolean,
  ) {
    super(normaliseGroups(params), defaults);
  }

  protected stateNames(group: ParamGroup<AdamOptions>): readonly string[] {
    return group.amsgrad ? ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'] : ['exp_avg', 'exp_avg_sq'];
  }

  protected validate(g: AdamOptions): void {
    checkHyper('learning rate', g.lr);
    checkHyper('beta1', g.beta1, 1);
    checkHyper('beta2', g.beta2, 1);
    checkHyper('eps', g.eps);
    checkHyper('weight decay', g.weightDecay);
    if (typeof g.amsgrad !== 'boolean') throw new Error(`invalid amsgrad: ${String(g.amsgrad)}`);
  }

  protected update(p: Tensor, grad: Tensor, st: ParamState, group: ParamGroup<AdamOptions>): void {
    const { lr, beta1, beta2, eps, weightDecay } = group;
    const t = st.step;
    const m = this.zerosState(st, 'exp_avg', p);
    const v = this.zerosState(st, 'exp_avg_sq', p);
    const vmax = group.amsgrad ? this.zerosState(st, 'max_exp_avg_sq', p) : null;
    const s: AdamScalars = {
      l2: this.decoupled ? 0 : weightDecay,
      decay: this.decoupled ? 1 - lr * weightDecay : 1,
      beta1,
      beta2,
      eps,
      stepSize: lr / (1 - beta1 ** t),
      bc2Sqrt: Math.sqrt(1 - beta2 ** t),
    };
    if (p.size > maxBindingElements()) adamStepKernel(p, grad, m, v, vmax, s);
    else this.pending.push({ p, g: grad, m, v, vmax, s });
  }

  protected override finishStep(): void {
    const segs = this.pending;
    this.pending = [];
    // AMSGrad segments bind one more buffer: launched apart from the others (groups may differ).
    adamStepMulti(segs.filter((x) => x.vmax === null));
    adamStepMulti(segs.filter((x) => x.vmax !== null));
  }
}

/** torch.optim.Adam: weight decay as L2 added to the gradient. Defaults lr 1e-3, betas (0.9, 0.999), eps 1e-8, weightDecay 0. */
export class Adam extends AdamBase {
  constructor(params: readonly Tensor[] | readonly (ParamGroupSpec<AdamOptions> & { betas?: [number, number] })[], config: AdamConfig = {}) {
    super(params, adamDefaults(config, 0), false);
  }
}

/** torch.optim.AdamW: decoupled weight decay p *= 1 - lr*wd before the Adam update. Default weightDecay 1e-2. */
export class AdamW extends AdamBase {
  constructor(params: readonly Tensor[] | readonly (ParamGroupSpec<AdamOptions> & { betas?: [number, number] })[], config: AdamConfig = {}) {
    super(params, adamDefaults(config, 1e-2), true);
  }
}
