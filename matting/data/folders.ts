/** Listing the image files of a dataset folder, with the checks both dataset layouts share. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join, basename } from 'node:path';
import { DataError, type SkippedFile } from './errors.ts';
import { IMAGE_EXTENSIONS } from './image-io.ts';

/** Files a folder may hold besides images without being an error: OS litter. */
const IGNORED = new Set(['thumbs.db', 'desktop.ini']);

export interface FolderListing {
  /** Image files by name stem, sorted by stem. */
  byStem: Map<string, string>;
  skipped: SkippedFile[];
}

export function requireFolder(path: string, role: string): void {
  if (!existsSync(path)) throw new DataError(path, `missing folder (${role})`);
  if (!statSync(path).isDirectory()) throw new DataError(path, `not a folder (${role})`);
}

/**
 * Lists `dir`'s image files (.png/.jpg/.jpeg, any case) by stem. Hidden files and OS litter are
 * ignored; any other file (a .gif, a .txt, a sub-folder) is an error, or with `skipBad` a skipped
 * entry: a stray file in a dataset folder usually means a conversion step was missed. Two images
 * with one stem (a.png and a.jpg) are ambiguous and always an error. An empty result is an error.
 */
export function listImageFolder(dir: string, role: string, skipBad: boolean): FolderListing {
  requireFolder(dir, role);
  const skipped: SkippedFile[] = [];
  const byStem = new Map<string, string>();
  const names = readdirSync(dir).sort();
  for (const name of names) {
    if (name.startsWith('.') || IGNORED.has(name.toLowerCase())) continue;
    const path = join(dir, name);
    const ext = extname(name).toLowerCase();
    let problem: string | null = null;
    if (statSync(path).isDirectory()) problem = 'unexpected sub-folder';
    else if (!IMAGE_EXTENSIONS.includes(ext)) {
      problem = `unsupported format "${ext || '(no extension)'}" (expected ${IMAGE_EXTENSIONS.join(', ')})`;
    }
    if (problem !== null) {
      if (!skipBad) throw new DataError(path, problem);
      skipped.push({ file: path, problem });
      continue;
    }
    const stem = basename(name, extname(name));
    const prev = byStem.get(stem);
    if (prev !== undefined) throw new DataError(path, `two images share the name "${stem}" (also ${prev})`);
    byStem.set(stem, path);
  }
  if (byStem.size === 0) {
    throw new DataError(dir, `empty folder (${role}): no ${IMAGE_EXTENSIONS.join('/')} files`);
  }
  return { byStem, skipped };
}
