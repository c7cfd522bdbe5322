/** Loading a trained model from a checkpoint for predict/eval, and image plane conversions. */
import { loadCheckpoint, disposeCheckpoint } from '../matting/checkpoint.ts';
import { MattingModel } from '../matting/graph/model.ts';
import type { Image } from '../matting/data/image-io.ts';

export async function modelFromCheckpoint(path: string): Promise<MattingModel> {
  const ckpt = await loadCheckpoint(path);
  try {
    const model = new MattingModel(ckpt.config);
    model.loadStateDict(ckpt.model);
    model.eval();
    return model;
  } finally {
    disposeCheckpoint(ckpt);
  }
}

/** HWC (any channel count) -> CHW with the first `channels` channels. */
export function toPlanar(img: Image, channels: number): Float32Array {
  const { width: w, height: h } = img;
  const out = new Float32Array(channels * w * h);
  for (let c = 0; c < channels; c++) {
    const src = Math.min(c, img.channels - 1);
    for (let i = 0; i < w * h; i++) out[c * w * h + i] = img.data[i * img.channels + src]!;
  }
  return out;
}
