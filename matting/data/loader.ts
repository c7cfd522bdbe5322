/**
 * DataLoader: Batches for training, from a Composition-1k style folder (TrainingSet) or from the
 * synthetic generator, decoded and augmented in worker threads (or in-process with workers: 0),
 * `prefetch` batches ahead. Batch (epoch, index) depends only on the source, options and seed
 * (see batches.ts), so the worker path and the in-process path give identical batches.
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Batch } from './augment.ts';
import { BatchMaker, resolvePlan, type BatchPlanOptions, type SourceSpec, type SyntheticSource } from './batches.ts';
import { DataError, type SkippedFile } from './errors.ts';
import { TrainingSet, openTrainingSet, type OpenTrainingSetOptions } from './training-set.ts';
import type { WorkerInit, WorkerJob, WorkerReply } from './worker.ts';

export interface DataLoaderOptions extends BatchPlanOptions {
  /** Worker threads; 0 = decode and augment in the calling thread (synchronously). Default 0. */
  workers?: number;
  /** Batches requested ahead of consumption; default max(2, workers + 1). */
  prefetch?: number;
  /** Where skipped-file warnings go (once per file); default console.warn. */
  warn?: (message: string) => void;
}

export interface LoadedBatch extends Batch {
  epoch: number;
  index: number;
}

interface Pending {
  seq: number;
  generation: number;
  resolve: (b: LoadedBatch) => void;
  reject: (e: unknown) => void;
  promise: Promise<LoadedBatch>;
}

interface WorkerSlot {
  worker: Worker;
  busy: Pending | null;
}

/**
 * Starts worker.ts. Under tsx the worker is TypeScript, and on Node 20 the ESM hooks that
 * `--import tsx` installs do not reach worker threads (execArgv ['--import', 'tsx'] fails with
 * "Unknown file extension .ts"), so the worker boots through tsx's CommonJS API, which compiles
 * worker.ts and its imports on the fly. Works under vitest, `node --import tsx` and the tsx CLI.
 * A compiled build (loader.js next to worker.js) starts worker.js directly.
 */
function startWorker(init: WorkerInit): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const require = createRequire(here);
    const tsxApi = require.resolve('tsx/cjs/api');
    const file = fileURLToPath(new URL('./worker.ts', here));
    const boot = `require(${JSON.stringify(tsxApi)}).require(${JSON.stringify(file)}, ${JSON.stringify(file)});`;
    return new Worker(boot, { eval: true, workerData: init });
  }
  return new Worker(new URL('./worker.js', here), { workerData: init });
}

function toSourceSpec(source: TrainingSet | SyntheticSource): SourceSpec {
  return source instanceof TrainingSet ? { kind: 'folder', set: source.spec() } : source;
}

/** The most data worker threads a loader starts. */
export const MAX_WORKERS = 64;

export class DataLoader {
  readonly batchesPerEpoch: number;
  readonly batchSize: number;
  readonly size: number;
  readonly workers: number;
  readonly prefetch: number;
  /** Files left out because they failed to load (skipBad), each reported once. */
  readonly skipped: SkippedFile[] = [];
  private readonly maker: BatchMaker;
  private readonly init: WorkerInit;
  private readonly warn: (message: string) => void;
  private readonly seen = new Set<string>();
  private slots: WorkerSlot[] = [];
  private readonly pending = new Map<number, Pending>();
  private queue: Pending[] = [];
  private nextSeq = 0;
  private dispatchedSeq = 0;
  private generation = 0;
  private failure: unknown = null;
  private closed = false;

  constructor(source: TrainingSet | SyntheticSource, options: DataLoaderOptions) {
    const spec = toSourceSpec(source);
    const plan = resolvePlan(spec, options);
    this.maker = new BatchMaker(spec, plan, source instanceof TrainingSet ? source : undefined);
    this.init = { source: spec, plan };
    this.batchesPerEpoch = this.maker.batchesPerEpoch;
    this.batchSize = plan.batchSize;
    this.size = plan.augment.size;
    this.workers = options.workers ?? 0;
    // Each worker is a V8 isolate with its own heap: 1000 of them ran the process out of memory.
    if (!(Number.isInteger(this.workers) && this.workers >= 0 && this.workers <= MAX_WORKERS)) {
      throw new Error(`data workers must be an integer in [0, ${MAX_WORKERS}], got ${options.workers}`);
    }
    this.prefetch = Math.max(1, Math.floor(options.prefetch ?? Math.max(2, this.workers + 1)));
    this.warn = options.warn ?? ((m: string) => console.warn(m));
    for (let w = 0; w < this.workers; w++) this.slots.push(this.spawn());
  }

  /** Opens a Composition-1k style folder (see openTrainingSet) and loads from it. */
  static fromFolder(dir: string, options: DataLoaderOptions & OpenTrainingSetOptions): DataLoader {
    const set = openTrainingSet(dir, {
      ...(options.skipBad !== undefined ? { skipBad: options.skipBad } : {}),
      ...(options.cacheMB !== undefined ? { cacheMB: options.cacheMB } : {}),
      ...(options.warn !== undefined ? { warn: options.warn } : {}),
    });
    return new DataLoader(set, options);
  }

  /** Batch (epoch, index) built in the calling thread, whatever `workers` is. */
  batchSync(epoch: number, index: number): LoadedBatch {
    const batch = this.maker.makeBatch(epoch, index);
    this.report(this.maker.takeSkipped());
    return { ...batch, epoch, index };
  }

  /** The next batch in order: epoch 0 batches 0..batchesPerEpoch-1, then epoch 1, ... */
  next(): Promise<LoadedBatch> {
    if (this.closed) return Promise.reject(new Error('DataLoader is closed'));
    if (this.failure !== null) return Promise.reject(this.failure);
    const seq = this.nextSeq++;
    if (this.workers === 0) {
      try {
        return Promise.resolve(this.batchSync(...this.position(seq)));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    this.fill();
    const p = this.pending.get(seq)!;
    this.pending.delete(seq);
    this.fill();
    return p.promise;
  }

  /** The batches of one epoch, in order (moves the loader's position there). */
  async *epoch(epoch: number): AsyncGenerator<LoadedBatch> {
    this.seek(epoch, 0);
    for (let i = 0; i < this.batchesPerEpoch; i++) yield await this.next();
  }

  /** Continue from batch (epoch, index), e.g. when resuming; batches prefetched for elsewhere are dropped. */
  seek(epoch: number, index = 0): void {
    if (!(Number.isInteger(epoch) && epoch >= 0 && Number.isInteger(index) && index >= 0 && index < this.batchesPerEpoch)) {
      throw new RangeError(`seek(${epoch}, ${index}): need integers, epoch >= 0, 0 <= index < ${this.batchesPerEpoch}`);
    }
    const seq = epoch * this.batchesPerEpoch + index;
    if (seq === this.nextSeq) return;
    this.generation++;
    this.pending.clear();
    this.queue = [];
    this.nextSeq = seq;
    this.dispatchedSeq = seq;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new Error('DataLoader closed');
    for (const p of [...this.pending.values(), ...this.queue, ...this.slots.map((s) => s.busy)]) p?.reject(err);
    this.pending.clear();
    this.queue = [];
    const slots = this.slots;
    this.slots = [];
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private position(seq: number): [number, number] {
    return [Math.floor(seq / this.batchesPerEpoch), seq % this.batchesPerEpoch];
  }

  private spawn(): WorkerSlot {
    const worker = startWorker(this.init);
    const slot: WorkerSlot = { worker, busy: null };
    worker.unref(); // only a job in flight keeps the process alive (see dispatch)
    worker.on('message', (reply: WorkerReply) => this.onReply(slot, reply));
    worker.on('error', (e) => this.onWorkerDeath(slot, e));
    worker.on('exit', (code) => {
      if (!this.closed) this.onWorkerDeath(slot, new Error(`data loader worker exited with code ${code}`));
    });
    return slot;
  }

  /** Requests batches up to `prefetch` ahead of the next one handed out, and starts idle workers. */
  private fill(): void {
    while (this.dispatchedSeq < this.nextSeq + this.prefetch) {
      const seq = this.dispatchedSeq++;
      let resolve!: (b: LoadedBatch) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<LoadedBatch>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      // Marked handled up front: a prefetched batch may fail before anyone awaits it, and that must
      // not be an unhandled rejection; next() still hands the rejection to its caller.
      promise.catch(() => {});
      const p: Pending = { seq, generation: this.generation, resolve, reject, promise };
      this.pending.set(seq, p);
      this.queue.push(p);
    }
    for (const slot of this.slots) {
      if (slot.busy !== null) continue;
      const p = this.queue.shift();
      if (p === undefined) break;
      slot.busy = p;
      slot.worker.ref();
      const [epoch, index] = this.position(p.seq);
      const job: WorkerJob = { id: p.seq, epoch, index };
      slot.worker.postMessage(job);
    }
  }

  private onReply(slot: WorkerSlot, reply: WorkerReply): void {
    const p = slot.busy;
    slot.busy = null;
    slot.worker.unref();
    this.report(reply.skipped);
    // A reply for a batch requested before a seek() has nobody waiting: dropped.
    if (p !== null && p.seq === reply.id && p.generation === this.generation && !this.closed) {
      if (reply.ok) {
        const [epoch, index] = this.position(p.seq);
        p.resolve({ ...reply.batch, epoch, index });
      } else {
        const e = reply.error;
        const err = e.dataError ? new DataError(e.file, e.problem) : new Error(e.message);
        if (e.stack !== undefined && !e.dataError) err.stack = e.stack;
        p.reject(err);
      }
    }
    if (!this.closed) this.fill();
  }

  private onWorkerDeath(slot: WorkerSlot, e: unknown): void {
    if (this.closed || this.failure !== null) return;
    this.failure = e instanceof Error ? e : new Error(String(e));
    for (const p of [...this.pending.values(), ...this.queue, ...this.slots.map((s) => s.busy)]) p?.reject(this.failure);
  }

  private report(files: readonly SkippedFile[]): void {
    for (const f of files) {
      if (this.seen.has(f.file)) continue;
      this.seen.add(f.file);
      this.skipped.push(f);
      this.warn(`skipping ${f.file}: ${f.problem}`);
    }
  }
}
