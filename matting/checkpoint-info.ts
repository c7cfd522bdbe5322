/**
 * What a checkpoint holds, read from its header alone (no tensor data, no GPU): the model config,
 * the training state (step, stage) and the tensor table. The command line reads it before starting
 * the GPU, so a wrong file (an image, a PyTorch .pth, plain weights) is one clear line at once.
 */
import { openSync, readSync, closeSync, statSync } from 'node:fs';
import { readSafetensorsHeader, type TensorInfo } from '../engine/io/safetensors-read.ts';
import { CHECKPOINT_FORMAT, type TrainingState } from './checkpoint.ts';
import { makeConfig, type ModelConfig } from './graph/config.ts';

export class NotACheckpointError extends Error {
  override name = 'NotACheckpointError';
}

export interface CheckpointInfo {
  config: ModelConfig;
  training: TrainingState | null;
  tensors: Map<string, TensorInfo>;
}

/** Names a file by its first bytes when it is a well-known non-safetensors format. */
export function sniffNonSafetensors(head: Uint8Array): string | null {
  const starts = (...b: number[]) => b.every((v, i) => head[i] === v);
  if (starts(0x89, 0x50, 0x4e, 0x47)) return 'a PNG image';
  if (starts(0xff, 0xd8, 0xff)) return 'a JPEG image';
  if (starts(0x52, 0x49, 0x46, 0x46)) return 'a RIFF file (WebP image?)';
  if (starts(0x47, 0x49, 0x46, 0x38)) return 'a GIF image';
  if (starts(0x50, 0x4b, 0x03, 0x04)) return 'a zip archive (a PyTorch .pt/.pth file? convert it with safetensors.torch.save_file)';
  if (head[0] === 0x80 && head[1] !== undefined && head[1] <= 5) return 'a Python pickle (a PyTorch .pt/.pth file? convert it with safetensors.torch.save_file)';
  // A safetensors file starts with a little-endian header length: its high bytes are 0, never text.
  if (head.length === 8 && head.every((v) => v === 9 || v === 10 || v === 13 || (v >= 32 && v < 127))) return 'a text file';
  return null;
}

export async function readCheckpointInfo(path: string): Promise<CheckpointInfo> {
  const st = statSync(path);
  if (st.isDirectory()) throw new NotACheckpointError(`${path} is a folder, not a checkpoint (a .safetensors file written by train, e.g. runs/<name>/last.safetensors)`);
  const head = new Uint8Array(8);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 8, 0);
  } finally {
    closeSync(fd);
  }
  const kind = sniffNonSafetensors(head);
  if (kind) throw new NotACheckpointError(`${path} is ${kind}, not a checkpoint (a .safetensors file written by train)`);
  let header;
  try {
    header = await readSafetensorsHeader(path);
  } catch (e) {
    throw new NotACheckpointError(`${path} is not a safetensors checkpoint (${(e as Error).message.replace(`${path}: `, '')})`);
  }
  if (header.metadata.format !== CHECKPOINT_FORMAT) {
    throw new NotACheckpointError(
      `${path} is a safetensors file but not a matting-engine checkpoint (metadata 'format' is ${header.metadata.format ? `'${header.metadata.format}'` : 'missing'}); plain weights go to train --pretrained`,
    );
  }
  try {
    const config = makeConfig(JSON.parse(header.metadata.config ?? 'null') as Partial<ModelConfig>);
    const training = header.metadata.training ? (JSON.parse(header.metadata.training) as TrainingState) : null;
    return { config, training, tensors: header.tensors };
  } catch (e) {
    throw new NotACheckpointError(`${path}: bad checkpoint metadata: ${(e as Error).message}`);
  }
}

/** The stage a checkpoint was last trained in ('joint' when it does not say: the trainer's default). */
export function trainedStage(info: CheckpointInfo): string {
  const s = info.training?.extra?.stage;
  return typeof s === 'string' ? s : 'joint';
}
