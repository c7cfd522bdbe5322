/**
 * Checkpoint checks and the output choice shared by predict and eval: the file is read from its
 * header before the GPU starts (a wrong file is one clear line), and `--head auto` takes the output
 * that was trained (raw after an encoder-decoder stage, when the refinement never learned).
 */
import { existsSync } from 'node:fs';
import { UsageError, type OptionSpec } from './args.ts';
import { readCheckpointInfo, trainedStage, NotACheckpointError, type CheckpointInfo } from '../matting/checkpoint-info.ts';

export type Head = 'raw' | 'refined';

export const HEAD_OPTION = {
  head: {
    type: 'string',
    default: 'auto',
    arg: '<auto|raw|refined>',
    choices: ['auto', 'raw', 'refined'],
    help: "which alpha: raw (the encoder-decoder's) or refined (the refinement's); auto: refined unless the checkpoint was trained with --stage encoder-decoder or has no refinement",
  },
} as const satisfies OptionSpec;

/** The old name, refused with a pointer (it shared its name with train's --stage, which means something else). */
export const RENAMED_STAGE = { stage: "renamed --head (auto, raw, refined): it chooses the model's output; train --stage chooses what is trained" };

export async function checkModelFile(verb: string, path: string): Promise<CheckpointInfo> {
  if (!existsSync(path)) throw new UsageError(`${verb}: --model ${path}: no such file`);
  try {
    return await readCheckpointInfo(path);
  } catch (e) {
    if (e instanceof NotACheckpointError) throw new UsageError(`${verb}: --model ${e.message}`);
    throw e;
  }
}

export function chooseHead(asked: string | undefined, info: CheckpointInfo): Head {
  if (asked === 'raw') return 'raw';
  if (asked === 'refined') return 'refined';
  return info.config.refine === 'none' || trainedStage(info) === 'encoder-decoder' ? 'raw' : 'refined';
}
