/** `matting-engine info`: the adapter, its features and limits, and a self-check kernel. */
import { parseArgs, helpText, wantsHelp } from './args.ts';
import { DEVICE_OPTIONS } from './common-options.ts';
import { initEngine, shutdownEngine, tensor } from '../engine/index.ts';
import { mapElementwise } from '../engine/kernels/elementwise.ts';
import { existsSync } from 'node:fs';
import { UsageError } from './args.ts';
import { MattingModel } from '../matting/graph/model.ts';
import { makeConfig, type ModelConfig } from '../matting/graph/config.ts';
import { shapesOnly } from '../engine/tensor.ts';
import { checkModelFile } from './model-choice.ts';

/** One row of the parameter table: name, shape, parameter or buffer. */
interface Row {
  name: string;
  shape: readonly number[];
  buffer: boolean;
}

/**
 * Parameter table of a model config or a checkpoint, without the device: a checkpoint's comes from
 * its header; a config's from building the model in shapes-only mode (no storage, no values), so
 * even the full-width models take well under a second.
 */
async function modelInfo(which: string, o: { decoder: string; refine: string; width: number; layers: boolean; json: boolean }): Promise<number> {
  let config: ModelConfig;
  let rows: Row[];
  if (existsSync(which)) {
    const ck = await checkModelFile('info', which);
    config = ck.config;
    rows = [...ck.tensors].filter(([n]) => !n.startsWith('optimizer.')).map(([name, t]) => ({ name, shape: t.shape, buffer: /running_(mean|var)$|num_batches_tracked$/.test(name) }));
  } else {
    try {
      config = makeConfig({ encoder: which as ModelConfig['encoder'], decoder: o.decoder as ModelConfig['decoder'], refine: o.refine as ModelConfig['refine'], width: o.width });
    } catch (e) {
      throw new UsageError(`info: ${(e as Error).message}`);
    }
    const model = shapesOnly(() => new MattingModel(config));
    rows = [...model.namedParameters().map(([name, t]) => ({ name, shape: t.shape, buffer: false })), ...model.namedBuffers().map(([name, t]) => ({ name, shape: t.shape, buffer: true }))];
  }
  const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  const params = rows.filter((r) => !r.buffer);
  const buffers = rows.filter((r) => r.buffer);
  const parts = new Map<string, number>();
  for (const r of params) {
    const part = r.name.split('.').slice(0, r.name.startsWith('encoder') ? 2 : 1).join('.');
    parts.set(part, (parts.get(part) ?? 0) + size(r.shape));
  }
  const total = params.reduce((n, r) => n + size(r.shape), 0);
  if (o.json) {
    process.stdout.write(JSON.stringify({ config, total, parts: Object.fromEntries(parts), tensors: rows }, null, 2) + '\n');
    return 0;
  }
  const lines = [`model ${config.encoder} / ${config.decoder} / refine ${config.refine}, width ${config.width}: ${total.toLocaleString('en-US')} parameters`];
  for (const [p, n] of parts) lines.push(`  ${p.padEnd(18)} ${n.toLocaleString('en-US').padStart(13)}`);
  if (buffers.length) lines.push(`  (+ ${buffers.length} buffers: batch-norm running statistics)`);
  if (o.layers) {
    lines.push('', 'name'.padEnd(48) + 'shape (PyTorch layout)');
    for (const r of [...params, ...buffers]) lines.push(`${r.name.padEnd(48)}[${r.shape.join(', ')}]`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

const SPEC = {
  ...DEVICE_OPTIONS,
  json: { type: 'boolean', help: 'print JSON instead of text' },
  brief: { type: 'boolean', help: 'one line: the adapter and the self-check' },
  probe: { type: 'boolean', help: 'print nothing; exit 0 when an adapter works (for scripts)' },
  model: { type: 'string', arg: '<encoder|file>', help: 'print the parameter table of a model: an encoder (vgg16-dual, vgg16-4ch, resnet50-dual) or a checkpoint file (no GPU needed)' },
  decoder: { type: 'string', default: 'deconv', arg: '<name>', choices: ['deconv', 'unpool'], help: 'with --model: decoder' },
  refine: { type: 'string', default: 'sigmoid', arg: '<name>', choices: ['sigmoid', 'residual', 'none'], help: 'with --model: refinement' },
  width: { type: 'number', default: 1, arg: '<x>', min: 0, minExclusive: true, help: 'with --model: width multiplier' },
  layers: { type: 'boolean', help: 'with --model: list every tensor (name, shape)' },
} as const;

export async function infoCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(helpText('info', 'Shows the WebGPU adapter the engine uses, its limits, and runs a self-check kernel.', SPEC));
    return 0;
  }
  const o = parseArgs(argv, SPEC, 'info');
  if (o.model) return await modelInfo(o.model, { decoder: o.decoder as string, refine: o.refine as string, width: o.width as number, layers: !!o.layers, json: !!o.json });
  const e = await initEngine({ backend: o.backend, adapter: o.adapter });
  try {
    const x = tensor(Float32Array.from([1, 2, 3, 4, 5, 6, 7]), [7]);
    const y = mapElementwise('selfCheck', 'a * s0 + s1', [x], { scalars: [3, -1] });
    const got = Array.from(await y.data());
    const want = [2, 5, 8, 11, 14, 17, 20];
    const ok = got.every((v, i) => v === want[i]);
    const a = e.acquired;
    const report = {
      adapter: a.info,
      backend: a.backend,
      featureLevel: a.featureLevel,
      features: a.features,
      limits: a.limits,
      selfCheck: ok ? 'ok' : `FAILED: got ${got.join(',')}`,
    };
    if (o.probe) return ok ? 0 : 1;
    if (o.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else if (o.brief) process.stdout.write(`${a.info.description || a.info.device} (${a.backend}, ${a.featureLevel}): self-check ${report.selfCheck}\n`);
    else {
      const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
      const lines = [
        `adapter        ${a.info.description || a.info.device || '(no description)'}`,
        `vendor         ${a.info.vendor || '-'}    architecture ${a.info.architecture || '-'}    device ${a.info.device || '-'}`,
        `backend        ${a.backend}    feature level ${a.featureLevel}`,
        `features       shader-f16 ${a.features.shaderF16 ? 'yes' : 'no'}, subgroups ${a.features.subgroups ? 'yes' : 'no'}, timestamp-query ${a.features.timestampQuery ? 'yes' : 'no'}`,
        `limits         storage binding ${mib(a.limits.maxStorageBufferBindingSize)}, buffer ${mib(a.limits.maxBufferSize)}, ` +
          `${a.limits.maxComputeInvocationsPerWorkgroup} invocations/workgroup, ${a.limits.maxStorageBuffersPerShaderStage} storage buffers/stage, ` +
          `${a.limits.maxComputeWorkgroupStorageSize} B workgroup memory, ${a.limits.maxComputeWorkgroupsPerDimension} workgroups/dim`,
        `self-check     ${report.selfCheck}`,
      ];
      process.stdout.write(lines.join('\n') + '\n');
    }
    return ok ? 0 : 1;
  } finally {
    shutdownEngine();
  }
}
