/**
 * The conv kernel variants every conv test runs under (engine/autotune.ts): each set forces one
 * variant per pass; a variant that cannot run a shape (the direct input gradient of a strided conv)
 * falls back to the default there (vitest.config.ts turns tuning and the cache off for the suite).
 */
import { afterAll } from 'vitest';
import { forceConvVariant, type ConvPass, type ConvVariant } from '../../engine/autotune.ts';

export type VariantSet = Record<ConvPass, ConvVariant>;

export const VARIANT_SETS: { name: string; set: VariantSet }[] = [
  { name: 'gemm', set: { forward: 'gemm', 'backward-data': 'gemm', 'backward-weights': 'gemm' } },
  { name: 'direct 16x8 / dw 4x8', set: { forward: 'direct-16x8', 'backward-data': 'direct-16x8', 'backward-weights': 'direct-4x8' } },
  { name: 'direct 4x4 / dw 8x4', set: { forward: 'direct-4x4', 'backward-data': 'direct-4x4', 'backward-weights': 'direct-8x4' } },
  { name: 'direct 8x4 / dw 4x1', set: { forward: 'direct-8x4', 'backward-data': 'direct-8x8', 'backward-weights': 'direct-4x1' } },
  { name: 'direct packed 16x16v / 8x4v / dw 4x2', set: { forward: 'direct-16x16v', 'backward-data': 'direct-8x4v', 'backward-weights': 'direct-4x2' } },
  // subgroup-shared weights (where the adapter has subgroups of >= 8 lanes; elsewhere the defaults run)
  // Winograd for 3x3 stride-1 convs (elsewhere the defaults run): F(4x4,3x3) with U shared by the subgroup as vec4s,
  // F(2x2,3x3) with U loaded per lane; the weight gradient as F(3x3,2x2)
  { name: 'winograd4 8x32v / 4x8 / dw 8x16s', set: { forward: 'winograd4-8x32v', 'backward-data': 'winograd-4x8', 'backward-weights': 'winograd-8x16s' } },
  { name: 'direct subgroup 16x16sr / 8x8s / dw 8x2s', set: { forward: 'direct-16x16sr', 'backward-data': 'direct-8x8s', 'backward-weights': 'direct-8x2s' } },
];

export function useVariants(set: VariantSet): void {
  for (const [pass, v] of Object.entries(set)) forceConvVariant(pass as ConvPass, v);
}

afterAll(() => {
  for (const pass of ['forward', 'backward-data', 'backward-weights'] as const) forceConvVariant(pass, undefined);
});
