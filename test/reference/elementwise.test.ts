import { describe, expect, it } from 'vitest';
import { type Arr, arr, mulberry32, randomArr } from './array.ts';
import {
  type BinaryOp,
  add,
  addScalar,
  addScalarBackward,
  binary,
  binaryBackward,
  broadcastShapes,
  broadcastTo,
  concat,
  concatBackward,
  crop2d,
  crop2dBackward,
  div,
  mean,
  meanBackward,
  mul,
  mulScalar,
  mulScalarBackward,
  slice,
  sliceBackward,
  sqrt,
  sqrtBackward,
  square,
  squareBackward,
  sub,
  sum,
  sumBackward,
  sumToShape,
  where,
  whereBackward,
} from './elementwise.ts';
import { checkBackward, expectClose } from './grad-check.ts';

const col = arr([2, 1], [1, 2]); // [[1], [2]]
const row = arr([3], [10, 20, 30]);
const m23 = arr([2, 3], [1, 2, 3, 4, 5, 6]);

describe('elementwise forward, hand-computed', () => {
  it('broadcast shapes (numpy rules)', () => {
    expect(broadcastShapes([2, 1], [3])).toEqual([2, 3]);
    expect(broadcastShapes([4, 1, 3], [2, 1], [])).toEqual([4, 2, 3]);
    expect(() => broadcastShapes([2, 3], [4])).toThrow();
  });

  it('add / sub / mul / div with broadcasting', () => {
    // [[1],[2]] (op) [10,20,30] -> rows use 1 and 2 respectively
    expectClose(add(col, row), [11, 21, 31, 12, 22, 32]);
    expectClose(sub(col, row), [-9, -19, -29, -8, -18, -28]);
    expectClose(mul(col, row), [10, 20, 30, 20, 40, 60]);
    expectClose(div(col, row), [0.1, 0.05, 1 / 30, 0.2, 0.1, 2 / 30]);
  });

  it('binaryBackward reduces over broadcast axes', () => {
    // y = a*b with a = [[1],[2]], b = [10,20,30], dy = ones:
    // da[i] = sum_j b[j] = 60 for both rows; db[j] = sum_i a[i] = 3
    const ones = arr([2, 3], [1, 1, 1, 1, 1, 1]);
    const m = binaryBackward('mul', col, row, ones);
    expectClose(m.da, [60, 60]);
    expectClose(m.db, [3, 3, 3]);
    // sub: da = row sums of dy = 3 each; db = -(column sums) = -2 each
    const s = binaryBackward('sub', col, row, ones);
    expectClose(s.da, [3, 3]);
    expectClose(s.db, [-2, -2, -2]);
    // div with a scalar-shaped b = 4 and a = [2, 8]: da = dy/4, db = -sum(dy*a)/16 = -(2+8)/16
    const d = binaryBackward('div', arr([2], [2, 8]), arr([], [4]), arr([2], [1, 1]));
    expectClose(d.da, [0.25, 0.25]);
    expectClose(d.db, [-10 / 16]);
  });

  it('scalar and unary ops', () => {
    expectClose(addScalar(row, 1), [11, 21, 31]);
    expectClose(mulScalar(row, -2), [-20, -40, -60]);
    expectClose(mulScalarBackward(arr([2], [1, 2]), 3), [3, 6]);
    expectClose(addScalarBackward(arr([2], [1, 2])), [1, 2]);
    expectClose(sqrt(arr([2], [4, 9])), [2, 3]);
    // dx = dy / (2y): 1/4 and 1/6
    expectClose(sqrtBackward(arr([2], [2, 3]), arr([2], [1, 1])), [0.25, 1 / 6]);
    expectClose(square(arr([2], [-3, 0.5])), [9, 0.25]);
    expectClose(squareBackward(arr([2], [-3, 0.5]), arr([2], [1, 2])), [-6, 2]);
  });

  it('where routes values and gradients by the mask', () => {
    // mask [1, 0, 1] picks a = [1, 2, 3] where nonzero, the broadcast b = [10] elsewhere
    const mask = arr([3], [1, 0, 1]);
    expectClose(where(mask, arr([3], [1, 2, 3]), arr([1], [10])), [1, 10, 3]);
    const g = whereBackward(mask, arr([3], [1, 2, 3]), [3], [1]);
    expectClose(g.da, [1, 0, 3]);
    expectClose(g.db, [2]);
  });

  it('concat / slice / crop2d', () => {
    // axis 1: [[1,2]] ++ [[3]] -> [[1,2,3]]; axis 0: [[1,2],[3,4]] ++ [[5,6]] -> 3x2
    const c1 = concat([arr([1, 2], [1, 2]), arr([1, 1], [3])], 1);
    expect(c1.shape).toEqual([1, 3]);
    expectClose(c1, [1, 2, 3]);
    const c0 = concat([arr([2, 2], [1, 2, 3, 4]), arr([1, 2], [5, 6])], 0);
    expect(c0.shape).toEqual([3, 2]);
    expectClose(c0, [1, 2, 3, 4, 5, 6]);
    // concat along axis 1 of [2,1] and [2,2]: rows interleave: [[a0, b00, b01], [a1, b10, b11]]
    const c2 = concat([col, arr([2, 2], [7, 8, 9, 10])], -1);
    expectClose(c2, [1, 7, 8, 2, 9, 10]);
    const parts = concatBackward(arr([2, 3], [1, 2, 3, 4, 5, 6]), [[2, 1], [2, 2]], 1);
    expectClose(parts[0], [1, 4]);
    expectClose(parts[1], [2, 3, 5, 6]);
    // slice columns [1, 3) of [[1,2,3],[4,5,6]] -> [[2,3],[5,6]]; backward puts them back
    const s = slice(m23, 1, 1, 3);
    expect(s.shape).toEqual([2, 2]);
    expectClose(s, [2, 3, 5, 6]);
    expectClose(sliceBackward(arr([2, 2], [1, 2, 3, 4]), [2, 3], 1, 1, 3), [0, 1, 2, 0, 3, 4]);
    // crop rows 1-2, cols 0-1 of 1..9 (3x3) -> [4, 5, 7, 8]
    const nine = arr([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expectClose(crop2d(nine, 1, 0, 2, 2), [4, 5, 7, 8]);
    expectClose(crop2dBackward(arr([1, 1, 2, 2], [1, 2, 3, 4]), [1, 1, 3, 3], 1, 0), [0, 0, 0, 1, 2, 0, 3, 4, 0]);
  });

  it('sum / mean with axes, keepDims and null', () => {
    // [[1,2,3],[4,5,6]]: axis 0 -> [5,7,9]; axis 1 keepDims -> [[6],[15]]; all -> 21 (shape [])
    const s0 = sum(m23, [0]);
    expect(s0.shape).toEqual([3]);
    expectClose(s0, [5, 7, 9]);
    const s1 = sum(m23, [1], true);
    expect(s1.shape).toEqual([2, 1]);
    expectClose(s1, [6, 15]);
    const all = sum(m23, null);
    expect(all.shape).toEqual([]);
    expectClose(all, [21]);
    expectClose(mean(m23, [-1]), [2, 5]);
    expectClose(mean(m23, null, true), [3.5]);
    // sum backward broadcasts dy back; mean divides by the count (3)
    expectClose(sumBackward(arr([3], [1, 2, 3]), [2, 3], [0]), [1, 2, 3, 1, 2, 3]);
    expectClose(meanBackward(arr([2], [3, 6]), [2, 3], [1]), [1, 1, 1, 2, 2, 2]);
  });

  it('broadcastTo / sumToShape', () => {
    expectClose(broadcastTo(col, [2, 3]), [1, 1, 1, 2, 2, 2]);
    expectClose(sumToShape(m23, [1, 3]), [5, 7, 9]);
    expectClose(sumToShape(m23, []), [21]);
  });
});

describe('elementwise backward vs finite differences', () => {
  const pairs: [number[], number[]][] = [
    [[2, 3, 4], [2, 3, 4]],
    [[2, 1, 4], [3, 1]],
    [[4], [2, 3, 4]],
    [[], [2, 3]],
    [[2, 3, 1, 5], [1, 3, 4, 1]],
  ];
  const ops: BinaryOp[] = ['add', 'sub', 'mul', 'div'];
  for (const op of ops) {
    for (const [sa, sb] of pairs) {
      it(`${op} [${sa}] (op) [${sb}]`, () => {
        const rng = mulberry32(sa.length * 10 + sb.length + op.length * 100);
        const a = randomArr(sa, rng);
        // keep divisors away from 0 (either sign)
        const b = op === 'div' ? randomArr(sb, rng, 0.5, 2) : randomArr(sb, rng);
        if (op === 'div') for (let i = 0; i < b.data.length; i += 2) b.data[i] = -b.data[i];
        checkBackward(
          ([x, y]) => binary(op, x, y),
          ([x, y], dy) => {
            const g = binaryBackward(op, x, y, dy);
            return [g.da, g.db];
          },
          [a, b],
          rng,
        );
      });
    }
  }

  it('scalar ops, sqrt, square', () => {
    const rng = mulberry32(5);
    const x = randomArr([2, 3, 5], rng, 0.3, 2);
    checkBackward(([v]) => addScalar(v, 1.7), (_, dy) => [addScalarBackward(dy)], [x], rng);
    checkBackward(([v]) => mulScalar(v, -1.3), (_, dy) => [mulScalarBackward(dy, -1.3)], [x], rng);
    checkBackward(([v]) => sqrt(v), ([v], dy) => [sqrtBackward(sqrt(v), dy)], [x], rng);
    checkBackward(([v]) => square(v), ([v], dy) => [squareBackward(v, dy)], [randomArr([4, 3], rng)], rng);
  });

  it('where with broadcasting mask, a and b', () => {
    const rng = mulberry32(6);
    const mask = randomArr([2, 1, 4], rng, 0, 1);
    for (let i = 0; i < mask.data.length; i++) mask.data[i] = mask.data[i] < 0.5 ? 0 : 1;
    mask.data[0] = 1;
    mask.data[1] = 0; // make sure both branches are taken
    checkBackward(
      ([a, b]) => where(mask, a, b),
      ([a, b], dy) => {
        const g = whereBackward(mask, dy, a.shape, b.shape);
        return [g.da, g.db];
      },
      [randomArr([2, 3, 4], rng), randomArr([3, 1], rng)],
      rng,
    );
  });

  it('broadcastTo / sumToShape', () => {
    const rng = mulberry32(7);
    checkBackward(([x]) => broadcastTo(x, [2, 3, 4, 5]), (_, dy) => [sumToShape(dy, [3, 1, 5])], [randomArr([3, 1, 5], rng)], rng);
  });

  for (const axis of [0, 1, 3, -1]) {
    it(`concat axis ${axis} of three NCHW arrays`, () => {
      const rng = mulberry32(8 + axis);
      const base = [2, 3, 4, 5];
      const shapes = [1, 2, 3].map((k) => base.map((d, i) => (i === (axis + 4) % 4 ? k : d)));
      checkBackward(
        (xs) => concat(xs, axis),
        (xs, dy) => concatBackward(dy, xs.map((x) => x.shape), axis),
        shapes.map((s) => randomArr(s, rng)),
        rng,
      );
    });
  }

  for (const [axis, start, end] of [
    [1, 1, 3],
    [3, 0, 4],
    [0, 1, 2],
    [-2, 2, 5],
  ] as const) {
    it(`slice axis ${axis} [${start}, ${end})`, () => {
      const rng = mulberry32(20 + axis + start);
      checkBackward(
        ([x]) => slice(x, axis, start, end),
        ([x], dy) => [sliceBackward(dy, x.shape, axis, start, end)],
        [randomArr([2, 4, 5, 6], rng)],
        rng,
      );
    });
  }

  it('crop2d (odd offsets)', () => {
    const rng = mulberry32(30);
    checkBackward(
      ([x]) => crop2d(x, 1, 2, 3, 4),
      ([x], dy) => [crop2dBackward(dy, x.shape, 1, 2)],
      [randomArr([2, 3, 5, 7], rng)],
      rng,
    );
  });

  const reductions: [number[] | null, boolean][] = [
    [null, false],
    [null, true],
    [[1], false],
    [[0, 2], true],
    [[-1], false],
    [[0, 2, 3], false],
  ];
  for (const [axes, keepDims] of reductions) {
    it(`sum and mean over ${axes === null ? 'all' : `[${axes}]`}${keepDims ? ' keepDims' : ''}`, () => {
      const rng = mulberry32(40 + (axes?.length ?? 9) + (keepDims ? 1 : 0));
      const x: Arr = randomArr([2, 3, 4, 5], rng);
      checkBackward(([v]) => sum(v, axes, keepDims), ([v], dy) => [sumBackward(dy, v.shape, axes, keepDims)], [x], rng);
      checkBackward(([v]) => mean(v, axes, keepDims), ([v], dy) => [meanBackward(dy, v.shape, axes, keepDims)], [x], rng);
    });
  }
});
