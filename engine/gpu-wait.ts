/**
 * How the engine waits for a GPU promise (a readback's mapAsync, onSubmittedWorkDone).
 *
 * The default awaits it as is. A platform whose WebGPU implementation busy-polls while a promise is
 * pending can register a gentler waiter: Dawn's Node bindings re-arm a setImmediate tick for as long
 * as any GPU promise is pending, so the event loop spins a whole CPU core; on a CPU adapter
 * (llvmpipe) that core is one of the cores the "GPU" itself runs on. The Node entry registers
 * node/quiet-wait.ts here.
 */
export type GpuWaiter = <T>(promise: Promise<T>) => Promise<T>;

let waiter: GpuWaiter = (p) => p;

/** Replaces how the engine waits for GPU promises (see node/quiet-wait.ts). */
export function setGpuWaiter(w: GpuWaiter): void {
  waiter = w;
}

/**
 * Hands a GPU promise to the registered waiter, where the promise is created (Dawn spins from then
 * on, not from the await). Every GPU promise of the engine and of its benchmarks goes through here.
 */
export function gpuWait<T>(promise: Promise<T>): Promise<T> {
  return waiter(promise);
}
