#!/usr/bin/env node
// The `matting-engine` command. In a clone it runs the TypeScript sources through tsx's loader (no
// build needed, stack traces point at the .ts files, nothing can go stale); in the published
// package, which ships no sources, it runs the built JavaScript in dist/.
//
// Dawn's and Mesa's start-up messages are silenced in-process by the engine, which points fd 2 at
// /dev/null while Dawn enumerates adapters and reopens the real stderr afterwards
// (engine/native-stderr.ts). That works when stderr is a terminal, a pipe or a file. A socket (what
// a parent Node process gives its children for piped stdio) cannot be reopened, so only then, and
// on Windows, the command runs in a child process whose stderr is filtered here. The child has an
// IPC channel to this process and stops (as on Ctrl-C) when it closes, so killing this process never
// leaves an orphaned trainer behind. --verbose (or DEBUG) shows the messages.
import { spawn } from 'node:child_process';
import { existsSync, readlinkSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const verbose = args.includes('--verbose') || !!process.env.DEBUG;
if (verbose) process.env.MATTING_VERBOSE ??= '1';

function stderrReopenable() {
  if (process.platform === 'win32') return false;
  try {
    return !readlinkSync(process.platform === 'linux' ? '/proc/self/fd/2' : '/dev/fd/2').startsWith('socket:');
  } catch {
    return process.platform !== 'linux'; // macOS /dev/fd entries are not links; the engine's check decides
  }
}

async function runHere() {
  if (process.env.MATTING_ENGINE_CHILD && process.channel) {
    process.channel.unref(); // the channel alone must not keep the command running
    process.on('disconnect', () => process.kill(process.pid, 'SIGINT'));
  }
  const source = join(here, 'main.ts');
  if (existsSync(source)) {
    const { register } = await import('tsx/esm/api');
    register();
    await import(pathToFileURL(source).href);
  } else {
    await import(pathToFileURL(join(here, '..', 'dist', 'cli', 'main.js')).href);
  }
}

if (verbose || process.env.MATTING_ENGINE_CHILD || stderrReopenable()) {
  await runHere();
} else {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), ...args], {
    stdio: ['inherit', 'inherit', 'pipe', 'ipc'],
    env: { ...process.env, MATTING_ENGINE_CHILD: '1', MATTING_STDERR_TTY: process.stderr.isTTY ? '1' : '', MATTING_COLUMNS: String(process.stderr.columns ?? '') },
  });
  // Native warnings: "Warning: ..." followed by indented "at operator() (...)" lines, and Mesa's notes.
  const noise = [/^Warning: /, /^\s+at operator\(\) \(/, /^error: XDG_RUNTIME_DIR/, /^MESA: /, /^WARNING: lavapipe/];
  let skippingTrace = false;
  const onLine = (line) => {
    if (noise.some((re) => re.test(line))) {
      skippingTrace = true;
      return;
    }
    // the indented context lines Dawn adds under a warning (" - While ...", "    at ...")
    if (skippingTrace && /^\s/.test(line)) return;
    skippingTrace = false;
    process.stderr.write(line + '\n');
  };
  // Whole lines are filtered; a progress line redrawn in place ('\r' without a newline) passes at once.
  let pending = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.includes('\r')) process.stderr.write(line + '\n');
      else onLine(line);
    }
    if (pending.includes('\r')) {
      process.stderr.write(pending);
      pending = '';
    }
  });
  child.stderr.on('end', () => pending && onLine(pending));
  // Ctrl-C reaches the child through the terminal's process group; only wait for it here.
  // After a hang-up the terminal is gone: writing to it must not kill the wrapper.
  process.stderr.on('error', () => {});
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  // 'close' comes after the child's stderr is drained ('exit' may come before).
  child.on('close', (code, signal) => process.exit(code ?? (signal ? 130 : 1)));
}
