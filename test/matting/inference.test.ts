/** Inference on any size: reflect padding to a multiple of 32, cropping back, tiles for large images. */
import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { MattingModel } from '../../matting/graph/model.ts';
import { predictAlpha, reflectPad } from '../../matting/inference.ts';

useEngine();

function scene(w: number, h: number) {
  const image = new Float32Array(3 * w * h);
  const trimap = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const d = Math.hypot(x - w / 2, y - h / 2) - Math.min(w, h) / 3;
      trimap[y * w + x] = d < -4 ? 255 : d > 4 ? 0 : 128;
      for (let c = 0; c < 3; c++) image[(c * h + y) * w + x] = (x * 7 + y * 3 + c * 50) % 256;
    }
  }
  return { image: { width: w, height: h, data: image }, trimap: { width: w, height: h, data: trimap } };
}

describe('inference', () => {
  it('reflect padding mirrors about the edges without repeating them', () => {
    // one channel, 1 x 3 -> 1 x 6: [a b c] -> [a b c b a b]
    expect(Array.from(reflectPad(Float32Array.from([1, 2, 3]), 1, 1, 3, 1, 6))).toEqual([1, 2, 3, 2, 1, 2]);
    expect(Array.from(reflectPad(Float32Array.from([1, 2]), 1, 2, 1, 4, 1))).toEqual([1, 2, 1, 2]);
  });

  it('predicts any size (not a multiple of 32), copies known regions, and tiles large images', async () => {
    const model = new MattingModel({ encoder: 'vgg16-dual', inputSize: 32, width: 1 / 32, seed: 4 });
    const { image, trimap } = scene(70, 45);
    const whole = await predictAlpha(model, image, trimap);
    expect(whole).toHaveLength(70 * 45);
    for (let i = 0; i < whole.length; i++) {
      const t = trimap.data[i]!;
      if (t === 0) expect(whole[i]).toBe(0);
      else if (t === 255) expect(whole[i]).toBe(1);
      else expect(whole[i]! >= 0 && whole[i]! <= 1).toBe(true);
    }
    // a tile as large as the image is the untiled prediction
    const untiled: string[] = [];
    expect(Array.from(await predictAlpha(model, image, trimap, { tileSize: 96, onProgress: (d, t) => untiled.push(`${d}/${t}`) }))).toEqual(Array.from(whole));
    expect(untiled).toEqual(['1/1']);
    // 64 px tiles with 16 px overlap over a 70 px wide image: tiles at x 0..63 and 6..69, blended
    const progress: string[] = [];
    const tiled = await predictAlpha(model, image, trimap, { tileSize: 64, tileOverlap: 16, onProgress: (done, total) => progress.push(`${done}/${total}`) });
    expect(progress).toEqual(['1/2', '2/2']); // one report per tile, for the web page's progress bar
    const crop = (p: { width: number; height: number; data: Float32Array }, ch: number, x0: number, w: number) => {
      const d = new Float32Array(ch * w * p.height);
      for (let c = 0; c < ch; c++) for (let y = 0; y < p.height; y++) for (let x = 0; x < w; x++) d[(c * p.height + y) * w + x] = p.data[(c * p.height + y) * p.width + x0 + x]!;
      return { width: w, height: p.height, data: d };
    };
    const left = await predictAlpha(model, crop(image, 3, 0, 64), crop(trimap, 1, 0, 64));
    const right = await predictAlpha(model, crop(image, 3, 6, 64), crop(trimap, 1, 6, 64));
    for (let y = 0; y < 45; y++) {
      for (let x = 0; x < 70; x++) {
        const i = y * 70 + x;
        if (trimap.data[i] !== 128) expect(tiled[i]).toBe(whole[i]);
        // columns only the left tile covers come from it alone, likewise on the right
        if (x < 6) expect(tiled[i]).toBe(left[y * 64 + x]);
        if (x >= 64) expect(tiled[i]).toBe(right[y * 64 + x - 6]);
        // elsewhere a convex blend of the two tiles
        if (x >= 6 && x < 64) {
          const a = left[y * 64 + x]!, b = right[y * 64 + x - 6]!;
          expect(tiled[i]!).toBeGreaterThanOrEqual(Math.min(a, b) - 1e-6);
          expect(tiled[i]!).toBeLessThanOrEqual(Math.max(a, b) + 1e-6);
        }
      }
    }
    // the stage-1 alpha is available too, and mismatched sizes are refused
    expect(await predictAlpha(model, image, trimap, { stage: 'raw' })).toHaveLength(70 * 45);
    await expect(predictAlpha(model, image, { ...trimap, width: 69 })).rejects.toThrow(/trimap is 69x45/);
    await expect(predictAlpha(model, image, trimap, { tileSize: 40 })).rejects.toThrow(/multiple of 32/);
    model.dispose();
  });

  it('runs at the inference scale: a 2x-downscaled image gives the half-size prediction, upsampled, with known regions at full resolution', async () => {
    const model = new MattingModel({ encoder: 'vgg16-4ch', decoder: 'unet', refine: 'none', inputs: 'normalised', inputSize: 32, width: 1 / 32, seed: 2, inferenceScale: 0.5 });
    const { image, trimap } = scene(64, 48);
    // Independent half-size inputs: 2x2 box averages, trimap re-thresholded (mixed footprints -> unknown).
    const half = (p: { width: number; height: number; data: Float32Array }, ch: number) => {
      const w = p.width / 2, h = p.height / 2, d = new Float32Array(ch * w * h);
      for (let c = 0; c < ch; c++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
        let s = 0;
        for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]]) s += p.data[(c * p.height + 2 * y + dy!) * p.width + 2 * x + dx!]!;
        d[(c * h + y) * w + x] = s / 4;
      }
      return { width: w, height: h, data: d };
    };
    const hi = half(image, 3);
    const ht = half(trimap, 1);
    ht.data = ht.data.map((v) => (v < 64 ? 0 : v > 191 ? 255 : 128));
    const small = await predictAlpha(model, hi, ht, { scale: 1, noPostProcess: true });
    const full = await predictAlpha(model, image, trimap); // scale from the config: 0.5
    expect(full).toHaveLength(64 * 48);
    let worst = 0;
    for (let y = 0; y < 48; y++) for (let x = 0; x < 64; x++) {
      const t = trimap.data[y * 64 + x]!;
      const v = full[y * 64 + x]!;
      if (t === 0) expect(v).toBe(0);
      else if (t === 255) expect(v).toBe(1);
      else {
        // bilinear upsampling of the half-size prediction, pixel-centre aligned, edge-clamped
        const sy = Math.min(Math.max((y + 0.5) / 2 - 0.5, 0), 23), sx = Math.min(Math.max((x + 0.5) / 2 - 0.5, 0), 31);
        const y0 = Math.floor(sy), x0 = Math.floor(sx), y1 = Math.min(y0 + 1, 23), x1 = Math.min(x0 + 1, 31);
        const ty = sy - y0, tx = sx - x0;
        const at = (yy: number, xx: number) => small[yy * 32 + xx]!;
        const want = (1 - ty) * ((1 - tx) * at(y0, x0) + tx * at(y0, x1)) + ty * ((1 - tx) * at(y1, x0) + tx * at(y1, x1));
        worst = Math.max(worst, Math.abs(v - want));
      }
    }
    expect(worst).toBeLessThan(1e-5);
    // scale 1 overrides the config and differs from the half-scale answer
    const direct = await predictAlpha(model, image, trimap, { scale: 1 });
    expect(Array.from(direct)).not.toEqual(Array.from(full));
    model.dispose();
  });

  it('flip averaging is the mean of the prediction and the mirrored prediction of the mirrored image', async () => {
    const model = new MattingModel({ encoder: 'vgg16-4ch', decoder: 'unet', refine: 'none', inputs: 'normalised', inputSize: 32, width: 1 / 32, seed: 3 });
    const { image, trimap } = scene(40, 33);
    const flipH = (p: { width: number; height: number; data: Float32Array }, ch: number) => {
      const d = new Float32Array(p.data.length);
      for (let c = 0; c < ch; c++) for (let y = 0; y < p.height; y++) for (let x = 0; x < p.width; x++) d[(c * p.height + y) * p.width + x] = p.data[(c * p.height + y) * p.width + p.width - 1 - x]!;
      return { width: p.width, height: p.height, data: d };
    };
    const plain = await predictAlpha(model, image, trimap);
    const mirrored = flipH({ width: 40, height: 33, data: await predictAlpha(model, flipH(image, 3), flipH(trimap, 1)) }, 1).data;
    const both = await predictAlpha(model, image, trimap, { flip: true });
    let worst = 0;
    for (let i = 0; i < both.length; i++) worst = Math.max(worst, Math.abs(both[i]! - (plain[i]! + mirrored[i]!) / 2));
    expect(worst).toBeLessThan(1e-6);
    expect(Array.from(both)).not.toEqual(Array.from(plain));
    model.dispose();
  });
});
