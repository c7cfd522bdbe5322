import { describe, expect, it } from 'vitest';
import { mismatchMessage } from '../../matting/pretrained.ts';

describe('pretrained mismatch message', () => {
  const problems = Array.from({ length: 26 }, (_, i) => `encoder.image.layer${i}.weight: the file's x has shape [64], the model expects [4]`);
  it('is one line saying how many tensors differ and which width fits', () => {
    const m = mismatchMessage('vgg16.safetensors', problems, [64, 3, 3, 3], 1 / 16);
    expect(m).not.toContain('\n');
    expect(m).toBe(
      "cannot load pretrained weights from vgg16.safetensors (26 tensors do not fit; the first: encoder.image.layer0.weight: the file's x has shape [64], the model expects [4]); " +
        "the file's weights are width 1 and the model is width 0.0625: give --width 1 (as the paper and resnet50 presets do)",
    );
  });
  it('gives no width hint when the widths agree', () => {
    expect(mismatchMessage('f', problems.slice(0, 1), [64, 3, 3, 3], 1)).toBe(`cannot load pretrained weights from f: ${problems[0]}`);
  });
});
