/**
 * Training checkpoints in the safetensors format.
 *
 * Tensor names: the model's parameters and buffers under their PyTorch state_dict names
 * (`encoder.image.conv1_1.weight`, ..., `num_batches_tracked` as I64 like PyTorch), so
 * `safetensors.torch.load_file` + `model.load_state_dict(..., strict=True)` (after dropping the
 * `optimizer.` entries) loads them into the equivalent PyTorch module (scripts/torch-interop/dim_torch.py); optimiser state under `optimizer.state.<i>.exp_avg` / `exp_avg_sq` /
 * `momentum_buffer` (i = index of the parameter in the model's trainable order).
 * Metadata (all strings): `format` = matting-engine-checkpoint/1, `config` (model config JSON),
 * `training` (step, data position, RNG state, optimiser hyperparameters and step counts, options).
 * Writing is atomic (temporary file, fsync, rename): a crash mid-save keeps the previous file.
 * Node only (files); checkpoint-format.ts does the same in memory.
 */
import { writeSafetensors, removeStaleTempFiles } from '../engine/io/safetensors-write.ts';
import { readSafetensors } from '../engine/io/safetensors-read.ts';
import type { Tensor } from '../engine/tensor.ts';
import type { Module } from '../engine/nn/module.ts';
import type { ModelConfig } from './graph/config.ts';
import type { MattingModel } from './graph/model.ts';
import { checkpointEntries, checkpointFromSafetensors, disposeCheckpoint, modelFromCheckpoint, type CheckpointContent, type TrainingState } from './checkpoint-format.ts';

export { CHECKPOINT_FORMAT, disposeCheckpoint, NonFiniteTensorError, remapOptimizerState, type CheckpointContent, type TrainingState } from './checkpoint-format.ts';

/** Writes a checkpoint file atomically. */
export async function saveCheckpoint(
  path: string,
  model: Module & { config: ModelConfig },
  optimizer: { stateTensors(): Map<string, Tensor> } | null,
  training: TrainingState | null,
  /** More metadata entries (e.g. how a shipped model was trained); 'format', 'config' and 'training' are reserved. */
  extraMetadata: Record<string, string> = {},
): Promise<void> {
  const { entries, metadata } = await checkpointEntries(model, optimizer, training, extraMetadata, path);
  // Temp files of writers killed mid-save (about 3 GB each at paper size) go before a new one is made.
  await removeStaleTempFiles(path).catch(() => []);
  await writeSafetensors(path, entries, metadata);
}

/** Reads a checkpoint (validated completely before anything is returned) into GPU tensors the caller owns. */
export async function loadCheckpoint(path: string): Promise<CheckpointContent> {
  return checkpointFromSafetensors(await readSafetensors(path), path);
}

/** The model of a checkpoint file, in eval mode. */
export async function loadModel(path: string): Promise<MattingModel> {
  const ckpt = await loadCheckpoint(path);
  try {
    return modelFromCheckpoint(ckpt);
  } finally {
    disposeCheckpoint(ckpt);
  }
}
