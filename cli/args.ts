/**
 * The one argument parser of every verb: strict (an unknown option is an error, with a "did you
 * mean"), typed by the spec (numbers, integers, choices), `--no-x` for boolean options only,
 * positional arguments mapped onto named options, and messages that name options as users type
 * them (`--batch-size`, never `batchSize`). The spec also drives `--help`: placeholders, choices
 * and defaults come from the same table, so the help cannot drift from what is parsed.
 *
 * Why our own and not node:util's parseArgs or commander/yargs: parseArgs (Node 20) has no numbers,
 * no choices, no help and no suggestions, so a layer like this one is needed on top anyway; the
 * libraries bring these but with their own help layout, error wording and exit behaviour that we
 * would have to override to keep "one clear line, exit 2"; this file is ~200 lines with no dependency.
 */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface OptionDef {
  type: 'string' | 'number' | 'boolean';
  default?: string | number | boolean;
  help: string;
  alias?: string;
  /** Help placeholder: `<file>`, `<dir>`, `<n>` (default `<n>` for numbers, `<value>` for strings). */
  arg?: string;
  /** Accepted values of a string option. */
  choices?: readonly string[];
  /** Number checks, applied by the parser so every verb words them alike. */
  integer?: boolean;
  min?: number;
  /** `min` is exclusive (a positive number). */
  minExclusive?: boolean;
  /** Help text for a default that is not a constant (e.g. "from the preset"). */
  defaultText?: string;
}

export type OptionSpec = Record<string, OptionDef>;

export type Parsed<S extends OptionSpec> = { [K in keyof S]: S[K]['type'] extends 'number' ? number : S[K]['type'] extends 'boolean' ? boolean : string | undefined } & {
  _: string[];
  /** The options given on the command line (not defaulted). */
  $given: Set<keyof S & string>;
};

export interface ParseOptions {
  /** Named options that bare arguments fill, in order (`predict MODEL IMAGE TRIMAP`). */
  positionals?: readonly string[] | ((count: number) => readonly string[]);
  /** Options that were renamed: old kebab name -> the message's explanation (e.g. 'renamed --head: ...'). */
  renamed?: Record<string, string>;
}

/** `batchSize` -> `batch-size`. */
export const kebab = (k: string): string => k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
const camel = (k: string): string => k.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Edit distance with adjacent transpositions counted as one edit ('trian' -> 'train' is 1). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest candidate within a typo's reach (about one edit per three letters), or a unique prefix match. */
export function didYouMean(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  if (best !== null && bestD <= Math.max(1, Math.floor(word.length / 3))) return best;
  const prefixed = candidates.filter((c) => c.startsWith(word) || word.startsWith(c));
  return prefixed.length === 1 ? prefixed[0]! : null;
}

const hint = (s: string | null) => (s ? `; did you mean ${s}?` : '');

function checkNumber(verb: string, flag: string, d: OptionDef, n: number): void {
  const what = d.integer ? 'integer' : 'number';
  if (d.min === undefined) {
    if (d.integer && !Number.isInteger(n)) throw new UsageError(`${verb}: ${flag} must be an integer, got ${n}`);
    return;
  }
  const ok = (d.minExclusive ? n > d.min : n >= d.min) && (!d.integer || Number.isInteger(n));
  if (ok) return;
  const range = d.min === 0 ? (d.minExclusive ? `a positive ${what}` : `a non-negative ${what}`) : `${d.integer ? 'an integer' : 'a number'} ${d.minExclusive ? '>' : '>='} ${d.min}`;
  throw new UsageError(`${verb}: ${flag} must be ${range}, got ${n}`);
}

export function parseArgs<S extends OptionSpec>(argv: string[], spec: S, verb: string, po: ParseOptions = {}): Parsed<S> {
  const out: Record<string, unknown> = { _: [] };
  const given = new Set<string>();
  for (const [k, v] of Object.entries(spec)) out[k] = v.default ?? (v.type === 'boolean' ? false : undefined);
  const byAlias = new Map(Object.entries(spec).flatMap(([k, v]) => (v.alias ? [[v.alias, k]] : [])));
  const names = Object.keys(spec).map((k) => '--' + kebab(k));
  const bare: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      bare.push(...argv.slice(i + 1));
      break;
    }
    // A lone '-' and negative numbers are values, not options.
    if (!a.startsWith('-') || a === '-' || /^-\d/.test(a)) {
      bare.push(a);
      continue;
    }
    const long = a.startsWith('--');
    const [raw, inline] = a.replace(/^--?/, '').split(/=(.*)/s, 2) as [string, string | undefined];
    let key: string | null = null;
    let negated = false;
    if (!long) key = byAlias.get(raw) ?? null;
    else if (camel(raw) in spec && !/[A-Z_]/.test(raw)) key = camel(raw);
    else if (raw.startsWith('no-') && spec[camel(raw.slice(3))]?.type === 'boolean') [key, negated] = [camel(raw.slice(3)), true];
    if (!key) {
      const shown = a.split('=')[0]!;
      const moved = po.renamed?.[raw];
      if (moved) throw new UsageError(`${verb}: ${shown} was ${moved}`);
      let suggestion = didYouMean('--' + kebab(camel(raw.replace(/^no-/, ''))), names);
      if (raw.startsWith('no-') && suggestion && spec[camel(suggestion.slice(2))]?.type !== 'boolean') suggestion = null;
      if (raw.startsWith('no-') && spec[camel(raw.slice(3))]) {
        throw new UsageError(`${verb}: ${shown}: --${raw.slice(3)} is not an on/off option, so it has no --no- form`);
      }
      throw new UsageError(`${verb}: unknown option '${shown}'${hint(suggestion && (raw.startsWith('no-') ? `'--no-${suggestion.slice(2)}'` : `'${suggestion}'`))} (see 'matting-engine ${verb} --help')`);
    }
    const d = spec[key]!;
    const flag = '--' + kebab(key);
    given.add(key);
    if (d.type === 'boolean') {
      if (inline !== undefined && !/^(1|0|true|false|yes|no|on|off)$/i.test(inline)) {
        throw new UsageError(`${verb}: ${flag} is an on/off option; got '${inline}' (use ${flag} or --no-${kebab(key)})`);
      }
      out[key] = negated ? false : inline === undefined ? true : /^(1|true|yes|on)$/i.test(inline);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined || (value.startsWith('--') && value.length > 2)) throw new UsageError(`${verb}: option ${flag} needs a value${d.arg ? ` ${d.arg}` : ''}`);
    }
    if (d.type === 'number') {
      const n = value.trim() === '' ? NaN : Number(value);
      if (!Number.isFinite(n)) throw new UsageError(`${verb}: option ${flag} needs a number, got '${value}'`);
      checkNumber(verb, flag, d, n);
      out[key] = n;
    } else {
      if (d.choices && !d.choices.includes(value)) {
        const s = didYouMean(value, d.choices);
        throw new UsageError(`${verb}: ${flag} must be one of ${d.choices.join(', ')}; got '${value}'${hint(s && `'${s}'`)}`);
      }
      out[key] = value;
    }
  }
  // Bare arguments fill the positional options not given by name, in order.
  const slotNames = typeof po.positionals === 'function' ? po.positionals(bare.length) : (po.positionals ?? []);
  const slots = slotNames.filter((k) => !given.has(k));
  for (const v of bare) {
    const k = slots.shift();
    if (k === undefined) throw new UsageError(`${verb}: unexpected argument '${v}' (see 'matting-engine ${verb} --help')`);
    out[k] = v;
    given.add(k);
  }
  out.$given = given;
  return out as Parsed<S>;
}

/**
 * parseArgs for the scripts under bench/: a usage error prints its one line and exits with status 2,
 * as the CLI verbs do (cli/main.ts), instead of a stack trace.
 */
export function parseScriptArgs<S extends OptionSpec>(argv: string[], spec: S, name: string): Parsed<S> {
  try {
    return parseArgs(argv, spec, name);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(e.message);
    process.exit(2);
  }
}

/** The option table of `--help`: placeholders, choices and defaults from the spec. */
export function helpText(verb: string, summary: string, spec: OptionSpec, usage = '[options]'): string {
  const rows = Object.entries(spec).map(([k, v]) => {
    const name = kebab(k);
    let flag: string;
    if (v.type === 'boolean') flag = v.default === true ? `--[no-]${name}` : `--${name}`;
    else flag = `--${name} ${v.arg ?? (v.choices ? `<${v.choices.join('|')}>` : v.type === 'number' ? '<n>' : '<value>')}`;
    if (v.alias) flag = `-${v.alias}, ${flag}`;
    const def = v.defaultText ?? (v.default === undefined || v.default === false ? '' : v.default === true ? 'on' : String(v.default));
    const listed = v.choices && v.arg && !v.arg.includes('|') ? `: ${v.choices.join(', ')}` : '';
    const text = `${v.help}${listed}${def ? ` (default: ${def})` : ''}`;
    return flag.length > 30 ? `  ${flag}\n  ${' '.repeat(31)}${text}` : `  ${flag.padEnd(30)} ${text}`;
  });
  return `Usage: matting-engine ${verb} ${usage}\n\n${summary}\n\nOptions:\n${rows.join('\n')}\n`;
}

/** True when the arguments ask for help (checked before parsing, so `--help` works next to a typo). */
export const wantsHelp = (argv: string[]): boolean => argv.includes('--help') || argv.includes('-h');
