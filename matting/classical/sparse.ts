/**
 * Block-sparse rows in float64 for the CPU setup of the aggregation multigrid (aggregation.ts):
 * each entry is a small dense block (rowSlots x colSlots, row-major), so that the 4 unknowns of a
 * coarse node travel together and index work is paid once per block. Column indices within a row
 * are ascending, so every result is a deterministic function of its inputs.
 */

export interface Bsr {
  /** Block rows and columns (nodes). */
  rows: number;
  cols: number;
  rowSlots: number;
  colSlots: number;
  /** Row r's blocks are ptr[r] .. ptr[r + 1]. */
  ptr: Int32Array;
  col: Int32Array;
  /** rowSlots * colSlots values per block. */
  val: Float64Array;
}

/** Grows column and value arrays for a Bsr built row by row. */
export class BsrBuilder {
  private col = new Int32Array(1024);
  private val: Float64Array;
  private n = 0;
  private readonly ptr: Int32Array;
  private row = 0;

  constructor(readonly rows: number, readonly cols: number, readonly rowSlots: number, readonly colSlots: number) {
    this.ptr = new Int32Array(rows + 1);
    this.val = new Float64Array(1024 * rowSlots * colSlots);
  }

  /** Appends a block to the current row (columns ascending), its values from src at `at`. */
  pushBlock(c: number, src: ArrayLike<number>, at: number): void {
    const size = this.rowSlots * this.colSlots;
    if (this.n === this.col.length) {
      const col = new Int32Array(2 * this.n), val = new Float64Array(2 * this.n * size);
      col.set(this.col); val.set(this.val);
      this.col = col; this.val = val;
    }
    this.col[this.n] = c;
    const o = this.n++ * size;
    for (let i = 0; i < size; i++) this.val[o + i] = src[at + i]!;
  }

  /** Ends the current row. */
  endRow(): void {
    this.ptr[++this.row] = this.n;
  }

  finish(): Bsr {
    if (this.row !== this.rows) throw new Error(`BsrBuilder: ${this.row} of ${this.rows} rows`);
    const size = this.rowSlots * this.colSlots;
    return { rows: this.rows, cols: this.cols, rowSlots: this.rowSlots, colSlots: this.colSlots, ptr: this.ptr, col: this.col.slice(0, this.n), val: this.val.slice(0, this.n * size) };
  }
}

/** A B (Gustavson's row-by-row product over blocks); B's blocks have 4 columns (coarse slots). */
export function multiply(A: Bsr, B: Bsr): Bsr {
  if (A.cols !== B.rows || A.colSlots !== B.rowSlots || B.colSlots !== 4) throw new Error(`sparse multiply: ${A.rows}x${A.cols} by ${B.rows}x${B.cols} blocks of ${B.rowSlots}x${B.colSlots}`);
  const ra = A.rowSlots, k = A.colSlots, sa = ra * k, sb = k * 4, so = ra * 4;
  const out = new BsrBuilder(A.rows, B.cols, ra, 4);
  const mark = new Int32Array(B.cols).fill(-1);
  const acc = new Float64Array(B.cols * so);
  const used = new Int32Array(B.cols);
  const Av = A.val, Bv = B.val, Ap = A.ptr, Ac = A.col, Bp = B.ptr, Bc = B.col;
  for (let r = 0; r < A.rows; r++) {
    let nu = 0;
    for (let p = Ap[r]!, pe = Ap[r + 1]!; p < pe; p++) {
      const kk = Ac[p]!, ao = p * sa;
      for (let q = Bp[kk]!, qe = Bp[kk + 1]!; q < qe; q++) {
        const c = Bc[q]!, bo = q * sb, co = c * so;
        if (mark[c] !== r) {
          mark[c] = r;
          for (let i = 0; i < so; i++) acc[co + i] = 0;
          used[nu++] = c;
        }
        if (sa === 1) {
          const a = Av[ao]!;
          acc[co]! += a * Bv[bo]!; acc[co + 1]! += a * Bv[bo + 1]!; acc[co + 2]! += a * Bv[bo + 2]!; acc[co + 3]! += a * Bv[bo + 3]!;
          continue;
        }
        if (k === 1) {
          // A 4x1 block times a 1x4 one (P^T times A P on level 0): an outer product.
          const b0 = Bv[bo]!, b1 = Bv[bo + 1]!, b2 = Bv[bo + 2]!, b3 = Bv[bo + 3]!;
          for (let i = 0; i < ra; i++) {
            const a = Av[ao + i]!, o = co + i * 4;
            acc[o]! += a * b0; acc[o + 1]! += a * b1; acc[o + 2]! += a * b2; acc[o + 3]! += a * b3;
          }
          continue;
        }
        for (let i = 0; i < ra; i++) {
          const o = co + i * 4;
          let s0 = acc[o]!, s1 = acc[o + 1]!, s2 = acc[o + 2]!, s3 = acc[o + 3]!;
          for (let l = 0; l < k; l++) {
            const a = Av[ao + i * k + l]!, b = bo + l * 4;
            s0 += a * Bv[b]!; s1 += a * Bv[b + 1]!; s2 += a * Bv[b + 2]!; s3 += a * Bv[b + 3]!;
          }
          acc[o] = s0; acc[o + 1] = s1; acc[o + 2] = s2; acc[o + 3] = s3;
        }
      }
    }
    const u = used.subarray(0, nu).sort();
    for (let i = 0; i < nu; i++) out.pushBlock(u[i]!, acc, u[i]! * so);
    out.endRow();
  }
  return out.finish();
}

/** A^T (blocks transposed too). */
export function transpose(A: Bsr): Bsr {
  const nb = A.ptr[A.rows]!, ra = A.rowSlots, ca = A.colSlots, size = ra * ca;
  const ptr = new Int32Array(A.cols + 1);
  for (let p = 0; p < nb; p++) ptr[A.col[p]! + 1]!++;
  for (let c = 0; c < A.cols; c++) ptr[c + 1]! += ptr[c]!;
  const pos = ptr.slice(0, A.cols);
  const col = new Int32Array(nb), val = new Float64Array(nb * size);
  for (let r = 0; r < A.rows; r++) {
    for (let p = A.ptr[r]!; p < A.ptr[r + 1]!; p++) {
      const at = pos[A.col[p]!]!++;
      col[at] = r;
      for (let i = 0; i < ra; i++) for (let j = 0; j < ca; j++) val[at * size + j * ra + i] = A.val[p * size + i * ca + j]!;
    }
  }
  return { rows: A.cols, cols: A.rows, rowSlots: ca, colSlots: ra, ptr, col, val };
}

/** y = A x (x, y flat over slots). */
export function multiplyVector(A: Bsr, x: Float64Array, y: Float64Array): void {
  const ra = A.rowSlots, ca = A.colSlots, size = ra * ca;
  if (size === 1) {
    for (let r = 0; r < A.rows; r++) {
      let s = 0;
      for (let p = A.ptr[r]!; p < A.ptr[r + 1]!; p++) s += A.val[p]! * x[A.col[p]!]!;
      y[r] = s;
    }
    return;
  }
  if (ra === 4 && ca === 4) {
    const v = A.val;
    for (let r = 0; r < A.rows; r++) {
      let y0 = 0, y1 = 0, y2 = 0, y3 = 0;
      for (let p = A.ptr[r]!; p < A.ptr[r + 1]!; p++) {
        const c = 4 * A.col[p]!, o = 16 * p;
        const x0 = x[c]!, x1 = x[c + 1]!, x2 = x[c + 2]!, x3 = x[c + 3]!;
        y0 += v[o]! * x0 + v[o + 1]! * x1 + v[o + 2]! * x2 + v[o + 3]! * x3;
        y1 += v[o + 4]! * x0 + v[o + 5]! * x1 + v[o + 6]! * x2 + v[o + 7]! * x3;
        y2 += v[o + 8]! * x0 + v[o + 9]! * x1 + v[o + 10]! * x2 + v[o + 11]! * x3;
        y3 += v[o + 12]! * x0 + v[o + 13]! * x1 + v[o + 14]! * x2 + v[o + 15]! * x3;
      }
      y[4 * r] = y0; y[4 * r + 1] = y1; y[4 * r + 2] = y2; y[4 * r + 3] = y3;
    }
    return;
  }
  for (let r = 0; r < A.rows; r++) {
    for (let i = 0; i < ra; i++) {
      let s = 0;
      for (let p = A.ptr[r]!; p < A.ptr[r + 1]!; p++) {
        const c = A.col[p]!;
        for (let j = 0; j < ca; j++) s += A.val[p * size + i * ca + j]! * x[c * ca + j]!;
      }
      y[r * ra + i] = s;
    }
  }
}

/** The point diagonal of a square A (flat over slots; 0 where a row has no diagonal block). */
export function diagonal(A: Bsr): Float64Array {
  const s = A.rowSlots, d = new Float64Array(A.rows * s);
  for (let r = 0; r < A.rows; r++) {
    for (let p = A.ptr[r]!; p < A.ptr[r + 1]!; p++) {
      if (A.col[p] !== r) continue;
      for (let i = 0; i < s; i++) d[r * s + i] = A.val[p * s * s + i * s + i]!;
    }
  }
  return d;
}
