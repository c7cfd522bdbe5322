/**
 * Issue 15 items 7 and 8. Seen failing before the fix: `--tile-overlap 0` (or negative) wrote an
 * all-zero matte and exited 0 (the blend weights were 0/0); `--out` equal to `--image` overwrote
 * the photograph with the matte.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { useEngine } from '../helpers/gpu.ts';
import { MattingModel } from '../../matting/graph/model.ts';
import { saveCheckpoint } from '../../matting/checkpoint.ts';
import { predictAlpha } from '../../matting/inference.ts';
import { generateSyntheticDataset } from '../../matting/data/synthetic-files.ts';
import { tmp, TINY } from './helpers.ts';

useEngine();

const BIN = join(import.meta.dirname, '..', '..', 'cli', 'bin.js');
const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stderr: r.stderr };
};

describe('predict never writes a silent wrong matte or over its inputs', () => {
  it('--tile-overlap 0 gives a finite matte (hard seams); a negative overlap is refused', async () => {
    const model = new MattingModel({ ...TINY, refine: 'none' });
    const W = 150, H = 100;
    const image = { width: W, height: H, data: Float32Array.from({ length: 3 * W * H }, (_, i) => (i * 37) % 255) };
    const trimap = { width: W, height: H, data: new Float32Array(W * H).fill(128) };
    const a0 = await predictAlpha(model, image, trimap, { tileSize: 64, tileOverlap: 0, noPostProcess: true });
    expect(a0.every(Number.isFinite)).toBe(true);
    expect(a0.some((v) => v > 0)).toBe(true);
    // pixel (10, 10) lies in the first tile only, with either overlap: the same prediction
    const a16 = await predictAlpha(model, image, trimap, { tileSize: 64, tileOverlap: 16, noPostProcess: true });
    expect(a0[10 * W + 10]).toBe(a16[10 * W + 10]);
    await expect(predictAlpha(model, image, trimap, { tileSize: 64, tileOverlap: -5 })).rejects.toThrow(/tile overlap -5 must be a non-negative integer/);
    model.dispose();
  });

  it('--out equal to --image (file or folder) is refused and the photograph is untouched', async () => {
    const dir = tmp('pred');
    generateSyntheticDataset(dir, { train: 0, eval: 1, size: 64, seed: 2 });
    const model = new MattingModel(TINY);
    const ckpt = join(dir, 'm.safetensors');
    await saveCheckpoint(ckpt, model, null, null);
    model.dispose();
    const images = join(dir, 'eval', 'image'), trimaps = join(dir, 'eval', 'trimap');
    const [name] = (await import('node:fs')).readdirSync(images);
    const photo = join(images, name!);
    const before = readFileSync(photo);
    for (const [image, trimap, out] of [[photo, join(trimaps, name!), photo], [images, trimaps, images], [photo, join(trimaps, name!), join(trimaps, name!)]]) {
      const r = cli('predict', '--model', ckpt, '--image', image!, '--trimap', trimap!, '--out', out!);
      expect(r.stderr).toMatch(/--out would overwrite the input/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.code).toBe(2);
    }
    expect(readFileSync(photo).equals(before)).toBe(true);
    const r = cli('predict', '--model', ckpt, '--image', photo, '--trimap', join(trimaps, name!), '--out', join(dir, 'a.png'), '--tile-overlap', '-1');
    expect(r.stderr).toMatch(/--tile-overlap must be a non-negative integer/);
    expect(r.code).toBe(2);
  });
});
