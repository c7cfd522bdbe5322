/** Closed-form matting scored over an evaluation set, as a baseline beside any model's table. */
import type { EvalSet } from '../data/eval-set.ts';
import { scoreImage, summarise, type EvalSummary, type ImageScore } from '../evaluate.ts';
import type { ClosedFormOptions, ClosedFormResult } from './closed-form.ts';
import { closedFormPlanar } from './planar.ts';

/** An image's scores plus how the solve went. */
export interface ClosedFormScore extends ImageScore {
  iterations: number;
  relResidual: number;
  seconds: number;
}

export async function evaluateClosedForm(
  set: EvalSet,
  limit: number,
  onImage?: (s: ClosedFormScore, i: number, n: number, r: ClosedFormResult) => void,
  o: ClosedFormOptions = {},
): Promise<EvalSummary> {
  const n = Math.min(set.items.length, limit);
  const images: ClosedFormScore[] = [];
  for (let i = 0; i < n; i++) {
    const s = set.load(i);
    const t0 = performance.now();
    const r = await closedFormPlanar({ width: s.width, height: s.height, data: s.image }, { width: s.width, height: s.height, data: s.trimap }, o);
    const score = { ...scoreImage(s.name, r.alpha, s), iterations: r.iterations, relResidual: r.relResidual, seconds: (performance.now() - t0) / 1000 };
    images.push(score);
    onImage?.(score, i, n, r);
  }
  return summarise(images);
}
