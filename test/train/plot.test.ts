import { describe, expect, it } from 'vitest';
import { lossPlotSvg, yAxisTicks } from '../../matting/train/plot.ts';

describe('loss plot axis', () => {
  it('spans the nearest ticks around the data (0.17..1.2 -> 0.15..1.5), labelled', () => {
    expect(yAxisTicks([0.17, 0.5, 1.2])).toEqual([0.15, 0.2, 0.3, 0.5, 0.7, 1, 1.5]);
    const svg = lossPlotSvg('t', [{ name: 'total', color: '#000', points: [[10, 1.2], [20, 0.6], [30, 0.17]] }]);
    const labels = [...svg.matchAll(/class="y-tick">([^<]+)</g)].map((m) => Number(m[1]));
    expect(labels[0]).toBe(0.15);
    expect(labels.at(-1)).toBe(1.5);
    expect(svg).toContain('>loss (log scale)</text>');
    expect(svg).toContain('>step</text>');
  });
  it('thins the labels of a wide range and handles a flat series', () => {
    const wide = yAxisTicks([0.001, 50]);
    expect(wide[0]).toBeLessThanOrEqual(0.001);
    expect(wide.at(-1)).toBeGreaterThanOrEqual(50);
    expect(wide.length).toBeLessThanOrEqual(8);
    const flat = yAxisTicks([0.4, 0.4]);
    expect(flat[0]).toBeLessThan(0.4);
    expect(flat.at(-1)).toBeGreaterThan(0.4);
  });
});
