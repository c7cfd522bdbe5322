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
    return { rows: this.rows, cols: this.cols, rowSlots: this.rowSlots, colSlots: this.colSlots, ptr: this.ptr, col: this.col.subarray(0, this.n), val: this.val.subarray(0, this.n * size) };
  }
}

/** Output of a row-by-row product: column and value arrays grown once per row. */
class RowOutput {
  col: Int32Array;
  val: Float64Array;
  n = 0;
  readonly ptr: Int32Array;

  /** guess: blocks expected (grown by doubling past it). */
  constructor(rows: number, readonly size: number, guess: number) {
    this.ptr = new Int32Array(rows + 1);
    const cap = Math.max(1024, Math.ceil(guess));
    this.col = new Int32Array(cap);
    this.val = new Float64Array(cap * size);
  }

  /** Room for `more` blocks past n. */
  ensure(more: number): void {
    if (this.n + more <= this.col.length) return;
    const cap = Math.max(2 * this.col.length, this.n + more);
    const col = new Int32Array(cap), val = new Float64Array(cap * this.size);
    col.set(this.col.subarray(0, this.n));
    val.set(this.val.subarray(0, this.n * this.size));
    this.col = col; this.val = val;
  }

  /** Appends the row's blocks used[0 .. nu) (sorted here) from acc, and ends the row. */
  flush(r: number, used: Int32Array, nu: number, acc: Float64Array): void {
    sortPrefix(used, nu);
    this.ensure(nu);
    const size = this.size, col = this.col, val = this.val;
    let n = this.n;
    for (let i = 0; i < nu; i++, n++) {
      const c = used[i]!, o = n * size, co = c * size;
      col[n] = c;
      for (let j = 0; j < size; j++) val[o + j] = acc[co + j]!;
    }
    this.n = n;
    this.ptr[r + 1] = n;
  }

  finish(rows: number, cols: number, rowSlots: number, colSlots: number): Bsr {
    return { rows, cols, rowSlots, colSlots, ptr: this.ptr, col: this.col.subarray(0, this.n), val: this.val.subarray(0, this.n * this.size) };
  }
}

/** A B (Gustavson's row-by-row product over blocks); B's blocks have 4 columns (coarse slots). */
export function multiply(A: Bsr, B: Bsr): Bsr {
  if (A.cols !== B.rows || A.colSlots !== B.rowSlots || B.colSlots !== 4) throw new Error(`sparse multiply: ${A.rows}x${A.cols} by ${B.rows}x${B.cols} blocks of ${B.rowSlots}x${B.colSlots}`);
  return A.rowSlots === 1 && A.colSlots === 1 ? multiplyScalar(A, B) : multiplyBlocks(A, B);
}

/** A of 1x1 blocks times B of 1x4 (level 0: A P, S Pt); a loop of its own so that it stays simple for the JIT. */
function multiplyScalar(A: Bsr, B: Bsr): Bsr {
  const out = new RowOutput(A.rows, 4, A.rows * 16);
  const mark = new Int32Array(B.cols).fill(-1), acc = new Float64Array(B.cols * 4), used = new Int32Array(B.cols);
  const Ap = A.ptr, Ac = A.col, Av = A.val, Bp = B.ptr, Bc = B.col, Bv = B.val;
  for (let r = 0; r < A.rows; r++) {
    let nu = 0;
    for (let p = Ap[r]!, pe = Ap[r + 1]!; p < pe; p++) {
      const a = Av[p]!, kk = Ac[p]!;
      for (let q = Bp[kk]!, qe = Bp[kk + 1]!; q < qe; q++) {
        const c = Bc[q]!, co = c << 2, bo = q << 2;
        if (mark[c] !== r) { mark[c] = r; acc[co] = 0; acc[co + 1] = 0; acc[co + 2] = 0; acc[co + 3] = 0; used[nu++] = c; }
        acc[co]! += a * Bv[bo]!; acc[co + 1]! += a * Bv[bo + 1]!; acc[co + 2]! += a * Bv[bo + 2]!; acc[co + 3]! += a * Bv[bo + 3]!;
      }
    }
    out.flush(r, used, nu, acc);
  }
  return out.finish(A.rows, B.cols, 1, 4);
}

/** A of ra x k blocks times B of k x 4. */
function multiplyBlocks(A: Bsr, B: Bsr): Bsr {
  const ra = A.rowSlots, k = A.colSlots, sa = ra * k, sb = k * 4, so = ra * 4;
  const out = new RowOutput(A.rows, so, A.rows * 16);
  const mark = new Int32Array(B.cols).fill(-1), acc = new Float64Array(B.cols * so), used = new Int32Array(B.cols);
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
        if (ra === 4 && k === 4) { addProduct4(acc, co, Av, ao, Bv, bo); continue; }
        if (ra === 4 && k === 1) { addOuter(acc, co, Av, ao, Bv, bo); continue; }
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
    out.flush(r, used, nu, acc);
  }
  return out.finish(A.rows, B.cols, ra, 4);
}

/** acc[o ..] += a b for a 4x1 block a (at ao) and a 1x4 block b (at bo), row-major 4x4. */
function addOuter(acc: Float64Array, o: number, Av: Float64Array, ao: number, Bv: Float64Array, bo: number): void {
  const b0 = Bv[bo]!, b1 = Bv[bo + 1]!, b2 = Bv[bo + 2]!, b3 = Bv[bo + 3]!;
  for (let i = 0; i < 4; i++) {
    const a = Av[ao + i]!, q = o + 4 * i;
    acc[q]! += a * b0; acc[q + 1]! += a * b1; acc[q + 2]! += a * b2; acc[q + 3]! += a * b3;
  }
}

/** acc[o ..] += a b for 4x4 blocks (row-major). */
function addProduct4(acc: Float64Array, o: number, Av: Float64Array, ao: number, Bv: Float64Array, bo: number): void {
  const b00 = Bv[bo]!, b01 = Bv[bo + 1]!, b02 = Bv[bo + 2]!, b03 = Bv[bo + 3]!;
  const b10 = Bv[bo + 4]!, b11 = Bv[bo + 5]!, b12 = Bv[bo + 6]!, b13 = Bv[bo + 7]!;
  const b20 = Bv[bo + 8]!, b21 = Bv[bo + 9]!, b22 = Bv[bo + 10]!, b23 = Bv[bo + 11]!;
  const b30 = Bv[bo + 12]!, b31 = Bv[bo + 13]!, b32 = Bv[bo + 14]!, b33 = Bv[bo + 15]!;
  for (let i = 0; i < 4; i++) {
    const a0 = Av[ao + 4 * i]!, a1 = Av[ao + 4 * i + 1]!, a2 = Av[ao + 4 * i + 2]!, a3 = Av[ao + 4 * i + 3]!, q = o + 4 * i;
    acc[q]! += a0 * b00 + a1 * b10 + a2 * b20 + a3 * b30;
    acc[q + 1]! += a0 * b01 + a1 * b11 + a2 * b21 + a3 * b31;
    acc[q + 2]! += a0 * b02 + a1 * b12 + a2 * b22 + a3 * b32;
    acc[q + 3]! += a0 * b03 + a1 * b13 + a2 * b23 + a3 * b33;
  }
}

/** Sorts a[0 .. n) ascending in place (insertion sort: rows hold tens of blocks). */
function sortPrefix(a: Int32Array, n: number): void {
  for (let i = 1; i < n; i++) {
    const v = a[i]!;
    let j = i - 1;
    while (j >= 0 && a[j]! > v) { a[j + 1] = a[j]!; j--; }
    a[j + 1] = v;
  }
}

/**
 * P^T A P for a symmetric A, from AP = A P: only the blocks on and above the diagonal are summed
 * (half the work of the full product); the rest are their transposes, so the result is exactly
 * symmetric.
 */
export function galerkin(P: Bsr, AP: Bsr): Bsr {
  const PT = transpose(P);
  if (PT.colSlots !== AP.rowSlots || AP.colSlots !== 4 || PT.rowSlots !== 4) throw new Error('galerkin: expects 4 coarse slots');
  const n = PT.rows, k = PT.colSlots, sa = 4 * k, sb = k * 4;
  const upper = new RowOutput(n, 16, n * 16);
  const mark = new Int32Array(n).fill(-1);
  const acc = new Float64Array(n * 16);
  const used = new Int32Array(n);
  const Av = PT.val, Bv = AP.val, Ap = PT.ptr, Ac = PT.col, Bp = AP.ptr, Bc = AP.col;
  for (let r = 0; r < n; r++) {
    let nu = 0;
    for (let p = Ap[r]!, pe = Ap[r + 1]!; p < pe; p++) {
      const kk = Ac[p]!, ao = p * sa;
      for (let q = Bp[kk]!, qe = Bp[kk + 1]!; q < qe; q++) {
        const c = Bc[q]!;
        if (c < r) continue;
        const bo = q * sb, co = c * 16;
        if (mark[c] !== r) {
          mark[c] = r;
          for (let i = 0; i < 16; i++) acc[co + i] = 0;
          used[nu++] = c;
        }
        if (k === 1) addOuter(acc, co, Av, ao, Bv, bo);
        else addProduct4(acc, co, Av, ao, Bv, bo);
      }
    }
    // The diagonal block: symmetric up to rounding, made exactly so.
    if (mark[r] === r) for (let a = 0; a < 4; a++) for (let b = 0; b < a; b++) { const v = (acc[r * 16 + a * 4 + b]! + acc[r * 16 + b * 4 + a]!) / 2; acc[r * 16 + a * 4 + b] = v; acc[r * 16 + b * 4 + a] = v; }
    upper.flush(r, used, nu, acc);
  }
  // Full = upper + transpose(strictly upper), merged row by row (both ascending).
  const U = upper.finish(n, n, 4, 4), L = transpose(U);
  const out = new BsrBuilder(n, n, 4, 4);
  for (let r = 0; r < n; r++) {
    for (let p = L.ptr[r]!; p < L.ptr[r + 1]!; p++) if (L.col[p]! < r) out.pushBlock(L.col[p]!, L.val, p * 16);
    for (let p = U.ptr[r]!; p < U.ptr[r + 1]!; p++) out.pushBlock(U.col[p]!, U.val, p * 16);
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
  const ptr = A.ptr, col = A.col, v = A.val, rows = A.rows;
  if (size === 1) {
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let p = ptr[r]!, pe = ptr[r + 1]!; p < pe; p++) s += v[p]! * x[col[p]!]!;
      y[r] = s;
    }
    return;
  }
  if (ra === 4 && ca === 4) {
    for (let r = 0; r < rows; r++) {
      let y0 = 0, y1 = 0, y2 = 0, y3 = 0;
      for (let p = ptr[r]!, pe = ptr[r + 1]!; p < pe; p++) {
        const c = 4 * col[p]!, o = 16 * p;
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
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < ra; i++) {
      let s = 0;
      for (let p = ptr[r]!; p < ptr[r + 1]!; p++) {
        const c = col[p]!;
        for (let j = 0; j < ca; j++) s += v[p * size + i * ca + j]! * x[c * ca + j]!;
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
