// Child process for crash-safety.test.ts (not a test file itself).
// Usage: node --import tsx crash-child.ts <target> <mode: pause|free> <megabytes>
//   pause: after the header and two tensors are written, report MID-WRITE on stdout and stall
//          (the parent then SIGKILLs us: a deterministic kill in the middle of the data).
//   free:  write at full speed; the parent kills us as soon as the temp file shows up.
// Prints STARTED right before writeSafetensors is called and DONE after it resolves.

import { open } from 'node:fs/promises';
import { f32Entry, writeSafetensors, type TensorEntry } from '../../engine/io/safetensors.ts';

const [target, mode, mbArg] = process.argv.slice(2);
if (target === undefined || (mode !== 'pause' && mode !== 'free') || mbArg === undefined) {
  throw new Error('usage: crash-child.ts <target> <pause|free> <megabytes>');
}

const TENSOR_BYTES = 4 * 1024 * 1024;
const count = Math.max(1, Math.round((Number(mbArg) * 1024 * 1024) / TENSOR_BYTES));
const tensors = new Map<string, TensorEntry>();
for (let i = 0; i < count; i++) {
  tensors.set(`layer${i}.weight`, f32Entry([TENSOR_BYTES / 4], new Float32Array(TENSOR_BYTES / 4).fill(i + 0.5)));
}

if (mode === 'pause') {
  // Test-only hook: wrap FileHandle.prototype.write (the class is not exported; take it from a
  // handle) so that the module's third write call stalls after completing.
  const probe = await open(process.execPath, 'r');
  const proto = Object.getPrototypeOf(probe) as { write: (...args: unknown[]) => Promise<unknown> };
  await probe.close();
  const originalWrite = proto.write;
  let calls = 0;
  proto.write = async function (this: unknown, ...args: unknown[]): Promise<unknown> {
    const result = await originalWrite.apply(this, args);
    if (++calls === 3) {
      process.stdout.write('MID-WRITE\n');
      await new Promise((resolve) => setTimeout(resolve, 60_000));
    }
    return result;
  };
}

process.stdout.write('STARTED\n');
await writeSafetensors(target, tensors, { writer: 'crash-child' });
process.stdout.write('DONE\n');
