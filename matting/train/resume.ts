/**
 * What a resumed run takes from its checkpoint. The checkpoint holds the model config, the seed
 * (data order and augmentation), the batch size (the data position counts batches) and the stage;
 * those are restored, and a flag that contradicts them is refused with one message instead of being
 * silently ignored or silently changing the run. `--stage` may differ: that is how the paper's
 * stages follow each other. Hyperparameters (lr, schedule, steps, clipping) may change on resume.
 */
import type { CheckpointContent } from '../checkpoint.ts';
import type { ModelConfig } from '../graph/config.ts';
import type { Stage } from './stages.ts';
import type { TrainOptions } from './trainer.ts';

export class ResumeConflictError extends Error {
  override name = 'ResumeConflictError';
}

/** Config fields and the train flag that sets each. */
const CONFIG_FLAGS: [keyof ModelConfig, string][] = [
  ['encoder', 'encoder'],
  ['decoder', 'decoder'],
  ['refine', 'refine'],
  ['inputSize', 'inputSize'],
  ['width', 'width'],
  ['imageMean', 'imageMean'],
  ['inputs', 'inputs'],
  ['lossWeights', 'lossWeights'],
];

const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * The options of a resumed run. `o.given` names the options the user set (CLI); without it every
 * option counts as given (a programmatic caller states them all).
 */
export function resolveResume(o: TrainOptions, ckpt: CheckpointContent): { options: TrainOptions; warnings: string[] } {
  const given = (k: string) => (o.given ? o.given.has(k) : true);
  const saved = ckpt.training?.extra ?? {};
  const conflicts: string[] = [];
  const warnings: string[] = [];
  for (const [field, flag] of CONFIG_FLAGS) {
    if (!given(flag) || ckpt.config[field] === undefined) continue;
    const a = JSON.stringify(o.config[field]), b = JSON.stringify(ckpt.config[field]);
    if (a !== b) conflicts.push(`--${kebab(flag)} ${a} (the checkpoint's model has ${b})`);
  }
  const out: TrainOptions = { ...o, config: ckpt.config };
  if (typeof saved.seed === 'number') {
    if (given('seed') && o.seed !== saved.seed) conflicts.push(`--seed ${o.seed} (the checkpoint was trained with seed ${saved.seed}; the data order depends on it)`);
    out.seed = saved.seed;
  }
  if (typeof saved.batchSize === 'number') {
    if (given('batchSize') && o.batchSize !== saved.batchSize) conflicts.push(`--batch-size ${o.batchSize} (the checkpoint was trained with ${saved.batchSize}; its data position counts batches)`);
    out.batchSize = saved.batchSize;
  }
  if (!given('stage') && typeof saved.stage === 'string') out.stage = saved.stage as Stage;
  if (conflicts.length) {
    throw new ResumeConflictError(
      `--resume ${o.resume}: ${conflicts.join('; ')}. Leave these flags out to continue the checkpoint's run, or start a new run without --resume`,
    );
  }
  if (!ckpt.training) warnings.push(`${o.resume} holds weights but no training state: training starts at step 0 with fresh optimizer state`);
  return { options: out, warnings };
}
