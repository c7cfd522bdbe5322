/**
 * Checkpoints as bytes: the safetensors layout of matting-engine checkpoints (see checkpoint.ts for
 * the names and metadata), built from and read into memory without a file system, so a browser can
 * load a checkpoint it fetched and an application can keep one wherever it likes.
 */
import { parseSafetensors, serializeSafetensors, type SafetensorsContent } from '../engine/io/safetensors-bytes.ts';
import { f32Entry, i64Entry, toFloat32, type TensorEntry } from '../engine/io/safetensors-common.ts';
import { tensor } from '../engine/creation.ts';
import { keep } from '../engine/scope.ts';
import type { Tensor } from '../engine/tensor.ts';
import type { Module } from '../engine/nn/module.ts';
import { makeConfig, type ModelConfig } from './graph/config.ts';
import { MattingModel } from './graph/model.ts';

export const CHECKPOINT_FORMAT = 'matting-engine-checkpoint/1';
const OPT_PREFIX = 'optimizer.';

export interface TrainingState {
  step: number;
  /** Next batch to read: epoch and index within it. */
  epoch: number;
  batchIndex: number;
  /** Optimiser step counts (`state.<i>.step`) and learning rates per group. */
  optimizerSteps: Record<string, number>;
  learningRates: number[];
  /** Anything else the trainer wants back on resume (options, best validation score, ...). */
  extra: Record<string, unknown>;
}

/** A checkpoint in memory: the model config, GPU tensors the caller owns, the training position. */
export interface CheckpointContent {
  config: ModelConfig;
  model: Map<string, Tensor>;
  optimizer: Map<string, Tensor>;
  training: TrainingState | null;
}

const isCounter = (name: string) => name.endsWith('num_batches_tracked');

async function entryOf(name: string, t: Tensor): Promise<TensorEntry> {
  const data = await t.data();
  if (isCounter(name)) return i64Entry([...t.shape], BigInt64Array.from(data, (v) => BigInt(Math.round(v))));
  return f32Entry([...t.shape], data);
}

/** The safetensors entries and metadata of a checkpoint (reads the tensors back, one at a time). */
export async function checkpointEntries(
  model: Module & { config: ModelConfig },
  optimizer: { stateTensors(): Map<string, Tensor> } | null,
  training: TrainingState | null,
  /** More metadata entries (e.g. how a shipped model was trained); 'format', 'config' and 'training' are reserved. */
  extraMetadata: Record<string, string> = {},
): Promise<{ entries: Map<string, TensorEntry>; metadata: Record<string, string> }> {
  const entries = new Map<string, TensorEntry>();
  // One tensor read back at a time keeps peak CPU memory to the largest tensor plus the file's pages.
  for (const [name, t] of model.stateDict()) entries.set(name, await entryOf(name, t));
  if (optimizer) for (const [name, t] of optimizer.stateTensors()) entries.set(OPT_PREFIX + name, await entryOf(name, t));
  const metadata: Record<string, string> = { ...extraMetadata, format: CHECKPOINT_FORMAT, config: JSON.stringify(model.config) };
  if (training) metadata.training = JSON.stringify(training);
  return { entries, metadata };
}

/** A checkpoint as the bytes of a safetensors file (what saveCheckpoint writes). */
export async function serializeCheckpoint(
  model: Module & { config: ModelConfig },
  optimizer: { stateTensors(): Map<string, Tensor> } | null = null,
  training: TrainingState | null = null,
  extraMetadata: Record<string, string> = {},
): Promise<Uint8Array> {
  const { entries, metadata } = await checkpointEntries(model, optimizer, training, extraMetadata);
  return serializeSafetensors(entries, metadata);
}

/** Validates a parsed safetensors file as a checkpoint and uploads its tensors (`name` labels errors). */
export function checkpointFromSafetensors(file: SafetensorsContent, name: string): CheckpointContent {
  const fmt = file.metadata.format;
  if (fmt !== CHECKPOINT_FORMAT) {
    throw new Error(`${name}: not a matting-engine checkpoint (metadata 'format' is ${fmt ? `'${fmt}'` : 'missing'}); for plain weights use --pretrained`);
  }
  let config: ModelConfig;
  let training: TrainingState | null = null;
  try {
    config = makeConfig(JSON.parse(file.metadata.config ?? 'null') as Partial<ModelConfig>);
    if (file.metadata.training) training = JSON.parse(file.metadata.training) as TrainingState;
  } catch (e) {
    throw new Error(`${name}: bad checkpoint metadata: ${(e as Error).message}`);
  }
  const model = new Map<string, Tensor>();
  const optimizer = new Map<string, Tensor>();
  for (const [tensorName, entry] of file.tensors) {
    const t = keep(tensor(toFloat32(entry), entry.shape));
    if (tensorName.startsWith(OPT_PREFIX)) optimizer.set(tensorName.slice(OPT_PREFIX.length), t);
    else model.set(tensorName, t);
  }
  return { config, model, optimizer, training };
}

/** Parses checkpoint bytes (validated completely first) into GPU tensors the caller owns. */
export function parseCheckpoint(bytes: ArrayBuffer | Uint8Array, name = '<checkpoint bytes>'): CheckpointContent {
  return checkpointFromSafetensors(parseSafetensors(bytes, name), name);
}

/** Frees the tensors of a checkpoint. */
export function disposeCheckpoint(c: CheckpointContent): void {
  for (const t of c.model.values()) t.dispose();
  for (const t of c.optimizer.values()) t.dispose();
}

/** A model built from a checkpoint's config and weights, in eval mode (the checkpoint keeps its tensors). */
export function modelFromCheckpoint(c: CheckpointContent): MattingModel {
  const model = new MattingModel(c.config);
  model.loadStateDict(c.model);
  model.eval();
  return model;
}
