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
import { makeConfig, scaled, type ModelConfig } from './graph/config.ts';
import { FC6_CHANNELS } from './graph/vgg16.ts';
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
  /**
   * The parameter name of each optimiser index i (`state.<i>.*`), so resuming maps state by name:
   * a later stage or a model whose trainable set differs still finds every parameter's own state.
   * Absent in checkpoints written before it (their indices follow the trainable order of `extra.stage`).
   */
  optimizerParams?: string[];
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

/** A tensor holding NaN or Inf: such weights are never written and never loaded. */
export class NonFiniteTensorError extends Error {
  override name = 'NonFiniteTensorError';
  constructor(readonly tensor: string, readonly count: number, message: string) {
    super(message);
  }
}

function nonFiniteCount(data: Float32Array): number {
  let bad = 0;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) bad++;
  return bad;
}

async function entryOf(name: string, t: Tensor, path: string): Promise<TensorEntry> {
  const data = await t.data();
  const bad = nonFiniteCount(data);
  if (bad) throw new NonFiniteTensorError(name, bad, `refusing to write ${path}: ${name} holds ${bad} NaN/Inf values`);
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
  /** Names the destination in errors. */
  path = '<checkpoint>',
): Promise<{ entries: Map<string, TensorEntry>; metadata: Record<string, string> }> {
  const entries = new Map<string, TensorEntry>();
  // One tensor read back at a time keeps peak CPU memory to the largest tensor plus the file's pages.
  // Every value is checked on the way (NaN/Inf refuses the save before any file is touched).
  for (const [name, t] of model.stateDict()) entries.set(name, await entryOf(name, t, path));
  if (optimizer) for (const [name, t] of optimizer.stateTensors()) entries.set(OPT_PREFIX + name, await entryOf(OPT_PREFIX + name, t, path));
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
    if (file.metadata.training) training = checkTrainingState(JSON.parse(file.metadata.training));
  } catch (e) {
    throw new Error(`${name}: bad checkpoint metadata: ${(e as Error).message}`);
  }
  checkConfigAgainstTensors(name, config, file.tensors);
  // Non-finite values are refused before anything reaches the GPU (a poisoned checkpoint would
  // otherwise train on "normally" or predict a silent all-zero matte).
  const values = new Map<string, Float32Array>();
  for (const [tensorName, entry] of file.tensors) {
    const data = toFloat32(entry);
    const bad = nonFiniteCount(data);
    if (bad) throw new NonFiniteTensorError(tensorName, bad, `${name}: ${tensorName} holds ${bad} NaN/Inf values; the checkpoint is poisoned (use an earlier one)`);
    values.set(tensorName, data);
  }
  const model = new Map<string, Tensor>();
  const optimizer = new Map<string, Tensor>();
  for (const [tensorName, entry] of file.tensors) {
    const t = keep(tensor(values.get(tensorName)!, entry.shape));
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

/**
 * Re-keys optimiser state saved as `state.<i>.<name>` under the parameter names `savedNames[i]` to
 * the indices of `currentNames`. Throws naming the parameter when the saved state belongs to a
 * parameter the current model does not have, or names an index outside `savedNames`.
 */
export function remapOptimizerState(
  tensors: ReadonlyMap<string, Tensor>,
  steps: Record<string, number>,
  savedNames: readonly string[],
  currentNames: readonly string[],
): { tensors: Map<string, Tensor>; steps: Map<string, number> } {
  const index = new Map(currentNames.map((n, i) => [n, i]));
  const rekey = (key: string): string => {
    const m = /^state\.(\d+)\.(.+)$/.exec(key);
    if (!m) throw new Error(`optimizer state: unexpected name '${key}'`);
    const name = savedNames[Number(m[1])];
    if (name === undefined) throw new Error(`optimizer state: '${key}' names parameter ${m[1]}, but the checkpoint lists ${savedNames.length}`);
    const to = index.get(name);
    if (to === undefined) throw new Error(`optimizer state: '${key}' belongs to parameter '${name}', which this model does not have`);
    return `state.${to}.${m[2]}`;
  };
  const outTensors = new Map<string, Tensor>();
  for (const [k, t] of tensors) outTensors.set(rekey(k), t);
  const outSteps = new Map<string, number>();
  for (const [k, n] of Object.entries(steps)) outSteps.set(rekey(k), n);
  return { tensors: outTensors, steps: outSteps };
}

/**
 * The metadata sizes the model that a caller builds from it, so it is checked against the tensors
 * first: a tampered `config.width` (4 in a 12 MB file asked for 6 GB) or encoder kind is refused
 * before anything is allocated. The widest tensor of each encoder and the parts' presence decide.
 */
function checkConfigAgainstTensors(path: string, config: ModelConfig, tensors: ReadonlyMap<string, { shape: number[] }>): void {
  const problems: string[] = [];
  const expectRows = (name: string, rows: number) => {
    const t = tensors.get(name);
    if (!t) problems.push(`${name} is missing`);
    else if (t.shape[0] !== rows) problems.push(`${name} has ${t.shape[0]} output channels where width ${config.width} gives ${rows}`);
  };
  if (config.encoder === 'resnet50-dual') expectRows('encoder.image.conv1.weight', scaled(64, config.width));
  else expectRows('encoder.image.fc6.weight', scaled(FC6_CHANNELS, config.width));
  const has = (prefix: string) => [...tensors.keys()].some((k) => k.startsWith(prefix));
  if (has('encoder.trimap.') !== (config.encoder !== 'vgg16-4ch')) problems.push(`the trimap branch does not match encoder '${config.encoder}'`);
  if (has('refine.') !== (config.refine !== 'none')) problems.push(`the refinement tensors do not match refine '${config.refine}'`);
  if (problems.length) throw new Error(`${path}: the checkpoint's config does not match its tensors (${problems.join('; ')})`);
}

/**
 * The training metadata is untrusted input like the rest of the file: every field the trainer
 * uses is checked for its type here, so a tampered file gets one message naming the field instead
 * of an internal error later ("this.history.push is not a function").
 */
function checkTrainingState(v: unknown): TrainingState {
  const problems: string[] = [];
  const obj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!obj(v)) throw new Error("'training' is not a JSON object");
  const count = (k: string) => {
    if (!(Number.isInteger(v[k]) && (v[k] as number) >= 0)) problems.push(`training.${k} is not a non-negative integer`);
  };
  count('step');
  count('epoch');
  count('batchIndex');
  if (!obj(v.optimizerSteps) || !Object.values(v.optimizerSteps).every((n) => Number.isInteger(n) && (n as number) >= 0)) problems.push('training.optimizerSteps is not a map of step counts');
  if (!Array.isArray(v.learningRates) || !v.learningRates.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0)) problems.push('training.learningRates is not a list of learning rates');
  if (v.optimizerParams !== undefined && (!Array.isArray(v.optimizerParams) || !v.optimizerParams.every((x) => typeof x === 'string'))) problems.push('training.optimizerParams is not a list of parameter names');
  if (v.extra === undefined) v.extra = {};
  if (!obj(v.extra)) problems.push('training.extra is not an object');
  else {
    const e = v.extra;
    if (e.history !== undefined && (!Array.isArray(e.history) || !e.history.every((h) => obj(h) && typeof h.step === 'number' && obj(h.losses)))) problems.push('training.extra.history is not a list of {step, losses}');
    if (e.bestSad !== undefined && e.bestSad !== null && typeof e.bestSad !== 'number') problems.push('training.extra.bestSad is not a number');
    if (e.seed !== undefined && !Number.isInteger(e.seed)) problems.push('training.extra.seed is not an integer');
    if (e.stage !== undefined && typeof e.stage !== 'string') problems.push('training.extra.stage is not a string');
  }
  if (problems.length) throw new Error(problems.join('; '));
  return v as unknown as TrainingState;
}
