import { BUFFER_USAGE } from './gpu-flags.ts';

/**
 * Size-bucketed pool of GPU storage buffers. Buffers are never destroyed while the engine runs:
 * a released buffer waits in its bucket for the next request of that size class, so a training loop
 * allocates nothing in steady state. Reuse is safe without fences because the queue runs commands in
 * submission order and CPU writes flush pending commands first (see CommandRecorder).
 */
export interface PoolStats {
  /** Bytes held by buffers currently in use by tensors. */
  liveBytes: number;
  /** Bytes held by idle buffers waiting in the pool. */
  pooledBytes: number;
  /** GPU buffers created so far (a steady-state loop keeps this constant). */
  allocations: number;
  /** Requests served from the pool. */
  reuses: number;
  liveBuffers: number;
  pooledBuffers: number;
  /** Highest liveBytes + pooledBytes seen: the GPU memory the pool has held at once. */
  peakBytes: number;
}

export const STORAGE_USAGE = BUFFER_USAGE.STORAGE | BUFFER_USAGE.COPY_SRC | BUFFER_USAGE.COPY_DST;

/**
 * Size classes: 4 steps per power of two (at most 25% waste), minimum 256 bytes so that any
 * buffer can be bound at the largest offset alignment.
 */
export function sizeClass(bytes: number): number {
  const min = 256;
  if (bytes <= min) return min;
  const p = 2 ** Math.floor(Math.log2(bytes));
  const step = p / 4;
  return Math.ceil(bytes / step) * step;
}

export class BufferPool {
  private free = new Map<string, GPUBuffer[]>();
  /** Buffers handed out and not yet released (destroyed by destroyAll on a device the engine does not own). */
  private live = new Set<GPUBuffer>();
  private stats = { liveBytes: 0, pooledBytes: 0, allocations: 0, reuses: 0, liveBuffers: 0, pooledBuffers: 0, peakBytes: 0 };

  constructor(
    private readonly device: GPUDevice,
    private readonly onAllocate: (bytes: number, label: string, create: () => GPUBuffer) => GPUBuffer,
  ) {}

  acquire(bytes: number, usage: number = STORAGE_USAGE, label = 'tensor'): GPUBuffer {
    const size = sizeClass(bytes);
    const key = `${usage}:${size}`;
    const bucket = this.free.get(key);
    let buffer = bucket?.pop();
    if (buffer) {
      this.stats.reuses++;
      this.stats.pooledBytes -= size;
      this.stats.pooledBuffers--;
    } else {
      buffer = this.onAllocate(size, label, () => this.device.createBuffer({ size, usage, label }));
      this.stats.allocations++;
      this.stats.peakBytes = Math.max(this.stats.peakBytes, this.stats.liveBytes + this.stats.pooledBytes + size);
    }
    this.stats.liveBytes += size;
    this.stats.liveBuffers++;
    this.live.add(buffer);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    if (!this.live.delete(buffer)) return; // already freed by destroyAll
    const key = `${buffer.usage}:${buffer.size}`;
    let bucket = this.free.get(key);
    if (!bucket) this.free.set(key, (bucket = []));
    bucket.push(buffer);
    this.stats.liveBytes -= buffer.size;
    this.stats.liveBuffers--;
    this.stats.pooledBytes += buffer.size;
    this.stats.pooledBuffers++;
  }

  /** Destroys idle buffers (e.g. after a large one-off job) and returns the bytes freed. */
  trim(): number {
    let freed = 0;
    for (const bucket of this.free.values()) {
      for (const b of bucket) {
        freed += b.size;
        b.destroy();
      }
    }
    this.free.clear();
    this.stats.pooledBytes = 0;
    this.stats.pooledBuffers = 0;
    return freed;
  }

  /** Destroys every buffer of the pool, idle or in use (tensors still holding one become unusable). */
  destroyAll(): void {
    this.trim();
    for (const b of this.live) b.destroy();
    this.live.clear();
    this.stats.liveBytes = 0;
    this.stats.liveBuffers = 0;
  }

  getStats(): PoolStats {
    return { ...this.stats };
  }
}
