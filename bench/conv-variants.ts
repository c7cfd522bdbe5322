/**
 * A/B of the conv kernel variants at given shapes, interleaved in one process (ratios hold on a
 * loaded machine). Every variant's output is first checked against the 'gemm' variant.
 *   npx tsx bench/conv-variants.ts [--pass forward|backward-data|backward-weights] [--variants gemm,direct-4x8]
 *     [--shapes 64x64x64:64,128x32x32:128] [--k 3] [--stride 1] [--batch 1]
 */
import '../node/register-dawn.ts';
import { initEngine, shutdownEngine } from '../engine/engine.ts';
import { tensor } from '../engine/creation.ts';
import { keep } from '../engine/scope.ts';
import { Tensor } from '../engine/tensor.ts';
import { conv2dGeometry, launchConvBackwardData, launchConvBackwardWeight, launchConvForward } from '../engine/ops/conv.ts';
import type { ConvPass } from '../engine/autotune.ts';
import { convFlops, normalData, relativeError, timeInterleaved } from './harness.ts';
import { oursRunner } from './rows.ts';
import { parseScriptArgs } from '../cli/args.ts';

const o = parseScriptArgs(process.argv.slice(2), {
  pass: { type: 'string', default: 'forward', choices: ['forward', 'backward-data', 'backward-weights'], help: 'the conv pass' },
  variants: { type: 'string', default: 'gemm,direct-4x8', help: 'variants to compare, the first the reference' },
  shapes: { type: 'string', default: '64x64x64:64,128x32x32:128,256x16x16:256,512x8x8:512,512x4x4:512,4x64x64:64', help: 'CxHxW:O, comma-separated' },
  k: { type: 'number', default: 3, integer: true, min: 1, help: 'kernel side' },
  stride: { type: 'number', default: 1, integer: true, min: 1, help: 'stride' },
  batch: { type: 'number', default: 1, integer: true, min: 1, help: 'batch' },
}, 'bench/conv-variants');
const pass = o.pass as ConvPass;
const variants = (o.variants as string).split(',');
const shapes = o.shapes as string;
const K = o.k as number;
const S = o.stride as number;
const N = o.batch as number;

await initEngine();
for (const s of shapes.split(',')) {
  const [cs, os] = s.split(':');
  const [C, H, W] = cs!.split('x').map(Number) as [number, number, number];
  const O = Number(os);
  const g = conv2dGeometry([N, C, H, W], [O, C, K, K], { stride: S, padding: 'same' });
  const x = keep(tensor(normalData(N * C * H * W, 1), [N, C, H, W]));
  const w = keep(tensor(normalData(O * C * K * K, 2, 0.1), [O, C, K, K]));
  const dy = keep(tensor(normalData(N * O * g.OH * g.OW, 3), [N, O, g.OH, g.OW]));
  const run = (v: string): Tensor => {
    if (pass === 'forward') {
      const y = Tensor.empty([N, O, g.OH, g.OW]);
      launchConvForward(g, x, w, null, y, v);
      return y;
    }
    if (pass === 'backward-data') return launchConvBackwardData(g, dy, w, v);
    return launchConvBackwardWeight(g, x, dy, v);
  };
  const outs: Float32Array[] = [];
  for (const v of variants) {
    const t = run(v);
    outs.push(await t.data());
    t.dispose();
  }
  const errs = outs.map((o) => relativeError(o, outs[0]!));
  const timings = await timeInterleaved(variants.map((v) => oursRunner(() => run(v))), { warmup: 1, minReps: 3, maxReps: 9, budgetMs: 3000 });
  const flops = convFlops(g);
  const base = timings[0]!.medianMs;
  console.log(
    `${pass} ${s} k${K}/${S}: ` +
      variants.map((v, i) => `${v} ${timings[i]!.medianMs.toFixed(2)} ms ${(flops / timings[i]!.medianMs / 1e6).toFixed(1)} GF/s x${(base / timings[i]!.medianMs).toFixed(2)} err ${errs[i]!.toExponential(1)}`).join(' | '),
  );
  x.dispose();
  w.dispose();
  dy.dispose();
}
shutdownEngine();
