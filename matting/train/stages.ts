/**
 * The paper's training stages: `encoder-decoder` (stage 1: refinement frozen, its loss off),
 * `refine` (only the refinement trains, on its own loss; the encoder and decoder run in eval mode),
 * `joint` (everything, all three losses).
 */
import type { MattingModel } from '../graph/model.ts';
import type { ModelConfig } from '../graph/config.ts';

export type Stage = 'encoder-decoder' | 'refine' | 'joint';
export const STAGES: Stage[] = ['encoder-decoder', 'refine', 'joint'];

export function applyStage(model: MattingModel, stage: Stage): ModelConfig['lossWeights'] {
  const w = model.config.lossWeights;
  model.train(true);
  model.freeze(false);
  if (stage === 'encoder-decoder') {
    model.refine?.freeze(true);
    return { alpha: w.alpha, composition: w.composition, refined: 0 };
  }
  if (stage === 'refine') {
    if (!model.refine) throw new Error("stage 'refine' needs a model with refinement (refine: sigmoid or residual)");
    model.encoder.freeze(true).eval();
    model.decoder.freeze(true).eval();
    return { alpha: 0, composition: 0, refined: w.refined };
  }
  return { ...w };
}
