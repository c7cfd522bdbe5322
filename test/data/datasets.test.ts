import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { cpSync, mkdirSync, rmSync, writeFileSync, readFileSync, renameSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '../../matting/data/errors.ts';
import { openEvalSet } from '../../matting/data/eval-set.ts';
import { writePng } from '../../matting/data/image-io.ts';
import { generateSyntheticDataset } from '../../matting/data/synthetic-files.ts';
import { openTrainingSet } from '../../matting/data/training-set.ts';
import { normaliseTrimap } from '../../matting/data/trimap.ts';
import { alphamattingDir, makeTmp } from './helpers.ts';

const tmp = makeTmp('sets');
let pristine: string;
let caseNo = 0;

beforeAll(() => {
  pristine = join(tmp.dir, 'pristine');
  generateSyntheticDataset(pristine, { train: 4, eval: 3, size: 72, seed: 11, backgrounds: 3 });
});
afterAll(() => tmp.cleanup());

/** A fresh copy of the generated dataset to damage. */
function copy(): { train: string; evalDir: string } {
  const d = join(tmp.dir, `case${caseNo++}`);
  cpSync(pristine, d, { recursive: true });
  return { train: join(d, 'train'), evalDir: join(d, 'eval') };
}

function dataError(fn: () => unknown): DataError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return e as DataError;
  }
  throw new Error('expected a DataError');
}

describe('training set (Composition-1k layout) from generated fixtures', () => {
  it('opens and loads pairs', () => {
    const set = openTrainingSet(join(pristine, 'train'));
    expect(set.pairs.map((p) => p.name)).toEqual(['syn_0000', 'syn_0001', 'syn_0002', 'syn_0003']);
    expect(set.backgrounds).toHaveLength(3);
    const p = set.loadPair(2);
    expect([p.width, p.height, p.fg.channels]).toEqual([72, 72, 3]);
    expect(p.alpha).toHaveLength(72 * 72);
    expect(Math.min(...p.alpha)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...p.alpha)).toBe(1);
    expect(set.loadBackground(0).channels).toBe(3);
    expect(set.skipped).toEqual([]);
  });

  it('matches fg and alpha by stem across extensions (fg .jpg, alpha .png)', () => {
    const { train } = copy();
    const src = join(train, 'fg', 'syn_0000.png');
    writeFileSync(join(train, 'fg', 'syn_0000.jpg'), readFileSync(src)); // PNG bytes; content is sniffed
    rmSync(src);
    const set = openTrainingSet(train);
    expect(set.pairs[0]!.fg.endsWith('syn_0000.jpg')).toBe(true);
    expect(set.loadPair(0).width).toBe(72);
  });

  it('missing root folder', () => {
    const d = join(tmp.dir, 'does-not-exist');
    const e = dataError(() => openTrainingSet(d));
    expect(e.message).toContain(d);
  });

  it.each(['fg', 'alpha', 'bg'])('missing %s/ folder', (sub) => {
    const { train } = copy();
    rmSync(join(train, sub), { recursive: true });
    const e = dataError(() => openTrainingSet(train, { skipBad: true }));
    expect(e.file).toBe(join(train, sub));
    expect(e.problem).toMatch(/missing folder/);
  });

  it.each(['fg', 'bg'])('empty %s/ folder (only hidden files)', (sub) => {
    const { train } = copy();
    rmSync(join(train, sub), { recursive: true });
    mkdirSync(join(train, sub));
    writeFileSync(join(train, sub, '.DS_Store'), 'x');
    const e = dataError(() => openTrainingSet(train, { skipBad: true }));
    expect(e.file).toBe(join(train, sub));
    expect(e.problem).toMatch(/empty folder/);
  });

  it('fg without alpha: error, or skipped with a warning under skipBad', () => {
    const { train } = copy();
    const alpha = join(train, 'alpha', 'syn_0001.png');
    rmSync(alpha);
    const e = dataError(() => openTrainingSet(train));
    expect(e.file).toBe(join(train, 'fg', 'syn_0001.png'));
    expect(e.problem).toMatch(/no alpha matte/);
    const warnings: string[] = [];
    const set = openTrainingSet(train, { skipBad: true, warn: (m) => warnings.push(m) });
    expect(set.pairs.map((p) => p.name)).toEqual(['syn_0000', 'syn_0002', 'syn_0003']);
    expect(set.skipped).toHaveLength(1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('syn_0001.png');
  });

  it('alpha without fg', () => {
    const { train } = copy();
    rmSync(join(train, 'fg', 'syn_0003.png'));
    const e = dataError(() => openTrainingSet(train));
    expect(e.file).toBe(join(train, 'alpha', 'syn_0003.png'));
    expect(e.problem).toMatch(/no foreground/);
  });

  it('fg/alpha size mismatch (found at open, from headers)', () => {
    const { train } = copy();
    const alpha = join(train, 'alpha', 'syn_0002.png');
    writePng(alpha, { width: 70, height: 72, channels: 1, data: new Float32Array(70 * 72) });
    const e = dataError(() => openTrainingSet(train));
    expect(e.file).toBe(join(train, 'fg', 'syn_0002.png'));
    expect(e.problem).toMatch(/size 72x72 differs .*70x72/);
    expect(openTrainingSet(train, { skipBad: true, warn: () => {} }).pairs).toHaveLength(3);
  });

  it('corrupt PNG: found lazily when loaded', () => {
    const { train } = copy();
    const fg = join(train, 'fg', 'syn_0001.png');
    const b = readFileSync(fg);
    for (let i = 60; i < 90; i++) b[i] = b[i]! ^ 0x5a;
    writeFileSync(fg, b);
    const set = openTrainingSet(train);
    expect(set.pairs).toHaveLength(4);
    const e = dataError(() => set.loadPair(1));
    expect(e.file).toBe(fg);
    expect(e.problem).toMatch(/corrupt or truncated PNG/);
    expect(set.skipped.map((s) => s.file)).toEqual([fg]);
    // Remembered: the second attempt fails the same way without decoding again.
    expect(dataError(() => set.loadPair(1)).file).toBe(fg);
  });

  it('truncated PNG: found lazily when loaded', () => {
    const { train } = copy();
    const bg = join(train, 'bg', 'bg_0001.png');
    const b = readFileSync(bg);
    writeFileSync(bg, b.subarray(0, Math.floor(b.length / 2)));
    const set = openTrainingSet(train);
    const e = dataError(() => set.loadBackground(1));
    expect(e.file).toBe(bg);
    expect(e.problem).toMatch(/corrupt or truncated PNG/);
  });

  it('unsupported files (.gif, .txt) in a folder', () => {
    const { train } = copy();
    const gif = join(train, 'fg', 'zz.gif');
    writeFileSync(gif, Buffer.concat([Buffer.from('GIF89a', 'latin1'), Buffer.alloc(16)]));
    const e = dataError(() => openTrainingSet(train));
    expect(e.file).toBe(gif);
    expect(e.problem).toMatch(/unsupported format ".gif"/);
    rmSync(gif);
    const txt = join(train, 'bg', 'README.txt');
    writeFileSync(txt, 'backgrounds from somewhere');
    expect(dataError(() => openTrainingSet(train)).file).toBe(txt);
    const warnings: string[] = [];
    const set = openTrainingSet(train, { skipBad: true, warn: (m) => warnings.push(m) });
    expect(set.backgrounds).toHaveLength(3);
    expect(warnings.join('\n')).toContain('README.txt');
  });

  it('a PNG-named file with garbage contents fails at open (header)', () => {
    const { train } = copy();
    const fg = join(train, 'fg', 'syn_0000.png');
    writeFileSync(fg, 'not really a png');
    const e = dataError(() => openTrainingSet(train));
    expect(e.file).toBe(fg);
    expect(e.problem).toMatch(/unsupported format/);
  });
});

describe('evaluation set (alphamatting.com layout) from generated fixtures', () => {
  it('opens and loads items', () => {
    const set = openEvalSet(join(pristine, 'eval'));
    expect(set.items.map((i) => i.name)).toEqual(['syn_e0000', 'syn_e0001', 'syn_e0002']);
    expect(set.trimapFolders).toEqual(['trimap']);
    const s = set.load(1);
    expect([s.width, s.height]).toEqual([72, 72]);
    expect(s.image).toHaveLength(3 * 72 * 72);
    expect(s.oddTrimapPixels).toBe(0);
    expect(new Set(s.trimap)).toEqual(new Set([0, 128, 255]));
    // Every fractional alpha is inside the unknown region of its trimap.
    for (let p = 0; p < s.alpha.length; p++) if (s.alpha[p]! > 0 && s.alpha[p]! < 1) expect(s.trimap[p]).toBe(128);
  });

  it('missing trimap folder, or a chosen trimap folder that does not exist', () => {
    const { evalDir } = copy();
    expect(dataError(() => openEvalSet(evalDir, { trimapFolder: 'trimap2' })).problem).toMatch(/missing folder/);
    rmSync(join(evalDir, 'trimap'), { recursive: true });
    expect(dataError(() => openEvalSet(evalDir)).file).toBe(join(evalDir, 'trimap'));
  });

  it('image without trimap, trimap without image', () => {
    const { evalDir } = copy();
    renameSync(join(evalDir, 'trimap', 'syn_e0001.png'), join(evalDir, 'trimap', 'other.png'));
    const e = dataError(() => openEvalSet(evalDir));
    expect(e.file).toBe(join(evalDir, 'image', 'syn_e0001.png'));
    expect(e.problem).toMatch(/no trimap/);
  });

  it('size mismatch between image and alpha', () => {
    const { evalDir } = copy();
    writePng(join(evalDir, 'alpha', 'syn_e0002.png'), { width: 72, height: 64, channels: 1, data: new Float32Array(72 * 64) });
    const e = dataError(() => openEvalSet(evalDir));
    expect(e.file).toBe(join(evalDir, 'alpha', 'syn_e0002.png'));
    expect(e.problem).toMatch(/72x64 differs/);
  });

  it('trimap with odd values: thresholds when lenient, DataError listing them when strict', () => {
    const { evalDir } = copy();
    const file = join(evalDir, 'trimap', 'syn_e0000.png');
    const raw = [0, 128, 255, 10, 63, 64, 100, 191, 192, 250];
    const data = new Float32Array(72 * 72);
    raw.forEach((v, i) => (data[i] = v));
    writePng(file, { width: 72, height: 72, channels: 1, data });
    const lenient = openEvalSet(evalDir).load(0);
    expect(Array.from(lenient.trimap.subarray(0, raw.length))).toEqual([0, 128, 255, 0, 0, 128, 128, 128, 255, 255]);
    expect(lenient.oddTrimapPixels).toBe(7);
    const e = dataError(() => openEvalSet(evalDir, { strictTrimap: true }).load(0));
    expect(e.file).toBe(file);
    expect(e.problem).toMatch(/7 pixel\(s\) with values other than 0\/128\/255 \(values: 10, 63, 64, 100, 191, 192, 250\)/);
    // The untouched items still load under strict.
    expect(openEvalSet(evalDir, { strictTrimap: true }).load(1).oddTrimapPixels).toBe(0);
  });

  it('normaliseTrimap handles 16-bit fractions', () => {
    const r = normaliseTrimap(Float32Array.from([128, 127.5, 0.2, 254.9]));
    expect(Array.from(r.trimap)).toEqual([128, 128, 0, 255]);
    expect(r.oddPixels).toBe(3);
  });
});

describe('real data: alphamatting.com low-res evaluation set', () => {
  it('opens all 18 items, both trimap folders; trimaps exactly 0/128/255 (strict)', (ctx) => {
    const dir = alphamattingDir(ctx);
    const set = openEvalSet(dir, { strictTrimap: true });
    expect(set.items).toHaveLength(18);
    expect(set.trimapFolders).toEqual(['trimap', 'trimap2']);
    expect(set.items.map((i) => i.name)).toEqual(readdirSync(join(dir, 'image')).map((f) => f.replace('.png', '')).sort());
    const gt08 = set.items.find((i) => i.name === 'GT08')!;
    expect([gt08.width, gt08.height]).toEqual([647, 800]);
    // Unknown shares from SOURCES.md: GT01 9.7% (Trimap1) / 17.0% (Trimap2).
    const share = (t: Float32Array): number => t.filter((v) => v === 128).length / t.length;
    const s1 = set.load(set.items.findIndex((i) => i.name === 'GT01'));
    expect([s1.width, s1.height]).toEqual([800, 497]);
    expect(s1.oddTrimapPixels).toBe(0);
    expect(share(s1.trimap)).toBeCloseTo(0.097, 3);
    expect(s1.alpha.reduce((m, v) => Math.max(m, v), 0)).toBe(1);
    const set2 = openEvalSet(dir, { trimapFolder: 'trimap2', strictTrimap: true });
    const s2 = set2.load(set2.items.findIndex((i) => i.name === 'GT01'));
    expect(share(s2.trimap)).toBeCloseTo(0.17, 3);
  });

  it('every trimap of both folders loads under strictTrimap', (ctx) => {
    const dir = alphamattingDir(ctx);
    for (const trimapFolder of ['trimap', 'trimap2']) {
      const set = openEvalSet(dir, { trimapFolder, strictTrimap: true });
      for (let i = 0; i < set.items.length; i++) expect(set.load(i).oddTrimapPixels).toBe(0);
    }
  });
});
