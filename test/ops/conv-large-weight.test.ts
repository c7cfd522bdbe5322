/**
 * A conv weight larger than one 128 MiB binding (VGG's fc6 is 411 MB): every forward variant splits
 * it into output-channel chunks. The packed variants pad each chunk to whole blocks of TN channels,
 * so their chunks must be whole blocks too (the paper's training step once failed here with
 * "binding 'wp' of 167772160 bytes exceeds maxStorageBufferBindingSize"). The input gradient sums
 * over the output channels: its direct and column-matrix variants add one partial dx per channel
 * range; the weight gradient comes in ranges of output channels. Spot checks
 * around the chunk boundary (forward) and sums spanning every range (input gradient) against f64.
 */
import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { hashValue } from '../reference/array.ts';
import { tensor } from '../../engine/index.ts';
import { keep } from '../../engine/scope.ts';
import { Tensor } from '../../engine/tensor.ts';
import { conv2dGeometry, launchConvBackwardData, launchConvBackwardWeight, launchConvForward } from '../../engine/ops/conv.ts';
import { maxBindingElements } from '../../engine/kernels/binding.ts';
import { variantApplies } from '../../engine/autotune.ts';

const eng = useEngine();

const [C, H, W, K, O] = [512, 10, 10, 7, 1400];
const KK = K * K;

describe('conv2d with a weight larger than one binding', () => {
  it('gives the f64 answer around the channel-chunk boundary for gemm, direct and packed direct', async () => {
    const e = eng.get();
    expect(O * C * KK * 4).toBeGreaterThan(e.limits.maxStorageBufferBindingSize);
    const xd = Float32Array.from({ length: C * H * W }, (_, i) => hashValue(i, 1));
    const wd = new Float32Array(O * C * KK);
    for (let i = 0; i < wd.length; i++) wd[i] = hashValue(i, 2) * 0.1;
    const x = keep(tensor(xd, [1, C, H, W]));
    const w = keep(tensor(wd, [O, C, K, K]));
    const g = conv2dGeometry([1, C, H, W], [O, C, K, K], { padding: 'same' });
    const chunk = Math.floor(maxBindingElements() / (C * KK)); // channels per chunk, unpadded
    const channels = [0, chunk - 9, chunk - 8, chunk - 1, chunk, chunk + 1, O - 1];
    const pixels: [number, number][] = [[0, 0], [4, 6], [9, 9]];
    const ref = (o: number, oy: number, ox: number): number => {
      let s = 0;
      for (let c = 0; c < C; c++) {
        for (let ky = 0; ky < K; ky++) {
          const iy = oy + ky - 3;
          if (iy < 0 || iy >= H) continue;
          for (let kx = 0; kx < K; kx++) {
            const ix = ox + kx - 3;
            if (ix < 0 || ix >= W) continue;
            s += xd[(c * H + iy) * W + ix]! * wd[((o * C + c) * K + ky) * K + kx]!;
          }
        }
      }
      return s;
    };
    const variants = ['gemm', 'direct-16x8', 'direct-16x8v', 'direct-8x8v', 'direct-8x8s'].filter((v) => variantApplies('forward', g, v));
    for (const variant of variants) {
      const y = Tensor.empty([1, O, H, W]);
      launchConvForward(g, x, w, null, y, variant);
      const yd = await y.data();
      y.dispose();
      for (const o of channels) {
        for (const [oy, ox] of pixels) {
          const want = ref(o, oy, ox);
          expect(Math.abs(yd[(o * H + oy) * W + ox]! - want), `${variant} o ${o} (${oy},${ox})`).toBeLessThan(1e-4 + 1e-4 * Math.abs(want));
        }
      }
    }
    x.dispose();
    w.dispose();
  }, 300_000);

  it('gives the f64 input gradient for gemm, direct, packed, subgroup direct and the column-matrix GEMM (partial sums over channel ranges)', async () => {
    const dyd = Float32Array.from({ length: O * H * W }, (_, i) => hashValue(i, 3));
    const wd = new Float32Array(O * C * KK);
    for (let i = 0; i < wd.length; i++) wd[i] = hashValue(i, 4) * 0.1;
    const dy = keep(tensor(dyd, [1, O, H, W]));
    const w = keep(tensor(wd, [O, C, K, K]));
    const g = conv2dGeometry([1, C, H, W], [O, C, K, K], { padding: 'same' });
    const ref = (c: number, iy: number, ix: number): number => {
      let s = 0;
      for (let o = 0; o < O; o++) {
        for (let ky = 0; ky < K; ky++) {
          const oy = iy + 3 - ky;
          if (oy < 0 || oy >= H) continue;
          for (let kx = 0; kx < K; kx++) {
            const ox = ix + 3 - kx;
            if (ox < 0 || ox >= W) continue;
            s += dyd[(o * H + oy) * W + ox]! * wd[((o * C + c) * K + ky) * K + kx]!;
          }
        }
      }
      return s;
    };
    const spots: [number, number, number][] = [[0, 0, 0], [17, 4, 6], [511, 9, 9], [256, 0, 9]];
    const variants = ['gemm', 'direct-16x8', 'direct-8x8v', 'direct-8x8s', 'cols-4x32v'].filter((v) => variantApplies('backward-data', g, v));
    expect(variants.length).toBeGreaterThanOrEqual(3);
    for (const variant of variants) {
      const dx = launchConvBackwardData(g, dy, w, variant);
      const dxd = await dx.data();
      dx.dispose();
      for (const [c, iy, ix] of spots) {
        const want = ref(c, iy, ix);
        expect(Math.abs(dxd[(c * H + iy) * W + ix]! - want), `${variant} c ${c} (${iy},${ix})`).toBeLessThan(1e-4 + 1e-4 * Math.abs(want));
      }
    }
    dy.dispose();
    w.dispose();
  }, 300_000);

  it('gives the f64 weight gradient in output-channel ranges (direct and the column-matrix GEMM, whole blocks of 32)', async () => {
    const Ow = 1408; // 44 blocks of 32: the column-matrix GEMM's ranges are whole blocks
    const e = eng.get();
    expect(Ow * C * KK * 4).toBeGreaterThan(e.limits.maxStorageBufferBindingSize);
    const xd = Float32Array.from({ length: C * H * W }, (_, i) => hashValue(i, 5));
    const dyd = Float32Array.from({ length: Ow * H * W }, (_, i) => hashValue(i, 6));
    const x = keep(tensor(xd, [1, C, H, W]));
    const dy = keep(tensor(dyd, [1, Ow, H, W]));
    const g = conv2dGeometry([1, C, H, W], [Ow, C, K, K], { padding: 'same' });
    const ref = (o: number, c: number, ky: number, kx: number): number => {
      let s = 0;
      for (let oy = 0; oy < H; oy++) {
        const iy = oy + ky - 3;
        if (iy < 0 || iy >= H) continue;
        for (let ox = 0; ox < W; ox++) {
          const ix = ox + kx - 3;
          if (ix >= 0 && ix < W) s += dyd[(o * H + oy) * W + ox]! * xd[(c * H + iy) * W + ix]!;
        }
      }
      return s;
    };
    const chunk = Math.floor(Math.floor(maxBindingElements() / (C * KK)) / 32) * 32;
    const spots: [number, number, number, number][] = [[0, 0, 0, 0], [chunk - 1, 511, 6, 6], [chunk, 3, 3, 3], [Ow - 1, 100, 0, 6]];
    const variants = ['direct-4x8k1', 'direct-4x16sk1', 'cols-8x32v'].filter((v) => variantApplies('backward-weights', g, v));
    expect(variants).toContain('direct-4x8k1');
    for (const variant of variants) {
      const dw = launchConvBackwardWeight(g, x, dy, variant);
      const dwd = await dw.data();
      dw.dispose();
      for (const [o, c, ky, kx] of spots) {
        const want = ref(o, c, ky, kx);
        expect(Math.abs(dwd[((o * C + c) * K + ky) * K + kx]! - want), `${variant} o ${o} c ${c} (${ky},${kx})`).toBeLessThan(1e-4 + 1e-4 * Math.abs(want));
      }
    }
    x.dispose();
    dy.dispose();
  }, 300_000);
});
