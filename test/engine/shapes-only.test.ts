/** shapesOnly: a model built for its parameter table alone (info --model), with no device and no values. */
import { describe, expect, it } from 'vitest';
import { shapesOnly, inShapesOnly } from '../../engine/tensor.ts';
import { MattingModel } from '../../matting/graph/model.ts';
import { makeConfig } from '../../matting/graph/config.ts';
import { paramTable } from '../model/param-table.ts';

describe('shapesOnly', () => {
  it('builds the full-width model without an engine: names and shapes as the independent table, no storage', () => {
    // No initEngine in this file: any device allocation would throw.
    const model = shapesOnly(() => new MattingModel(makeConfig({ encoder: 'vgg16-dual', decoder: 'deconv', refine: 'sigmoid', width: 1 })));
    const params = model.namedParameters();
    const want = paramTable('vgg16-dual', 'deconv', 'sigmoid', 1).filter((e) => e.kind === 'param');
    expect(params.map(([n, t]) => [n, [...t.shape]])).toEqual(want.map((e) => [e.name, e.shape]));
    expect(params.every(([, t]) => t.disposed)).toBe(true);
    expect(inShapesOnly()).toBe(false);
    model.dispose();
  });
  it('ends with its function, even when it throws', () => {
    expect(() => shapesOnly(() => { throw new Error('boom'); })).toThrow('boom');
    expect(inShapesOnly()).toBe(false);
  });
});
