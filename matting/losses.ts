/**
 * The three loss terms of docs/dim-model.md, each a Charbonnier over the trimap's unknown
 * pixels (w = [trimap == 128], N x 1 x H x W; U = sum(w) + eps counts each pixel once for the batch):
 *   alpha       = sum(w sqrt((alpha_pred - alpha_gt)^2 + eps)) / U
 *   composition = sum_{pixels, channels}(w sqrt((C - I)^2 + eps) / 255) / U, C = a F + (1 - a) B
 *   refined     = sum(w sqrt((alpha_refined - alpha_gt)^2 + eps)) / U
 * total = w1 alpha + w2 composition + w3 refined.
 */
import { Tensor } from '../engine/tensor.ts';
import { add, affine, mul, sub } from '../engine/ops/arith.ts';
import { charbonnierLoss } from '../engine/ops/charbonnier.ts';
import { mapElementwise } from '../engine/kernels/elementwise.ts';
import type { MattingOutput } from './graph/model.ts';

export const CHARBONNIER_EPS = 1e-12;

export interface LossBatch {
  /** Composited image I [N, 3, S, S] in 0..255. */
  image: Tensor;
  trimap: Tensor;
  alpha: Tensor;
  fg: Tensor;
  bg: Tensor;
}

export interface LossTerms {
  total: Tensor;
  alpha: Tensor | null;
  composition: Tensor | null;
  refined: Tensor | null;
}

/** 1 where the trimap is unknown (128), else 0; thresholds match the data reader's (64, 191). */
export function unknownMask(trimap: Tensor): Tensor {
  return mapElementwise('unknownMask', 'select(0.0, 1.0, a >= 64.0 && a <= 191.0)', [trimap]);
}

/** C = alpha F + (1 - alpha) B = B + alpha (F - B). */
export function composite(alpha: Tensor, fg: Tensor, bg: Tensor): Tensor {
  return add(bg, mul(alpha, sub(fg, bg)));
}

export function mattingLosses(
  out: MattingOutput,
  batch: LossBatch,
  weights: { alpha: number; composition: number; refined: number },
): LossTerms {
  const w = unknownMask(batch.trimap);
  const terms: { key: 'alpha' | 'composition' | 'refined'; value: Tensor; weight: number }[] = [];
  if (weights.alpha > 0) terms.push({ key: 'alpha', value: charbonnierLoss(out.rawAlpha, batch.alpha, w, CHARBONNIER_EPS), weight: weights.alpha });
  if (weights.composition > 0) {
    const c = composite(out.rawAlpha, batch.fg, batch.bg);
    terms.push({ key: 'composition', value: affine(charbonnierLoss(c, batch.image, w, CHARBONNIER_EPS), 1 / 255), weight: weights.composition });
  }
  if (weights.refined > 0 && out.refinedAlpha) {
    terms.push({ key: 'refined', value: charbonnierLoss(out.refinedAlpha, batch.alpha, w, CHARBONNIER_EPS), weight: weights.refined });
  }
  if (terms.length === 0) throw new Error('no loss term is active: check the loss weights and the training stage');
  let total: Tensor | null = null;
  for (const t of terms) {
    const weighted = t.weight === 1 ? t.value : affine(t.value, t.weight);
    total = total ? add(total, weighted) : weighted;
  }
  const get = (k: string) => terms.find((t) => t.key === k)?.value ?? null;
  return { total: total!, alpha: get('alpha'), composition: get('composition'), refined: get('refined') };
}

/** Known trimap regions copied into the alpha: 0 where trimap < 64, 1 where > 191. */
export function postProcess(alpha: Tensor, trimap: Tensor): Tensor {
  return mapElementwise('postProcess', 'select(select(b, 1.0, a > 191.0), 0.0, a < 64.0)', [trimap, alpha]);
}
