/**
 * Inference on any image size. The network needs sides that are multiples of 32: the image and
 * trimap are padded by reflection (so the padded border looks like image content rather than a
 * black frame the network never saw) to the next multiple of 32, run, and cropped back.
 * Images larger than `tileSize` are cut into overlapping tiles whose predictions are blended with
 * weights that fall off linearly towards each tile's inner borders, so seams do not show.
 * Known trimap regions are copied into the result (post-processing) unless `raw` is asked.
 */
import { noGrad } from '../engine/autograd/graph.ts';
import { tensor } from '../engine/creation.ts';
import { tidy, keep } from '../engine/scope.ts';
import type { MattingModel } from './graph/model.ts';
import { postProcess } from './losses.ts';
import { resizeImage } from './data/resize.ts';
import { normaliseTrimap } from './data/trimap.ts';

export interface PredictOptions {
  /** Which alpha: the refined one (default when the model has refinement) or the stage-1 one. */
  stage?: 'refined' | 'raw';
  /** Largest side processed in one piece; larger images are tiled (multiple of 32). */
  tileSize?: number;
  /** Overlap between tiles in pixels. */
  tileOverlap?: number;
  /** Skip copying the trimap's known regions into the output. */
  noPostProcess?: boolean;
  /**
   * Run the network on the image resized by this factor (default: the model config's
   * inferenceScale, chosen on the validation set for the scale the model was trained at), then
   * resize the alpha back; the trimap's known regions are copied in at full resolution.
   */
  scale?: number;
  /**
   * Test-time augmentation: also run the horizontally mirrored image and average the two alphas
   * (twice the work; usually a few percent lower error, since the network is not mirror-symmetric).
   */
  flip?: boolean;
  /** Called after each piece the network ran on (one, or one per tile): for a progress display. */
  onProgress?: (done: number, total: number) => void;
}

export interface PlanarImage {
  width: number;
  height: number;
  /** CHW, 0..255 for images; for trimaps one plane 0/128/255. */
  data: Float32Array;
}

const reflect = (i: number, n: number): number => {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let m = ((i % period) + period) % period;
  return m < n ? m : period - m;
};

/** Pads CHW planes to (H2, W2) by reflection about the edges (no edge repeat, like numpy 'reflect'). */
export function reflectPad(src: Float32Array, channels: number, h: number, w: number, h2: number, w2: number, top = 0, left = 0): Float32Array {
  const out = new Float32Array(channels * h2 * w2);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < h2; y++) {
      const sy = reflect(y - top, h);
      for (let x = 0; x < w2; x++) out[(c * h2 + y) * w2 + x] = src[(c * h + sy) * w + reflect(x - left, w)]!;
    }
  }
  return out;
}

function crop(src: Float32Array, h: number, w: number, top: number, left: number, ch: number, cw: number): Float32Array {
  const out = new Float32Array(ch * cw);
  for (let y = 0; y < ch; y++) out.set(src.subarray((top + y) * w + left, (top + y) * w + left + cw), y * cw);
  return out;
}

const up32 = (n: number) => Math.ceil(n / 32) * 32;

/** One piece: pad to multiples of 32, run, crop. Returns alpha H x W in 0..1. */
async function predictPiece(model: MattingModel, image: PlanarImage, trimap: PlanarImage, o: PredictOptions): Promise<Float32Array> {
  if (!(o.flip ?? model.config.inferenceFlip)) return await predictOnce(model, image, trimap, o);
  const a = await predictOnce(model, image, trimap, o);
  const b = mirror(await predictOnce(model, mirror(image, 3), mirror(trimap, 1), o), 1, image.width, image.height);
  for (let i = 0; i < a.length; i++) a[i] = (a[i]! + b[i]!) / 2;
  return a;
}

/** Left-right mirror of CHW planes (a PlanarImage or bare planes of width w, height h). */
function mirror(p: PlanarImage, channels: number): PlanarImage;
function mirror(p: Float32Array, channels: number, w: number, h: number): Float32Array;
function mirror(p: PlanarImage | Float32Array, channels: number, w?: number, h?: number): PlanarImage | Float32Array {
  const data = p instanceof Float32Array ? p : p.data;
  const W = p instanceof Float32Array ? w! : p.width, H = p instanceof Float32Array ? h! : p.height;
  const out = new Float32Array(data.length);
  for (let r = 0; r < channels * H; r++) for (let x = 0; x < W; x++) out[r * W + x] = data[r * W + W - 1 - x]!;
  return p instanceof Float32Array ? out : { width: W, height: H, data: out };
}

async function predictOnce(model: MattingModel, image: PlanarImage, trimap: PlanarImage, o: PredictOptions): Promise<Float32Array> {
  const { width: w, height: h } = image;
  const h2 = up32(h), w2 = up32(w);
  const img = reflectPad(image.data, 3, h, w, h2, w2);
  const tri = reflectPad(trimap.data, 1, h, w, h2, w2);
  const out = noGrad(() =>
    tidy(() => {
      const x = tensor(img, [1, 3, h2, w2]);
      const t = tensor(tri, [1, 1, h2, w2]);
      const r = model.forward(x, t);
      const alpha = o.stage === 'raw' || !r.refinedAlpha ? r.rawAlpha : r.refinedAlpha;
      return keep(o.noPostProcess ? alpha : postProcess(alpha, t));
    }),
  );
  const data = await out.data();
  out.dispose();
  return crop(data, h2, w2, 0, 0, h, w);
}

export async function predictAlpha(model: MattingModel, image: PlanarImage, trimap: PlanarImage, o: PredictOptions = {}): Promise<Float32Array> {
  if (image.width !== trimap.width || image.height !== trimap.height) {
    throw new Error(`image is ${image.width}x${image.height} but trimap is ${trimap.width}x${trimap.height}`);
  }
  const scale = o.scale ?? model.config.inferenceScale;
  if (!(scale > 0 && scale <= 4)) throw new Error(`inference scale ${scale} must be in (0, 4]`);
  const sw = Math.max(1, Math.round(image.width * scale)), sh = Math.max(1, Math.round(image.height * scale));
  if (sw !== image.width || sh !== image.height) return await predictRescaled(model, image, trimap, o, sw, sh);
  const wasTraining = model.training;
  model.eval();
  try {
    const tile = o.tileSize ?? 0;
    if (!tile || (image.width <= tile && image.height <= tile)) {
      const alpha = await predictPiece(model, image, trimap, o);
      o.onProgress?.(1, 1);
      return alpha;
    }
    return await predictTiled(model, image, trimap, o, tile);
  } finally {
    model.train(wasTraining);
  }
}

/** CHW planes resized one by one (box filter down, bilinear up). */
function resizePlanes(p: PlanarImage, channels: number, w: number, h: number): PlanarImage {
  const out = new Float32Array(channels * w * h);
  for (let c = 0; c < channels; c++) {
    const plane = { width: p.width, height: p.height, channels: 1 as const, data: p.data.subarray(c * p.width * p.height, (c + 1) * p.width * p.height) };
    out.set(resizeImage(plane, w, h).data, c * w * h);
  }
  return { width: w, height: h, data: out };
}

async function predictRescaled(model: MattingModel, image: PlanarImage, trimap: PlanarImage, o: PredictOptions, sw: number, sh: number): Promise<Float32Array> {
  const small = resizePlanes(image, 3, sw, sh);
  // Resampled trimap values between the thresholds (mixed known/unknown footprints) become unknown.
  const tri = resizePlanes(trimap, 1, sw, sh);
  const smallTrimap = { ...tri, data: normaliseTrimap(tri.data).trimap };
  const a = await predictAlpha(model, small, smallTrimap, { ...o, scale: 1, noPostProcess: true });
  const alpha = resizePlanes({ width: sw, height: sh, data: a }, 1, image.width, image.height).data;
  if (!o.noPostProcess) {
    for (let i = 0; i < alpha.length; i++) {
      const t = trimap.data[i]!;
      alpha[i] = t < 64 ? 0 : t > 191 ? 1 : Math.min(1, Math.max(0, alpha[i]!));
    }
  }
  return alpha;
}

function tileStarts(size: number, tile: number, overlap: number): number[] {
  if (size <= tile) return [0];
  const step = tile - overlap;
  const starts: number[] = [];
  for (let s = 0; s + tile < size; s += step) starts.push(s);
  starts.push(size - tile);
  return starts;
}

async function predictTiled(model: MattingModel, image: PlanarImage, trimap: PlanarImage, o: PredictOptions, tile: number): Promise<Float32Array> {
  if (tile % 32 !== 0 || tile < 64) throw new Error(`tile size ${tile} must be a multiple of 32, at least 64`);
  const asked = o.tileOverlap ?? 64;
  // A negative overlap leaves gaps between tiles (weight 0: the matte came out NaN, written as 0).
  if (!(Number.isInteger(asked) && asked >= 0)) throw new Error(`tile overlap ${asked} must be a non-negative integer`);
  const overlap = Math.min(asked, tile / 2);
  // Blend weight at distance d from an inner tile edge: a ramp over the overlap; no overlap, no ramp.
  const ramp = (d: number) => (overlap === 0 ? 1 : Math.min(d, overlap) / overlap);
  const { width: W, height: H } = image;
  const th = Math.min(tile, H), tw = Math.min(tile, W);
  const acc = new Float32Array(W * H);
  const wsum = new Float32Array(W * H);
  const ys = tileStarts(H, th, overlap), xs = tileStarts(W, tw, overlap);
  let done = 0;
  for (const y0 of ys) {
    for (const x0 of xs) {
      const sub = (p: PlanarImage, ch: number): PlanarImage => {
        const d = new Float32Array(ch * th * tw);
        for (let c = 0; c < ch; c++) for (let y = 0; y < th; y++) d.set(p.data.subarray((c * H + y0 + y) * W + x0, (c * H + y0 + y) * W + x0 + tw), (c * th + y) * tw);
        return { width: tw, height: th, data: d };
      };
      const a = await predictPiece(model, sub(image, 3), sub(trimap, 1), o);
      for (let y = 0; y < th; y++) {
        // Weight ramps up over the overlap at inner edges only (image borders keep full weight).
        const wy = ramp(Math.min(y0 === 0 ? Infinity : y + 1, y0 + th === H ? Infinity : th - y));
        for (let x = 0; x < tw; x++) {
          const wx = ramp(Math.min(x0 === 0 ? Infinity : x + 1, x0 + tw === W ? Infinity : tw - x));
          const wgt = Math.min(wy, wx);
          const i = (y0 + y) * W + x0 + x;
          acc[i]! += wgt * a[y * tw + x]!;
          wsum[i]! += wgt;
        }
      }
      o.onProgress?.(++done, ys.length * xs.length);
    }
  }
  for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! / wsum[i]!;
  return acc;
}
