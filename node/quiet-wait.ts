/**
 * Waiting on Dawn without spinning a CPU core.
 *
 * While any GPU promise is pending, Dawn's Node bindings tick the device from a setImmediate that
 * re-arms itself: the event loop spins at 100% of a core for the whole wait. On a CPU adapter
 * (llvmpipe, two cores here) that core is taken from the shader threads: an FMA-bound kernel ran at
 * 69 GFLOP/s beside the spin and at 87 GFLOP/s with this waiter (bench/README.md has the conv and
 * training-step figures).
 *
 * The waiter lets the loop spin for the first SPIN_MS (short waits keep their latency), then parks
 * the thread between event-loop turns with Atomics.wait (a true sleep, no CPU), in naps that grow
 * from NAP_MIN_MS to NAP_MAX_MS: a long wait turns the loop ~2000 times a second instead of
 * millions, and finishes at most NAP_MAX_MS after the GPU does. Node allows Atomics.wait on the main
 * thread; browsers do not block there (and do not spin), so only the Node entry registers this.
 */
const SPIN_MS = 1;
const NAP_MIN_MS = 0.05;
const NAP_MAX_MS = 0.5;

const cell = new Int32Array(new SharedArrayBuffer(4));

/** GPU promises not yet settled, and the nap loop's state (one loop however many are pending). */
let pending = 0;
let looping = false;
let since = 0;
let nap = NAP_MIN_MS;

function turn(): void {
  if (pending === 0) {
    looping = false;
    return;
  }
  if (performance.now() - since >= SPIN_MS) {
    Atomics.wait(cell, 0, 0, nap);
    nap = Math.min(NAP_MAX_MS, nap * 2);
  }
  setImmediate(turn);
}

/**
 * Returns the promise itself; from now until it settles, idle turns of the event loop nap. Wrap a
 * GPU promise where it is created (not where it is awaited): Dawn spins from its creation on.
 */
export function quietWait<T>(promise: Promise<T>): Promise<T> {
  pending++;
  const settle = (): void => {
    pending--;
    nap = NAP_MIN_MS;
    since = performance.now();
  };
  promise.then(settle, settle);
  if (!looping) {
    looping = true;
    since = performance.now();
    nap = NAP_MIN_MS;
    setImmediate(turn);
  }
  return promise;
}
