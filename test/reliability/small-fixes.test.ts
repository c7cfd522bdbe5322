/**
 * Issue 15 item 14, the smaller ones. Seen failing before the fix: maxPool2d in ceil mode threw
 * "window does not fit" for x [3,1,1,1], kernel 2, stride 2, where PyTorch returns the partial
 * window (1x1, the max); a trimap with values other than 0/128/255 was thresholded without a word.
 */
import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { maxPool2d } from '../../engine/ops/pool.ts';
import { tensor } from '../../engine/creation.ts';
import { backward } from '../../engine/autograd/backward.ts';
import { sum } from '../../engine/ops/arith.ts';
import { normaliseTrimap } from '../../matting/data/trimap.ts';

useEngine();

describe('smaller fixes', () => {
  it('maxPool2d ceil mode with a window larger than the input returns the partial window, and its gradient', async () => {
    const x = tensor(new Float32Array([0.5, -2, 7]), [3, 1, 1, 1]);
    x.requiresGrad = true;
    const { y } = maxPool2d(x, { kernelSize: 2, stride: 2, ceilMode: true });
    expect(y.shape).toEqual([3, 1, 1, 1]);
    expect(Array.from(await y.data())).toEqual([0.5, -2, 7]);
    backward(sum(y));
    expect(Array.from(await x.grad!.data())).toEqual([1, 1, 1]);
    // a 3x2 input, kernel 4 stride 3 (ceil): PyTorch gives 1x1 holding the max of all six
    const z = maxPool2d(tensor(new Float32Array([1, 9, 3, 4, 8, 2]), [1, 1, 3, 2]), { kernelSize: 4, stride: 3, ceilMode: true, returnIndices: true });
    expect(z.y.shape).toEqual([1, 1, 1, 1]);
    expect(Array.from(await z.y.data())).toEqual([9]);
    expect(Array.from(await z.indices.dataInt())).toEqual([1]);
    // floor mode still refuses it, as PyTorch does
    expect(() => maxPool2d(x, { kernelSize: 2, stride: 2 })).toThrow(/does not fit/);
  });

  it('a thresholded trimap is reported, naming the file and the values', () => {
    const warnings: string[] = [];
    const r = normaliseTrimap(new Float32Array([0, 128, 255, 30, 200, 127]), { file: 'tri.png', warn: (m) => warnings.push(m) });
    expect(Array.from(r.trimap)).toEqual([0, 128, 255, 0, 255, 128]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/tri\.png: 3 pixel\(s\) are not 0\/128\/255 \(values 30, 127, 200\)/);
    normaliseTrimap(new Float32Array([0, 128, 255]), { warn: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
  });
});
