/** The names each public entry exports, read from its index file (values and types alike). */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export const ENTRIES: Record<string, string> = {
  'matting-engine': 'engine/index.ts',
  'matting-engine/matting': 'matting/index.ts',
  'matting-engine/node': 'node/index.ts',
};

/** Exported names of a module file: `export { a, b as c, type T }`, `export * from` (followed), declarations. */
export function exportedNames(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  const names = new Set<string>();
  for (const m of text.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)) {
    for (const raw of m[1]!.split(',')) {
      const item = raw.trim().replace(/^type\s+/, '');
      if (!item) continue;
      const alias = /\bas\s+(\w+)$/.exec(item);
      names.add(alias ? alias[1]! : item);
    }
  }
  for (const m of text.matchAll(/export\s+\*\s+from\s+'([^']+)'/g)) {
    for (const n of exportedNames(join(dirname(file), m[1]!))) names.add(n);
  }
  for (const m of text.matchAll(/export\s+(?:declare\s+)?(?:async\s+)?(?:function|class|const|let|interface|type|abstract\s+class)\s+(\w+)/g)) names.add(m[1]!);
  return [...names].sort();
}
