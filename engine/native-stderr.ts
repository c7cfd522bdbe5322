/**
 * Node only: runs a synchronous native call with the process's file descriptor 2 pointed at
 * /dev/null, then puts the original stderr back.
 *
 * Why: Dawn prints "Warning: maxDynamic...BuffersPerPipelineLayout artificially reduced ..." (and
 * drivers print their own notes) with fprintf(stderr) while it initialises the physical devices,
 * which happens synchronously inside GPU.requestAdapter(). Dawn has no log-level setting, the
 * lines come whatever limits are requested later, and Node cannot dup2(), so the only way to keep
 * them out of a library user's output (and out of `npm test`) without re-running the process is to
 * swap fd 2 for the duration of that one call. No JavaScript runs in that window, so nothing
 * written by JS is lost. The swap: open the current stderr again through /proc/self/fd/2 (or
 * /dev/fd/2), close 2, open /dev/null (the lowest free descriptor: 2); afterwards close 2 and open
 * the saved one again (2 once more). Skipped where stderr cannot be reopened by path (Windows,
 * sockets): the messages then show, nothing else changes.
 */
import { closeSync, fstatSync, openSync } from 'node:fs';

const FD_DIR = process.platform === 'linux' ? '/proc/self/fd' : '/dev/fd';

export function withNativeStderrSilenced<T>(fn: () => T): T {
  if (process.platform === 'win32') return fn();
  let saved: number;
  try {
    saved = openSync(`${FD_DIR}/2`, 'a');
  } catch {
    return fn();
  }
  let swapped = false;
  try {
    closeSync(2);
    const nul = openSync('/dev/null', 'w');
    swapped = nul === 2;
    // Another thread took 2 between close and open: leave it alone and let the messages show.
    if (!swapped) closeSync(nul);
  } catch {
    // fall through to the restore below
  }
  try {
    return fn();
  } finally {
    try {
      if (swapped) closeSync(2);
      // Reopens the original stderr; 2 is the lowest free descriptor again.
      if (swapped || !isOpen(2)) openSync(`${FD_DIR}/${saved}`, 'a');
    } finally {
      closeSync(saved);
    }
  }
}

function isOpen(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}
