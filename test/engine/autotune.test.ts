import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { tidy, zeros } from '../../engine/index.ts';
import { conv2d, conv2dGeometry } from '../../engine/ops/conv.ts';
import { convCandidates, convVariant, defaultConvVariant, forceConvVariant, parseColsTile, parseTile, parseWinogradTile, setAutotuneStore, shapeKey, tileWidthFor, tuneConv, tunePendingConvs, variantApplies } from '../../engine/autotune.ts';
import { engine } from '../../engine/engine.ts';
import { autotuneFileStore } from '../../node/autotune-file-store.ts';

useEngine();

const dir = mkdtempSync(join(tmpdir(), 'matting-autotune-'));
const saved = { on: process.env.MATTING_AUTOTUNE, path: process.env.MATTING_AUTOTUNE_CACHE };
beforeAll(() => {
  process.env.MATTING_AUTOTUNE = '1';
  process.env.MATTING_AUTOTUNE_CACHE = join(dir, 'conv-variants.json');
});
afterAll(() => {
  process.env.MATTING_AUTOTUNE = saved.on;
  process.env.MATTING_AUTOTUNE_CACHE = saved.path;
});

type Cache = Record<string, Record<string, { variant: string; ms: Record<string, number> }>>;

describe('conv autotuner', () => {
  const g = conv2dGeometry([1, 8, 12, 12], [16, 8, 3, 3], { padding: 1 });

  it('times every candidate, keeps the fastest in the cache file, and then runs it', async () => {
    const v = await tuneConv('forward', g, 1);
    const file = JSON.parse(readFileSync(join(dir, 'conv-variants.json'), 'utf8')) as Cache;
    const entries = Object.values(file).map((a) => a[shapeKey('forward', g)]).filter((x) => x);
    expect(entries).toHaveLength(1);
    const entry = entries[0]!;
    expect(Object.keys(entry.ms).sort()).toEqual(convCandidates('forward', g).sort());
    const fastest = Object.entries(entry.ms).reduce((b, e) => (e[1] < b[1] ? e : b));
    expect(entry.variant).toBe(fastest[0]);
    expect(v).toBe(entry.variant);
    expect(convVariant('forward', g)).toBe(v);
  });

  it('a cached choice that did not time every candidate of today (an older engine) gives way to the default until the shape is tuned again', async () => {
    const old = conv2dGeometry([1, 8, 10, 10], [16, 8, 3, 3], { padding: 1 });
    const path = join(dir, 'conv-variants.json');
    const file = JSON.parse(readFileSync(path, 'utf8')) as Cache;
    const ad = Object.keys(file)[0]!;
    file[ad]![shapeKey('forward', old)] = { variant: 'direct-4x4', ms: { 'direct-4x4': 1 } };
    writeFileSync(path, JSON.stringify(file));
    setAutotuneStore(autotuneFileStore); // the same file store again: drops the choices held in memory
    expect(convVariant('forward', old)).toBe(defaultConvVariant('forward', old));
    expect(defaultConvVariant('forward', old)).not.toBe('direct-4x4');
    expect(await tunePendingConvs()).toBe(1);
    const retuned = (JSON.parse(readFileSync(path, 'utf8')) as Cache)[ad]![shapeKey('forward', old)]!;
    expect(Object.keys(retuned.ms).sort()).toEqual(convCandidates('forward', old).sort());
    expect(convVariant('forward', old)).toBe(retuned.variant);
  });

  it('a forced variant wins over the cache; an unknown one is refused', () => {
    forceConvVariant('forward', 'direct-4x4');
    expect(convVariant('forward', g)).toBe('direct-4x4');
    forceConvVariant('forward', undefined);
    expect(() => forceConvVariant('forward', 'winograd')).toThrow(/unknown conv variant/);
  });

  it('the input gradient of a strided conv has direct candidates (one launch per phase) but no packed ones, and none when dilated', () => {
    const s2 = conv2dGeometry([1, 8, 12, 12], [16, 8, 3, 3], { padding: 1, stride: 2 });
    const cands = convCandidates('backward-data', s2);
    expect(cands).toContain('direct-16x8');
    expect(cands.filter((v) => v.startsWith('direct') && v.endsWith('v'))).toEqual([]);
    // and the phase form (a 3x3 conv over the input's phases) on Winograd tiles, where subgroups allow
    const f = engine().acquired.features;
    expect(cands.includes('phase-winograd4-8x32v')).toBe(f.subgroups && f.subgroupMinSize >= 8);
    const d = defaultConvVariant('forward', conv2dGeometry([1, 64, 80, 80], [128, 64, 5, 5], { padding: 'same', stride: 2 }));
    if (f.subgroups && f.subgroupMinSize >= 8) expect(d).toBe('phase-winograd4-8x32v');
    else expect(d).not.toMatch(/^phase/);
    const dilated = conv2dGeometry([1, 8, 12, 12], [16, 8, 3, 3], { padding: 2, stride: 2, dilation: 2 });
    expect(convCandidates('backward-data', dilated)).toEqual(['gemm']);
  });

  it('subgroup-shared variants are candidates exactly where the adapter has subgroups of 8 or more lanes', () => {
    const f = engine().acquired.features;
    const has = f.subgroups && f.subgroupMinSize >= 8;
    expect(variantApplies('forward', g, 'direct-8x8s')).toBe(has);
    expect(convCandidates('backward-data', g).includes('direct-16x16sr')).toBe(has && g.OW % 4 === 0);
    // TN a multiple of 4 (the KW*TN weights of a kernel row go in 8-lane chunks, the last one partly filled)
    expect(variantApplies('forward', g, 'direct-8x4s')).toBe(has);
    expect(variantApplies('forward', g, 'direct-8x2s')).toBe(false);
    // the weight gradient shares TN x P output-gradient values in 8-lane chunks, TN*KH*KW <= 160 accumulators
    expect(variantApplies('backward-weights', g, 'direct-8x4s')).toBe(has);
    expect(variantApplies('backward-weights', g, 'direct-2x2s')).toBe(false);
    const k7 = conv2dGeometry([1, 8, 10, 10], [16, 8, 7, 7], { padding: 3 });
    expect(variantApplies('backward-weights', k7, 'direct-8x2s')).toBe(has);
    expect(variantApplies('backward-weights', k7, 'direct-8x4s')).toBe(false);
    // one kernel row per workgroup: 16 channels x 7 taps fit; kN must divide KH, and is for the weight gradient only
    expect(variantApplies('backward-weights', k7, 'direct-8x16sk1')).toBe(has);
    expect(variantApplies('backward-weights', k7, 'direct-4x8k1')).toBe(true);
    expect(variantApplies('backward-weights', k7, 'direct-4x8k2')).toBe(false);
    expect(variantApplies('forward', k7, 'direct-8x8sk1')).toBe(false);
    expect(parseTile('direct-8x16sk1')).toEqual({ P: 8, TN: 16, packed: false, subgroup: true, rows4: false, kRows: 1 });
    expect(parseTile('direct-16x16sr')).toEqual({ P: 16, TN: 16, packed: false, subgroup: true, rows4: true });
  });

  it('the default tile width fits the row: 10 pixels for 10- and 20-wide rows, 8 where 8 divides, 7 for 13', () => {
    expect([10, 20, 40, 320, 13, 7, 16].map(tileWidthFor)).toEqual([10, 10, 8, 8, 7, 7, 8]);
    const f = engine().acquired.features;
    const has = f.subgroups && f.subgroupMinSize >= 8;
    const fc6 = conv2dGeometry([1, 64, 10, 10], [512, 64, 7, 7], { padding: 'same' });
    expect(defaultConvVariant('forward', fc6)).toBe(has ? 'direct-10x8s' : 'direct-8x8v');
    expect(defaultConvVariant('backward-data', fc6)).toBe(has ? 'direct-10x8s' : 'direct-8x8v');
    if (has) expect(convCandidates('forward', fc6)).toContain('direct-10x16s');
    // 64 or more channels summed (dx sums the output channels) and 32 or more computed: Winograd
    expect(defaultConvVariant('forward', conv2dGeometry([1, 64, 40, 40], [64, 64, 3, 3], { padding: 1 }))).toBe(has ? 'winograd4-8x32v' : 'direct-16x16v');
    // F(4x4,3x3) from 20x20 outputs (4 tiles a lane below 32x32), F(2x2,3x3) below
    expect(defaultConvVariant('backward-data', conv2dGeometry([1, 64, 20, 20], [64, 64, 3, 3], { padding: 1 }))).toBe(has ? 'winograd4-4x32v' : 'direct-16x16v');
    expect(defaultConvVariant('forward', conv2dGeometry([1, 64, 16, 16], [64, 64, 3, 3], { padding: 1 }))).toBe(has ? 'winograd-8x32v' : 'direct-16x16v');
    expect(parseWinogradTile('winograd4-4x32v')).toEqual({ P: 4, TN: 32, subgroup: true, u4: true, m: 4 });
    expect(defaultConvVariant('backward-weights', conv2dGeometry([1, 64, 40, 40], [64, 64, 3, 3], { padding: 1 }))).toBe(has ? 'winograd4-8x32v' : 'direct-4x8');
    expect(defaultConvVariant('forward', conv2dGeometry([1, 32, 40, 40], [64, 32, 3, 3], { padding: 1 }))).toBe(has ? 'direct-8x8sr' : 'direct-16x16v');
    const wide = conv2dGeometry([1, 256, 20, 20], [64, 256, 3, 3], { padding: 1 });
    expect(defaultConvVariant('forward', wide)).toBe(has ? 'winograd4-4x32v' : 'direct-16x16v');
    expect(defaultConvVariant('backward-data', wide)).toBe(has ? 'winograd4-4x32v' : 'direct-16x16v');
    expect(defaultConvVariant('backward-data', conv2dGeometry([1, 256, 20, 20], [32, 256, 3, 3], { padding: 1 }))).toBe(has ? 'direct-10x8s' : 'direct-16x16v');
    expect(variantApplies('backward-weights', wide, 'winograd-4x32s')).toBe(has);
    expect(defaultConvVariant('backward-weights', wide)).toBe(has ? 'winograd-8x32v' : 'direct-4x8');
    // vec4 U loads: TN a multiple of 32, subgroups
    expect(parseWinogradTile('winograd-8x32v')).toEqual({ P: 8, TN: 32, subgroup: true, u4: true });
    expect(parseWinogradTile('winograd-4x32s')).toEqual({ P: 4, TN: 32, subgroup: true });
    expect(variantApplies('forward', wide, 'winograd-8x16v')).toBe(false);
    expect(defaultConvVariant('backward-weights', conv2dGeometry([1, 32, 20, 20], [32, 32, 3, 3], { padding: 1 }))).not.toMatch(/^winograd/);
    // fc6's gradients (10x10 plane, 25,088 taps): one GEMM over the column matrix; its forward stays direct
    const fc6Full = conv2dGeometry([1, 512, 10, 10], [4096, 512, 7, 7], { padding: 'same' });
    expect(defaultConvVariant('backward-weights', fc6Full)).toBe(has ? 'cols-8x32v' : 'direct-4x8k1');
    expect(defaultConvVariant('backward-data', fc6Full)).toBe(has ? 'cols-4x32v' : 'direct-8x8v');
    expect(defaultConvVariant('forward', fc6Full)).toBe(has ? 'direct-10x8s' : 'direct-8x8v');
    expect(parseColsTile('cols-8x32v')).toEqual({ P: 8, TN: 32, subgroup: true, u4: true });
    expect(() => parseColsTile('cols-8x32')).toThrow(/cols-PxTNv/);
    // a prediction head (64 -> 1): 4 channels a lane with subgroups (3 of them padding), not gemm
    const head = conv2dGeometry([1, 64, 320, 320], [1, 64, 5, 5], { padding: 2 });
    expect(defaultConvVariant('forward', head)).toBe(has ? 'direct-16x4sr' : 'gemm');
    expect(variantApplies('forward', conv2dGeometry([1, 256, 20, 20], [64, 256, 3, 3], { padding: 1, stride: 2 }), 'winograd-4x8')).toBe(false);
  });

  it('shapes seen by conv ops are tuned by tunePendingConvs, once', async () => {
    tidy(() => conv2d(zeros([2, 3, 9, 9]), zeros([5, 3, 3, 3]), null, { padding: 1 }));
    expect(await tunePendingConvs()).toBe(1);
    expect(await tunePendingConvs()).toBe(0);
    const file = readFileSync(join(dir, 'conv-variants.json'), 'utf8');
    expect(file).toContain(shapeKey('forward', conv2dGeometry([2, 3, 9, 9], [5, 3, 3, 3], { padding: 1 })));
  });
});
