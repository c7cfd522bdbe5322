/**
 * The classical methods through the command line: predict --method closed-form (no model) with
 * --cutout, eval --baseline closed-form beside the trimap-only baseline.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSyntheticDataset } from '../../matting/data/synthetic-files.ts';
import { readGrey, readImage } from '../../matting/data/image-io.ts';

const BIN = join(import.meta.dirname, '..', '..', 'cli', 'bin.js');

function cli(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 240_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'matting-classical-'));
const data = join(dir, 'data');

describe('classical matting from the CLI', () => {
  beforeAll(async () => {
    await generateSyntheticDataset(data, { train: 1, eval: 2, size: 64, seed: 9 });
  });

  it('predict --method closed-form --cutout, then eval of those PNGs equals eval --baseline closed-form, which beats trimap-only', () => {
    const pred = join(dir, 'pred');
    const p = cli('predict', '--method', 'closed-form', '--image', join(data, 'eval', 'image'), '--trimap', join(data, 'eval', 'trimap'), '--out', pred, '--cutout');
    // stderr carries only the progress of the folder run (no warning, no error)
    expect(p.stderr).not.toMatch(/error|warning|matting-engine:/i);
    expect(p.code).toBe(0);
    const files = readdirSync(pred).sort();
    const cutouts = files.filter((f) => f.endsWith('.cutout.png'));
    expect(cutouts).toHaveLength(2);
    const c = readImage(join(pred, cutouts[0]!));
    const a = readGrey(join(pred, cutouts[0]!.replace('.cutout.png', '.png')));
    expect(c.channels).toBe(4);
    for (let i = 0; i < a.data.length; i++) expect(c.data[i * 4 + 3]).toBe(a.data[i]);

    const fromPng = cli('eval', '--pred', pred, '--data', join(data, 'eval'), '--json');
    const direct = cli('eval', '--baseline', 'closed-form', '--data', join(data, 'eval'), '--json');
    const trimapOnly = cli('eval', '--baseline', '--data', join(data, 'eval'), '--json');
    for (const r of [fromPng, direct, trimapOnly]) expect(r.code, r.stderr).toBe(0);
    type Scores = { title: string; mean: { sad: number }; images: { iterations?: number }[] };
    const [s1, s2, s3] = [fromPng, direct, trimapOnly].map((r) => JSON.parse(r.stdout) as Scores);
    expect(s2.mean.sad).toBeCloseTo(s1!.mean.sad, 6);
    expect(s2.title).toMatch(/closed-form/);
    expect(s3!.title).toMatch(/trimap-only/);
    expect(s2.mean.sad).toBeLessThan(s3!.mean.sad);
    expect(s2.images[0]!.iterations).toBeGreaterThan(0);
  });

  it('bad --method and --baseline values get one clear line and exit code 2', () => {
    const cases: [string[], RegExp][] = [
      [['predict', '--method', 'magic', '--image', 'a', '--trimap', 'b', '--out', 'c'], /--method must be one of dim, closed-form/],
      [['predict', '--method', 'closed-form', '--model', 'm.safetensors', '--image', 'a', '--trimap', 'b', '--out', 'c'], /--method closed-form takes no --model/],
      [['eval', '--baseline', 'magic', '--data', join(data, 'eval')], /--baseline takes trimap-only or closed-form/],
    ];
    for (const [args, re] of cases) {
      const r = cli(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr, args.join(' ')).toMatch(re);
    }
  });
});
