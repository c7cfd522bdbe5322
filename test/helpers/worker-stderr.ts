/**
 * Vitest setup file (runs in each test worker). Vitest connects a worker's stderr to its own
 * through a socket, which the engine cannot reopen to silence Dawn's start-up lines at the source
 * (engine/native-stderr.ts). Everything a worker writes there is copied unchanged to vitest's own
 * stderr, so the worker writes to that directly instead: fd 2 is pointed at the parent's stderr when
 * that is a terminal, pipe or file. Where it is not (vitest itself run with socket stdio), nothing
 * changes and the lines show.
 */
import { closeSync, openSync, readlinkSync } from 'node:fs';

function isSocket(path: string): boolean {
  try {
    return readlinkSync(path).startsWith('socket:');
  } catch {
    return true;
  }
}

if (process.platform === 'linux' && isSocket('/proc/self/fd/2') && !isSocket(`/proc/${process.ppid}/fd/2`)) {
  let target = -1;
  try {
    target = openSync(`/proc/${process.ppid}/fd/2`, 'a');
  } catch {
    // leave stderr as it is
  }
  if (target >= 0) {
    closeSync(2);
    const fd = openSync(`/proc/self/fd/${target}`, 'a');
    if (fd !== 2) closeSync(fd);
    closeSync(target);
  }
}
