/** Loading a trained model from a checkpoint for predict/eval, and image plane conversions. */
import { loadCheckpoint, disposeCheckpoint } from '../matting/checkpoint.ts';
import { MattingModel } from '../matting/graph/model.ts';

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

export { toPlanar } from '../matting/planar.ts';
