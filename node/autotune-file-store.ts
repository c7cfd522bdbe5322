/**
 * The autotuner's choices as a JSON file (engine/autotune.ts keeps no files itself, so the core
 * bundles for a browser): $MATTING_AUTOTUNE_CACHE, else $XDG_CACHE_HOME or ~/.cache, under
 * matting-engine/conv-variants.json -- outside the package folder. Written atomically (tmp + rename).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { AutotuneStore } from '../engine/autotune.ts';

export function autotuneCachePath(): string {
  const env = process.env.MATTING_AUTOTUNE_CACHE;
  if (env) return env;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'matting-engine', 'conv-variants.json');
}

export const autotuneFileStore: AutotuneStore = {
  load() {
    try {
      return readFileSync(autotuneCachePath(), 'utf8');
    } catch {
      return null; // absent or unreadable: tune again
    }
  },
  save(text) {
    const path = autotuneCachePath();
    try {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(`${path}.tmp`, text);
      renameSync(`${path}.tmp`, path);
    } catch {
      // a read-only home: the choices still hold for this process
    }
  },
};
