/** The one argument parser: exact messages, --no-x, choices, positionals, help. */
import { describe, expect, it } from 'vitest';
import { parseArgs, helpText, didYouMean, editDistance, UsageError, type OptionSpec } from '../../cli/args.ts';

const SPEC = {
  steps: { type: 'number', arg: '<n>', integer: true, min: 0, minExclusive: true, help: 'total steps', defaultText: 'preset: tiny 300' },
  batchSize: { type: 'number', integer: true, min: 0, minExclusive: true, help: 'images per step' },
  tile: { type: 'number', default: 1024, arg: '<px>', integer: true, min: 0, help: 'tile size' },
  stage: { type: 'string', default: 'joint', choices: ['encoder-decoder', 'refine', 'joint'], help: 'stage' },
  postProcess: { type: 'boolean', default: true, help: 'clamp known regions' },
  cutout: { type: 'boolean', help: 'write a cut-out' },
  model: { type: 'string', arg: '<file>', help: 'checkpoint' },
  image: { type: 'string', arg: '<file|dir>', help: 'image' },
  help: { type: 'boolean', alias: 'h', help: 'show this help' },
} as const satisfies OptionSpec;

const fails = (argv: string[], po = {}) => {
  try {
    parseArgs(argv, SPEC, 'train', po);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
};

describe('parseArgs', () => {
  it('suggests the closest option, as typed, in kebab case', () => {
    expect(fails(['--step', '5'])).toBe("train: unknown option '--step'; did you mean '--steps'? (see 'matting-engine train --help')");
    expect(fails(['--batchsize', '2'])).toBe("train: unknown option '--batchsize'; did you mean '--batch-size'? (see 'matting-engine train --help')");
    expect(fails(['--frobnicate'])).toBe("train: unknown option '--frobnicate' (see 'matting-engine train --help')");
    expect(fails(['--no-cutot'])).toBe("train: unknown option '--no-cutot'; did you mean '--no-cutout'? (see 'matting-engine train --help')");
  });

  it('checks numbers and names them in kebab case', () => {
    expect(fails(['--batch-size', '2.5'])).toBe('train: --batch-size must be a positive integer, got 2.5');
    expect(fails(['--batch-size', '0'])).toBe('train: --batch-size must be a positive integer, got 0');
    expect(fails(['--tile', '-32'])).toBe('train: --tile must be a non-negative integer, got -32');
    expect(fails(['--steps', 'x'])).toBe("train: option --steps needs a number, got 'x'");
    expect(fails(['--steps'])).toBe('train: option --steps needs a value <n>');
    expect(fails(['--steps', '--tile', '5'])).toBe('train: option --steps needs a value <n>');
  });

  it('gives --no-x to on/off options only, and --no-post-process really turns it off', () => {
    expect(parseArgs([], SPEC, 'p').postProcess).toBe(true);
    expect(parseArgs(['--no-post-process'], SPEC, 'p').postProcess).toBe(false);
    expect(parseArgs(['--post-process=false'], SPEC, 'p').postProcess).toBe(false);
    expect(parseArgs(['--cutout'], SPEC, 'p').cutout).toBe(true);
    expect(fails(['--no-tile'])).toBe('train: --no-tile: --tile is not an on/off option, so it has no --no- form');
    expect(fails(['--cutout=maybe'])).toBe("train: --cutout is an on/off option; got 'maybe' (use --cutout or --no-cutout)");
  });

  it('checks choices, with a suggestion', () => {
    expect(fails(['--stage', 'refin'])).toBe("train: --stage must be one of encoder-decoder, refine, joint; got 'refin'; did you mean 'refine'?");
    expect(fails(['--stage', 'nope'])).toBe("train: --stage must be one of encoder-decoder, refine, joint; got 'nope'");
    expect(parseArgs(['--stage=refine'], SPEC, 'p').stage).toBe('refine');
  });

  it('maps positional arguments onto the named options not given, and says which were given', () => {
    const o = parseArgs(['m.safetensors', 'img.png'], SPEC, 'predict', { positionals: ['model', 'image'] });
    expect([o.model, o.image]).toEqual(['m.safetensors', 'img.png']);
    const p = parseArgs(['--model', 'm', 'img.png'], SPEC, 'predict', { positionals: ['model', 'image'] });
    expect([p.model, p.image]).toEqual(['m', 'img.png']);
    expect([...p.$given].sort()).toEqual(['image', 'model']);
    expect(fails(['a', 'b', 'c'], { positionals: ['model', 'image'] })).toBe("train: unexpected argument 'c' (see 'matting-engine train --help')");
    expect(parseArgs(['--tile', '-0'], SPEC, 'p').tile).toBe(-0);
    // The positional names may depend on how many were given (predict: [MODEL] IMAGE TRIMAP OUT).
    const byCount = (n: number) => (n === 1 ? ['image'] : ['model', 'image']);
    expect(parseArgs(['x.png'], SPEC, 'p', { positionals: byCount }).image).toBe('x.png');
    expect(parseArgs(['m', 'x.png'], SPEC, 'p', { positionals: byCount }).model).toBe('m');
  });

  it('points a renamed option to its new name', () => {
    expect(fails(['--old', 'x'], { renamed: { old: 'renamed --stage' } })).toBe('train: --old was renamed --stage');
  });
});

describe('did you mean', () => {
  it('counts a transposition as one edit and needs about one edit per three letters', () => {
    expect(editDistance('trian', 'train')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(didYouMean('trian', ['train', 'predict', 'eval'])).toBe('train');
    expect(didYouMean('evl', ['train', 'predict', 'eval'])).toBe('eval');
    expect(didYouMean('xyz', ['train', 'predict', 'eval'])).toBe(null);
  });
});

describe('helpText', () => {
  it('shows placeholders, choices, defaults and the --[no-] form', () => {
    const h = helpText('train', 'Trains.', SPEC);
    expect(h).toMatch(/^Usage: matting-engine train \[options\]\n/);
    expect(h).toMatch(/--steps <n> +total steps \(default: preset: tiny 300\)/);
    expect(h).toMatch(/--batch-size <n> +images per step\n/);
    expect(h).toMatch(/--tile <px> +tile size \(default: 1024\)/);
    expect(h).toMatch(/--stage <encoder-decoder\|refine\|joint>\n +stage \(default: joint\)/);
    expect(h).toMatch(/--\[no-\]post-process +clamp known regions \(default: on\)/);
    expect(h).toMatch(/--model <file> /);
    expect(h).toMatch(/-h, --help +show this help/);
    expect(h).not.toMatch(/<string>|<number>/);
  });
});

describe('parseScriptArgs (the bench scripts)', () => {
  it('turns a bad option into one line on stderr and exit 2, no stack trace', async () => {
    const { spawnSync } = await import('node:child_process');
    const { join } = await import('node:path');
    const root = join(import.meta.dirname, '..', '..');
    const tsx = join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs');
    for (const [script, arg] of [['bench/full-step.ts', '--stpes'], ['bench/step-profile.ts', '--top=x']] as const) {
      const r = spawnSync(process.execPath, [tsx, join(root, script), arg], { encoding: 'utf8', timeout: 120_000 });
      expect(r.status, `${script}: ${r.stderr}`).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^bench\/(full-step|step-profile): /);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  }, 240_000);
});
