#!/usr/bin/env node
// The `matting-engine` command. TypeScript runs through tsx's loader, so a clone works without a
// build step. Dawn and Mesa print start-up warnings from native code straight to stderr; unless
// --verbose (or DEBUG) is given, the command runs in a child process whose stderr is filtered.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const verbose = args.includes('--verbose') || !!process.env.DEBUG;

if (verbose || process.env.MATTING_ENGINE_CHILD) {
  if (process.channel) {
    // Started by the wrapper below: if the wrapper dies (kill -9), stop as on SIGTERM (train writes
    // its checkpoint) instead of running on as an orphan. The channel must not keep the process alive.
    process.channel.unref();
    process.on('disconnect', () => (process.listenerCount('SIGTERM') > 0 ? process.emit('SIGTERM', 'SIGTERM') : process.exit(143)));
  }
  const { register } = await import('tsx/esm/api');
  register();
  await import(join(here, 'main.ts'));
} else {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), ...args], {
    stdio: ['inherit', 'inherit', 'pipe', 'ipc'],
    env: { ...process.env, MATTING_ENGINE_CHILD: '1', MATTING_STDERR_TTY: process.stderr.isTTY ? '1' : '' },
  });
  // Native warnings: "Warning: ..." followed by indented "at operator() (...)" lines, and Mesa's notes.
  const noise = [/^Warning: /, /^\s+at operator\(\) \(/, /^error: XDG_RUNTIME_DIR/, /^MESA: /, /^WARNING: lavapipe/];
  let skippingTrace = false;
  createInterface({ input: child.stderr }).on('line', (line) => {
    if (noise.some((re) => re.test(line))) {
      skippingTrace = true;
      return;
    }
    // the indented context lines Dawn adds under a warning (" - While ...", "    at ...")
    if (skippingTrace && /^\s/.test(line)) return;
    skippingTrace = false;
    process.stderr.write(line + '\n');
  });
  // Ctrl-C reaches the child through the terminal's process group; only wait for it here.
  // After a hang-up the terminal is gone: writing to it must not kill the wrapper.
  process.stderr.on('error', () => {});
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 130 : 1)));
}
