/**
 * Which conv kernel variant runs, per adapter and shape (stub: filled in below).
 */
import type { ConvGeometry } from './kernels/conv2d.ts';
import type { DirectTile } from './kernels/conv/direct.ts';

export type ConvPass = 'forward' | 'backward-data' | 'backward-weights';
/** 'gemm': kernels/conv2d.ts; 'direct-PxTN': kernels/conv/direct.ts with that register tile. */
export type ConvVariant = string;

const forced: Partial<Record<ConvPass, ConvVariant>> = {};

/** Forces a variant for a pass (tests, benchmarks); undefined restores the tuned choice. */
export function forceConvVariant(pass: ConvPass, v: ConvVariant | undefined): void {
  if (v === undefined) delete forced[pass];
  else forced[pass] = v;
}

export function parseTile(v: ConvVariant): DirectTile {
  const m = /^direct-(\d+)x(\d+)$/.exec(v);
  if (!m) throw new Error(`unknown conv variant '${v}'`);
  return { P: Number(m[1]), TN: Number(m[2]) };
}

export function convVariant(pass: ConvPass, _g: ConvGeometry): ConvVariant {
  return forced[pass] ?? 'gemm';
}
