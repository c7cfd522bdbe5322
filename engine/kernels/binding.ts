/**
 * Windows into large buffers. A binding may not exceed maxStorageBufferBindingSize (128 MiB on
 * Mesa) and must start at a multiple of the offset alignment, so a kernel that touches elements
 * [start, end) of a buffer binds the aligned window around them and receives the remainder as an
 * element offset uniform. Every op splits its work so that each window fits: that is the one
 * mechanism behind tensors larger than a binding (the 411 MB fc6 weight).
 */
import { engine } from '../engine.ts';
import type { BufferSlice } from '../engine.ts';

export interface Window {
  slice: BufferSlice;
  /** Element index (within the buffer) of the window's first element. */
  first: number;
}

/** The aligned window covering elements [start, end) of a 4-byte-element buffer. */
export function windowOf(buffer: GPUBuffer, start: number, end: number): Window {
  const align = engine().limits.minStorageBufferOffsetAlignment;
  const byteStart = Math.floor((start * 4) / align) * align;
  const byteEnd = Math.min(buffer.size, Math.max(byteStart + 4, end * 4));
  const size = Math.ceil((byteEnd - byteStart) / 4) * 4;
  return { slice: { buffer, offset: byteStart, size }, first: byteStart / 4 };
}

/** Elements a single binding can hold, less one alignment unit of slack for the window start. */
export function maxBindingElements(): number {
  const e = engine();
  return Math.floor((e.limits.maxStorageBufferBindingSize - e.limits.minStorageBufferOffsetAlignment) / 4);
}

/** Splits [0, total) into pieces of at most `perPiece` (a whole number of `unit`s each). */
export function pieces(total: number, perPiece: number, unit = 1): [number, number][] {
  const step = Math.max(unit, Math.floor(perPiece / unit) * unit);
  const out: [number, number][] = [];
  for (let s = 0; s < total; s += step) out.push([s, Math.min(total, s + step)]);
  if (out.length === 0) out.push([0, 0]);
  return out;
}
