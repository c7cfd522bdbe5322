/**
 * docs/api.md documents every exported name of each entry point in that entry's section, and the
 * runtime exports of the built-from-source entries are exactly the names the index files list.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ENTRIES, exportedNames } from './exports.ts';

const API = readFileSync(fileURLToPath(new URL('../../docs/api.md', import.meta.url)), 'utf8');

/** The text of `## <entry>` up to the next `## ` heading. */
function section(entry: string): string {
  const start = API.indexOf(`\n## ${entry}\n`);
  if (start < 0) return '';
  const next = API.indexOf('\n## ', start + 4);
  return API.slice(start, next < 0 ? undefined : next);
}

/** `name` in backticks: alone, or starting a signature (`name(`, `name<`) or a member list. */
const mentions = (text: string, name: string) => new RegExp('`' + name + '(?:`|[(<,.\\s])').test(text);

describe('docs/api.md', () => {
  for (const [entry, file] of Object.entries(ENTRIES)) {
    it(`documents every export of ${entry}`, () => {
      const names = exportedNames(file);
      expect(names.length).toBeGreaterThan(20);
      const text = section(entry);
      expect(text, `section '## ${entry}'`).not.toBe('');
      expect(names.filter((n) => !mentions(text, n))).toEqual([]);
    });
  }

  it('the index parser sees what the modules export at run time', async () => {
    for (const file of Object.values(ENTRIES)) {
      const mod = (await import(fileURLToPath(new URL(`../../${file}`, import.meta.url)))) as Record<string, unknown>;
      const listed = new Set(exportedNames(file));
      expect(Object.keys(mod).filter((k) => !listed.has(k)), file).toEqual([]);
    }
  });
});
