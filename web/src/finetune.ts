/**
 * Fine-tuning in the page: a few Adam steps on the user's own image and corrected alpha, on
 * random crops, with the loss read back after every step for the live plot (the only readback).
 * The loss is the alpha-prediction term (and the refinement's, when the model has one) over the
 * trimap's unknown region: the composition term needs the true foreground and background, which a
 * single photograph does not have. Batch-norm layers stay in eval mode: their running statistics
 * came from many images, and one crop per step would overwrite them.
 */
import { Adam, BatchNorm2d, tensor, tidy } from '../../engine/index.ts';
import { mattingLosses, reflectPad, type MattingModel, type PlanarImage } from '../../matting/index.ts';

export interface FineTuneOptions {
  steps: number;
  lr: number;
  /** Crop side (multiple of 32); images smaller than it are padded by reflection. */
  crop: number;
  onStep: (step: number, loss: number) => void;
  /** Seeded crop positions, so a run can be repeated. */
  seed?: number;
}

/** CHW planes: the window [top, top+s) x [left, left+s), reflected where it leaves the image. */
function window(src: Float32Array, channels: number, h: number, w: number, top: number, left: number, s: number): Float32Array {
  const padded = reflectPad(src, channels, h, w, Math.max(h, s), Math.max(w, s));
  const H = Math.max(h, s), W = Math.max(w, s);
  const out = new Float32Array(channels * s * s);
  for (let c = 0; c < channels; c++) for (let y = 0; y < s; y++) out.set(padded.subarray((c * H + top + y) * W + left, (c * H + top + y) * W + left + s), (c * s + y) * s);
  return out;
}

export async function fineTune(model: MattingModel, image: PlanarImage, trimap: Float32Array, alpha: Float32Array, o: FineTuneOptions): Promise<number[]> {
  const { width: w, height: h } = image;
  const s = o.crop;
  if (!(s >= 32 && s % 32 === 0)) throw new Error(`crop ${s} must be a multiple of 32`);
  if (trimap.length !== w * h || alpha.length !== w * h) throw new Error('the corrected alpha and the trimap must have the image size');
  let unknown = 0;
  for (const t of trimap) if (t !== 0 && t !== 255) unknown++;
  if (!unknown) throw new Error('the trimap has no unknown pixels, so there is nothing to learn from');
  let seed = o.seed ?? 1;
  const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  model.train(true);
  for (const [, m] of model.namedModules()) if (m instanceof BatchNorm2d) m.eval();
  const optimizer = new Adam(model.trainableParameters(), { lr: o.lr });
  const weights = { alpha: 1, composition: 0, refined: model.refine ? 1 : 0 };
  const losses: number[] = [];
  try {
    for (let step = 0; step < o.steps; step++) {
      // Crops that hold unknown pixels (the loss is zero elsewhere); give up searching after a few tries.
      let top = 0, left = 0;
      for (let tries = 0; tries < 20; tries++) {
        top = Math.floor(rand() * (Math.max(h, s) - s + 1));
        left = Math.floor(rand() * (Math.max(w, s) - s + 1));
        const t = window(trimap, 1, h, w, top, left, s);
        if (t.some((v) => v !== 0 && v !== 255)) break;
      }
      const loss = tidy(() => {
        const x = tensor(window(image.data, 3, h, w, top, left, s), [1, 3, s, s]);
        const t = tensor(window(trimap, 1, h, w, top, left, s), [1, 1, s, s]);
        const a = tensor(window(alpha, 1, h, w, top, left, s), [1, 1, s, s]);
        const { total } = mattingLosses(model.forward(x, t), { image: x, trimap: t, alpha: a, fg: x, bg: x }, weights);
        total.backward();
        optimizer.step();
        optimizer.zeroGrad();
        return total;
      });
      const value = await loss.item();
      loss.dispose();
      if (!Number.isFinite(value)) throw new Error(`the loss became ${value} at step ${step + 1}; try a smaller learning rate`);
      losses.push(value);
      o.onStep(step + 1, value);
    }
  } finally {
    optimizer.dispose();
    model.eval();
  }
  return losses;
}
