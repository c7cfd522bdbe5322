/** Checkpoints and images from bytes: the same content as the file paths give. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { MattingModel, MODEL_PRESETS, parseCheckpoint, serializeCheckpoint, modelFromCheckpoint, disposeCheckpoint, predictAlpha, syntheticForeground, imageToPlanar } from '../../matting/index.ts';
import { saveCheckpoint, loadModel, decodeImage, encodePng } from '../../node/index.ts';
import { serializeSafetensors, f32Entry } from '../../engine/index.ts';

useEngine();
const dir = mkdtempSync(join(tmpdir(), 'matting-bytes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('checkpoints as bytes', () => {
  it('serializeCheckpoint gives the bytes saveCheckpoint writes; parseCheckpoint restores the same predictions', async () => {
    const model = new MattingModel({ ...MODEL_PRESETS.tiny, inputSize: 32, seed: 3 });
    const bytes = await serializeCheckpoint(model, null, null);
    const path = join(dir, 'm.safetensors');
    await saveCheckpoint(path, model, null, null);
    expect(Buffer.from(bytes).equals(readFileSync(path))).toBe(true);

    const ckpt = parseCheckpoint(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, 'm');
    expect(ckpt.config).toEqual(model.config);
    const restored = modelFromCheckpoint(ckpt);
    disposeCheckpoint(ckpt);
    const fromFile = await loadModel(path);

    const { fg, alpha } = syntheticForeground(5, 40, 24);
    const image = imageToPlanar(fg);
    const trimap = { width: 40, height: 24, data: alpha.map((a) => (a > 0.95 ? 255 : a < 0.05 ? 0 : 128)) };
    const want = await predictAlpha(model, image, trimap, { noPostProcess: true });
    expect(Array.from(await predictAlpha(restored, image, trimap, { noPostProcess: true }))).toEqual(Array.from(want));
    expect(Array.from(await predictAlpha(fromFile, image, trimap, { noPostProcess: true }))).toEqual(Array.from(want));
    for (const m of [model, restored, fromFile]) m.dispose();
  });

  it('refuses safetensors bytes that are not a checkpoint, naming the source', () => {
    const plain = serializeSafetensors(new Map([['w', f32Entry([2], new Float32Array([1, 2]))]]), { format: 'something-else' });
    expect(() => parseCheckpoint(plain, 'weights.bin')).toThrow(/^weights\.bin: not a matting-engine checkpoint/);
  });
});

describe('images as bytes', () => {
  it('decodeImage takes an ArrayBuffer as well as a Uint8Array', () => {
    const png = encodePng({ width: 3, height: 2, channels: 1, data: [0, 10, 20, 30, 40, 255] });
    const fromView = decodeImage(png);
    const ab = png.buffer.slice(png.byteOffset, png.byteOffset + png.byteLength) as ArrayBuffer;
    const fromBuffer = decodeImage(ab);
    expect(fromBuffer).toEqual(fromView);
    expect(Array.from(fromBuffer.data)).toEqual([0, 10, 20, 30, 40, 255]);
  });
});
