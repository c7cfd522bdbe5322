/**
 * The classical methods on the pipeline's own layouts (PlanarImage: CHW 0..255 images, trimaps of
 * 0/128/255), as `predict` and `eval` use them.
 */
import type { PlanarImage } from '../inference.ts';
import { closedFormMatte, type ClosedFormOptions, type ClosedFormResult } from './closed-form.ts';
import { estimateForeground, type ForegroundOptions } from './foreground.ts';

function rgb01(image: PlanarImage): Float32Array {
  const n = image.width * image.height;
  if (image.data.length < 3 * n) throw new Error(`expected 3 image planes of ${image.width}x${image.height}, got ${image.data.length} values`);
  const out = new Float32Array(3 * n);
  for (let i = 0; i < 3 * n; i++) out[i] = image.data[i]! / 255;
  return out;
}

/** Closed-form alpha (0..1) for a CHW 0..255 image and a 0/128/255 trimap. */
export function closedFormPlanar(image: PlanarImage, trimap: PlanarImage, o: ClosedFormOptions = {}): Promise<ClosedFormResult> {
  const tri = new Float32Array(trimap.data.length);
  for (let i = 0; i < tri.length; i++) { const v = trimap.data[i]!; tri[i] = v === 0 ? 0 : v === 255 ? 1 : 0.5; }
  return closedFormMatte({ width: image.width, height: image.height, data: rgb01(image), layout: 'chw' }, tri, o);
}

/**
 * An RGBA cut-out (HWC, 0..255): the estimated foreground colours (no background bleeding into
 * soft edges) with alpha (0..1) as transparency.
 */
export async function cutoutRgba(image: PlanarImage, alpha: Float32Array, o: ForegroundOptions = {}): Promise<Float32Array> {
  const { width: W, height: H } = image;
  const n = W * H;
  const a = Float32Array.from(alpha, (v) => Math.min(1, Math.max(0, v)));
  const F = await estimateForeground({ width: W, height: H, data: rgb01(image), layout: 'chw' }, a, o);
  const rgba = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) rgba[i * 4 + c] = Math.round(F[c * n + i]! * 255);
    rgba[i * 4 + 3] = Math.round(a[i]! * 255);
  }
  return rgba;
}
