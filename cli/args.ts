/** A small, strict argument parser: unknown options are errors, values are typed by the spec. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export type OptionSpec = Record<string, { type: 'string' | 'number' | 'boolean'; default?: string | number | boolean; help: string; alias?: string }>;

export type Parsed<S extends OptionSpec> = { [K in keyof S]: S[K]['type'] extends 'number' ? number : S[K]['type'] extends 'boolean' ? boolean : string | undefined } & {
  _: string[];
};

export function parseArgs<S extends OptionSpec>(argv: string[], spec: S, verb: string): Parsed<S> {
  const out: Record<string, unknown> = { _: [] };
  for (const [k, v] of Object.entries(spec)) out[k] = v.default ?? (v.type === 'boolean' ? false : undefined);
  const byAlias = new Map(Object.entries(spec).flatMap(([k, v]) => (v.alias ? [[v.alias, k]] : [])));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-') || a === '-') {
      (out._ as string[]).push(a);
      continue;
    }
    let [name, value] = a.replace(/^--?/, '').split(/=(.*)/s, 2) as [string, string | undefined];
    name = byAlias.get(name) ?? name;
    const camel = name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    const key = camel in spec ? camel : name.startsWith('no-') && name.slice(3) in spec ? name.slice(3) : null;
    if (!key) throw new UsageError(`${verb}: unknown option '${a}' (see 'matting-engine ${verb} --help')`);
    const s = spec[key]!;
    if (s.type === 'boolean') {
      out[key] = name.startsWith('no-') ? false : value === undefined ? true : !/^(0|false|no)$/i.test(value);
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`${verb}: option --${name} needs a value`);
    }
    if (s.type === 'number') {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new UsageError(`${verb}: option --${name} needs a number, got '${value}'`);
      out[key] = n;
    } else out[key] = value;
  }
  return out as Parsed<S>;
}

export function helpText(verb: string, summary: string, spec: OptionSpec, usage = ''): string {
  const rows = Object.entries(spec).map(([k, v]) => {
    const flag = `--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}${v.type === 'boolean' ? '' : ` <${v.type}>`}`;
    const def = v.default !== undefined && v.default !== false ? ` (default: ${v.default})` : '';
    return `  ${flag.padEnd(30)} ${v.help}${def}`;
  });
  return `matting-engine ${verb}${usage ? ' ' + usage : ''}\n\n${summary}\n\nOptions:\n${rows.join('\n')}\n`;
}
