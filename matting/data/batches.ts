/**
 * The deterministic heart of the loader: batch (epoch, index) as a pure function of the source,
 * the options and the base seed. Workers and the in-process path both call makeBatch, so they give
 * identical batches whatever the timing.
 *
 * Epoch e visits the items in a permutation seeded by (seed, e) (identity if shuffle is off);
 * sample i of the epoch uses item perm[i mod n] and draws all its random choices from
 * Rng(sampleSeed(seed, e, i)). An epoch has ceil(samplesPerEpoch / batchSize) batches; the last
 * one is filled by continuing the index (wrapping around the permutation), never short.
 */
import { augmentSample, resolveAugmentOptions, stackSamples, type AugmentOptions, type Batch, type ResolvedAugmentOptions, type Sample } from './augment.ts';
import { DataError, type SkippedFile } from './errors.ts';
import { Rng, hashSeed, permutation } from './rng.ts';
import { syntheticSample } from './synthetic.ts';
import { TrainingSet, type TrainingSetSpec } from './training-set.ts';

/** Procedurally generated training items (see synthetic.ts): item k is the scene of hashSeed(seed, k). */
export interface SyntheticSource {
  kind: 'synthetic';
  /** Items per epoch. */
  count: number;
  /** Content seed; default: the loader's seed. */
  seed?: number;
}

/** Serialisable description of where samples come from (sent to workers). */
export type SourceSpec = { kind: 'folder'; set: TrainingSetSpec } | SyntheticSource;

export interface BatchPlan {
  batchSize: number;
  seed: number;
  augment: ResolvedAugmentOptions;
  samplesPerEpoch: number;
  shuffle: boolean;
}

export interface BatchPlanOptions {
  batchSize: number;
  size: number;
  seed?: number;
  augment?: Omit<AugmentOptions, 'size'>;
  samplesPerEpoch?: number;
  shuffle?: boolean;
}

export function sampleSeed(seed: number, epoch: number, i: number): number {
  return hashSeed(seed, epoch, i);
}

export function sourceLength(source: SourceSpec): number {
  return source.kind === 'folder' ? source.set.pairs.length : source.count;
}

export function resolvePlan(source: SourceSpec, o: BatchPlanOptions): BatchPlan {
  if (!(Number.isInteger(o.batchSize) && o.batchSize >= 1)) throw new Error(`batchSize ${o.batchSize} must be a positive integer`);
  const samplesPerEpoch = o.samplesPerEpoch ?? sourceLength(source);
  if (!(Number.isInteger(samplesPerEpoch) && samplesPerEpoch >= 1)) throw new Error(`samplesPerEpoch ${samplesPerEpoch} must be a positive integer`);
  return {
    batchSize: o.batchSize,
    seed: o.seed ?? 0,
    augment: resolveAugmentOptions({ ...o.augment, size: o.size }),
    samplesPerEpoch,
    shuffle: o.shuffle ?? true,
  };
}

export class BatchMaker {
  readonly source: SourceSpec;
  readonly plan: BatchPlan;
  readonly batchesPerEpoch: number;
  private readonly set: TrainingSet | null;
  private reported: number;
  private permEpoch = -1;
  private perm: Uint32Array = new Uint32Array(0);

  /** `set` may be passed when the caller already holds the opened TrainingSet (in-process path). */
  constructor(source: SourceSpec, plan: BatchPlan, set?: TrainingSet) {
    this.source = source;
    this.plan = plan;
    this.batchesPerEpoch = Math.ceil(plan.samplesPerEpoch / plan.batchSize);
    this.set = source.kind === 'folder' ? (set ?? TrainingSet.fromSpec(source.set)) : null;
    this.reported = this.set ? this.set.skipped.length : 0;
    if (sourceLength(source) === 0) throw new Error('the sample source has no items');
  }

  private permutationFor(epoch: number): Uint32Array {
    if (this.permEpoch !== epoch) {
      const n = sourceLength(this.source);
      this.perm = this.plan.shuffle ? permutation(n, new Rng(hashSeed(this.plan.seed, epoch, 0x5eed))) : Uint32Array.from({ length: n }, (_, k) => k);
      this.permEpoch = epoch;
    }
    return this.perm;
  }

  /** Sample i (0-based, may exceed the epoch length: it wraps) of an epoch. */
  makeSample(epoch: number, i: number): Sample {
    const perm = this.permutationFor(epoch);
    const n = perm.length;
    const rng = new Rng(sampleSeed(this.plan.seed, epoch, i));
    if (this.source.kind === 'synthetic') {
      const item = perm[i % n]!;
      return syntheticSample(hashSeed(this.source.seed ?? this.plan.seed, item), this.plan.augment.size, {
        trimapKernel: this.plan.augment.trimapKernel,
        augmentSeed: rng.nextUint32(),
      });
    }
    const set = this.set!;
    const nBg = set.backgrounds.length;
    const bgStart = rng.int(0, nBg - 1);
    const augRng = rng.fork();
    // With skipBad a bad file is replaced by the next item (in permutation order) or the next
    // background: deterministic, since decoding fails the same way in every worker.
    const tries = set.skipBad ? n : 1;
    let pair: ReturnType<TrainingSet['loadPair']> | null = null;
    for (let t = 0; t < tries && pair === null; t++) {
      try {
        pair = set.loadPair(perm[(i + t) % n]!);
      } catch (e) {
        if (!(e instanceof DataError) || !set.skipBad) throw e;
      }
    }
    if (pair === null) throw new DataError(set.dir, 'every fg/alpha pair failed to load');
    const bgTries = set.skipBad ? nBg : 1;
    let bg: ReturnType<TrainingSet['loadBackground']> | null = null;
    for (let t = 0; t < bgTries && bg === null; t++) {
      try {
        bg = set.loadBackground((bgStart + t) % nBg);
      } catch (e) {
        if (!(e instanceof DataError) || !set.skipBad) throw e;
      }
    }
    if (bg === null) throw new DataError(set.dir, 'every background failed to load');
    return augmentSample(augRng, pair.fg, pair.alpha, bg, this.plan.augment);
  }

  makeBatch(epoch: number, index: number): Batch {
    if (!(Number.isInteger(epoch) && epoch >= 0 && Number.isInteger(index) && index >= 0 && index < this.batchesPerEpoch)) {
      throw new RangeError(`batch (${epoch}, ${index}): need integers, epoch >= 0, 0 <= index < ${this.batchesPerEpoch}`);
    }
    const samples: Sample[] = [];
    for (let j = 0; j < this.plan.batchSize; j++) samples.push(this.makeSample(epoch, index * this.plan.batchSize + j));
    return stackSamples(samples);
  }

  /** Files found bad since the previous call (skipBad only). */
  takeSkipped(): SkippedFile[] {
    if (!this.set) return [];
    const out = this.set.skipped.slice(this.reported);
    this.reported = this.set.skipped.length;
    return out;
  }
}
