/**
 * Worker thread of the DataLoader: builds a BatchMaker from workerData once, then answers
 * { id, epoch, index } jobs with the batch, its Float32Array buffers transferred (not copied).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BatchMaker, type BatchPlan, type SourceSpec } from './batches.ts';
import { DataError } from './errors.ts';

export interface WorkerInit {
  source: SourceSpec;
  plan: BatchPlan;
}

export interface WorkerJob {
  id: number;
  epoch: number;
  index: number;
}

export type WorkerReply =
  | { id: number; ok: true; batch: import('./augment.ts').Batch; skipped: { file: string; problem: string }[] }
  | { id: number; ok: false; error: { dataError: boolean; file: string; problem: string; message: string; stack?: string }; skipped: { file: string; problem: string }[] };

const port = parentPort;
if (port === null) throw new Error('worker.ts must run as a worker thread');
const init = workerData as WorkerInit;
const maker = new BatchMaker(init.source, init.plan);

port.on('message', (job: WorkerJob) => {
  let reply: WorkerReply;
  const transfer: ArrayBuffer[] = [];
  try {
    const batch = maker.makeBatch(job.epoch, job.index);
    reply = { id: job.id, ok: true, batch, skipped: maker.takeSkipped() };
    for (const a of [batch.image, batch.trimap, batch.alpha, batch.fg, batch.bg]) transfer.push(a.buffer as ArrayBuffer);
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    reply = {
      id: job.id,
      ok: false,
      error: {
        dataError: e instanceof DataError,
        file: e instanceof DataError ? e.file : '',
        problem: e instanceof DataError ? e.problem : '',
        message: err.message,
        ...(err.stack !== undefined ? { stack: err.stack } : {}),
      },
      skipped: maker.takeSkipped(),
    };
  }
  port.postMessage(reply, transfer);
});
