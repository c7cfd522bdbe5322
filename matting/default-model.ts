/**
 * The model shipped with the package (models/default.safetensors): trained by this engine from
 * scratch on the CPU adapter; models/README.md has its recipe and scores. predict and eval use it
 * when no --model is given.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const DEFAULT_MODEL_PATH = fileURLToPath(new URL('../models/default.safetensors', import.meta.url));

/** The checkpoint to use: `path` when given, else the shipped default (a clear error when missing). */
export function resolveModelPath(path?: string): string {
  if (path) return path;
  if (!existsSync(DEFAULT_MODEL_PATH)) throw new Error(`the default model ${DEFAULT_MODEL_PATH} is missing from this installation; pass --model CKPT`);
  return DEFAULT_MODEL_PATH;
}
