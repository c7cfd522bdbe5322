/**
 * Timing of the classical methods (matting/classical) on an alphamatting.com-style folder:
 * closed-form alpha (wall and process CPU seconds, the CPU setup's and GPU solve's share, CG
 * iterations per level, final relative residual, SAD against the ground truth) and multi-level foreground estimation, per image.
 * CPU seconds count every thread of the process (llvmpipe's too), so on a shared machine they show
 * the work apart from the wait for cores. Standalone:
 *   npx tsx bench/classical.ts --data DIR [--trimap-folder trimap2] [--limit N] [--names GT01,GT04]
 */
import { parseScriptArgs } from '../cli/args.ts';
import '../node/register-dawn.ts';
import { initEngine, shutdownEngine } from '../engine/engine.ts';
import { openEvalSet } from '../matting/data/eval-set.ts';
import { scoreImage } from '../matting/evaluate.ts';
import { closedFormPlanar } from '../matting/classical/planar.ts';
import { estimateForeground } from '../matting/classical/foreground.ts';

const o = parseScriptArgs(process.argv.slice(2), {
  data: { type: 'string', help: 'evaluation folder with image/, trimap/, alpha/ (required)' },
  trimapFolder: { type: 'string', default: 'trimap', help: 'trimap sub-folder' },
  limit: { type: 'number', default: 1000, help: 'first N images' },
  names: { type: 'string', help: 'comma-separated image stems' },
  preconditioner: { type: 'string', default: 'aggregation', help: 'aggregation (smoothed aggregation), multigrid (geometric) or jacobi' },
  sweeps: { type: 'number', default: 1, help: 'multigrid: Gauss-Seidel sweeps before and after each coarse correction' },
  coarsest: { type: 'number', help: 'multigrid: unknowns of the coarsest level at most (default 600 with aggregation, 1024 geometric)' },
}, 'bench/classical');

if (!o.data) throw new Error('bench/classical: --data DIR is required');
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
const e = await initEngine();
const set = openEvalSet(o.data!, { trimapFolder: o.trimapFolder as string });
const wanted = o.names ? new Set(o.names.split(',')) : null;
console.log(`# classical matting timing, ${set.trimapFolder}, adapter ${e.acquired.info.description}`);
console.log('| image | size | unknowns | CG iterations (coarse..fine) | rel. residual | SAD | MSE | closed-form wall s | CPU s | of which setup s | solve s | foreground wall s | CPU s |');
console.log('| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
let n = 0;
for (let i = 0; i < set.items.length && n < (o.limit as number); i++) {
  if (wanted && !wanted.has(set.items[i]!.name.replace(/\.\w+$/, ''))) continue;
  n++;
  const s = set.load(i);
  const dims = { width: s.width, height: s.height };
  let w0 = performance.now(), c0 = cpu();
  const r = await closedFormPlanar({ ...dims, data: s.image }, { ...dims, data: s.trimap }, {
    preconditioner: o.preconditioner as 'aggregation' | 'multigrid' | 'jacobi', sweeps: o.sweeps as number, coarsestUnknowns: o.coarsest as number | undefined,
  });
  const cfWall = (performance.now() - w0) / 1000, cfCpu = cpu() - c0;
  const rgb = Float32Array.from(s.image, (v) => v / 255);
  w0 = performance.now(); c0 = cpu();
  await estimateForeground({ ...dims, data: rgb, layout: 'chw' }, r.alpha);
  const fgWall = (performance.now() - w0) / 1000, fgCpu = cpu() - c0;
  const its = [...r.coarse.map((c) => c.iterations), r.iterations].join(' / ');
  const sc = scoreImage(s.name, r.alpha, s);
  console.log(`| ${s.name} | ${s.width}x${s.height} | ${r.unknowns} | ${its} | ${r.relResidual.toExponential(1)} | ${sc.sad.toFixed(2)} | ${sc.mse.toFixed(4)} | ${cfWall.toFixed(1)} | ${cfCpu.toFixed(1)} | ${r.seconds.setup.toFixed(1)} | ${r.seconds.solve.toFixed(1)} | ${fgWall.toFixed(2)} | ${fgCpu.toFixed(2)} |`);
}
shutdownEngine();
