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
 */
import { writeSafetensors, removeStaleTempFiles } from '../engine/io/safetensors-write.ts';
import { readSafetensors } from '../engine/io/safetensors-read.ts';
import { f32Entry, i64Entry, toFloat32, type TensorEntry } from '../engine/io/safetensors-common.ts';
import { tensor } from '../engine/creation.ts';
import { keep } from '../engine/scope.ts';
import type { Tensor } from '../engine/tensor.ts';
import type { Module } from '../engine/nn/module.ts';
import { makeConfig, scaled, type ModelConfig } from './graph/config.ts';
import { FC6_CHANNELS } from './graph/vgg16.ts';

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

export async function saveCheckpoint(
  path: string,
  model: Module & { config: ModelConfig },
  optimizer: { stateTensors(): Map<string, Tensor> } | null,
  training: TrainingState | null,
  /** More metadata entries (e.g. how a shipped model was trained); 'format', 'config' and 'training' are reserved. */
  extraMetadata: Record<string, string> = {},
): Promise<void> {
  const entries = new Map<string, TensorEntry>();
  // One tensor read back at a time keeps peak CPU memory to the largest tensor plus the file's pages.
  // Every value is checked on the way (NaN/Inf refuses the save before the file is touched).
  for (const [name, t] of model.stateDict()) entries.set(name, await entryOf(name, t, path));
  if (optimizer) for (const [name, t] of optimizer.stateTensors()) entries.set(OPT_PREFIX + name, await entryOf(OPT_PREFIX + name, t, path));
  const metadata: Record<string, string> = { ...extraMetadata, format: CHECKPOINT_FORMAT, config: JSON.stringify(model.config) };
  if (training) metadata.training = JSON.stringify(training);
  // Temp files of writers killed mid-save (about 3 GB each at paper size) go before a new one is made.
  await removeStaleTempFiles(path).catch(() => []);
  await writeSafetensors(path, entries, metadata);
}

/** Reads a checkpoint (validated completely before anything is returned) into GPU tensors the caller owns. */
export async function loadCheckpoint(path: string): Promise<CheckpointContent> {
  const file = await readSafetensors(path);
  const fmt = file.metadata.format;
  if (fmt !== CHECKPOINT_FORMAT) {
    throw new Error(`${path}: not a matting-engine checkpoint (metadata 'format' is ${fmt ? `'${fmt}'` : 'missing'}); for plain weights use --pretrained`);
  }
  let config: ModelConfig;
  let training: TrainingState | null = null;
  try {
    config = makeConfig(JSON.parse(file.metadata.config ?? 'null') as Partial<ModelConfig>);
    if (file.metadata.training) training = checkTrainingState(JSON.parse(file.metadata.training));
  } catch (e) {
    throw new Error(`${path}: bad checkpoint metadata: ${(e as Error).message}`);
  }
  checkConfigAgainstTensors(path, config, file.tensors);
  const model = new Map<string, Tensor>();
  const optimizer = new Map<string, Tensor>();
  // Non-finite values are refused before anything reaches the GPU (a poisoned checkpoint would
  // otherwise train on "normally" or predict a silent all-zero matte).
  const values = new Map<string, Float32Array>();
  for (const [name, entry] of file.tensors) {
    const data = toFloat32(entry);
    const bad = nonFiniteCount(data);
    if (bad) throw new NonFiniteTensorError(name, bad, `${path}: ${name} holds ${bad} NaN/Inf values; the checkpoint is poisoned (use an earlier one)`);
    values.set(name, data);
  }
  for (const [name, entry] of file.tensors) {
    const t = keep(tensor(values.get(name)!, entry.shape));
    if (name.startsWith(OPT_PREFIX)) optimizer.set(name.slice(OPT_PREFIX.length), t);
    else model.set(name, t);
  }
  return { config, model, optimizer, training };
}

export function disposeCheckpoint(c: CheckpointContent): void {
  for (const t of c.model.values()) t.dispose();
  for (const t of c.optimizer.values()) t.dispose();
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
