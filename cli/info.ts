/** `matting-engine info`: the adapter, its features and limits, and a self-check kernel. */
import { parseArgs, helpText } from './args.ts';
import { DEVICE_OPTIONS } from './common-options.ts';
import { initEngine, shutdownEngine, tensor } from '../engine/index.ts';
import { mapElementwise } from '../engine/kernels/elementwise.ts';
import { existsSync } from 'node:fs';
import { UsageError } from './args.ts';
import { MattingModel } from '../matting/graph/model.ts';
import { makeConfig, type ModelConfig } from '../matting/graph/config.ts';
import { loadCheckpoint, disposeCheckpoint } from '../matting/checkpoint.ts';

/** Parameter counts of a model config (built on the device: full width takes a few seconds). */
async function modelInfo(which: string, o: { decoder: string; refine: string; width: number; layers: boolean; json: boolean }): Promise<number> {
  let config: ModelConfig;
  if (existsSync(which)) {
    const ck = await loadCheckpoint(which);
    config = ck.config;
    disposeCheckpoint(ck);
  } else {
    try {
      config = makeConfig({ encoder: which as ModelConfig['encoder'], decoder: o.decoder as ModelConfig['decoder'], refine: o.refine as ModelConfig['refine'], width: o.width });
    } catch (e) {
      throw new UsageError(`info: ${(e as Error).message}`);
    }
  }
  const model = new MattingModel(config);
  try {
    const params = model.namedParameters();
    const buffers = model.namedBuffers();
    const parts = new Map<string, number>();
    for (const [name, t] of params) {
      const part = name.split('.').slice(0, name.startsWith('encoder') ? 2 : 1).join('.');
      parts.set(part, (parts.get(part) ?? 0) + t.size);
    }
    const total = model.parameterCount();
    if (o.json) {
      process.stdout.write(JSON.stringify({ config, total, parts: Object.fromEntries(parts), tensors: [...params, ...buffers].map(([n, t]) => ({ name: n, shape: t.shape, buffer: buffers.some(([b]) => b === n) })) }, null, 2) + '\n');
      return 0;
    }
    const lines = [`model ${config.encoder} / ${config.decoder} / refine ${config.refine}, width ${config.width}: ${total.toLocaleString('en-US')} parameters`];
    for (const [p, n] of parts) lines.push(`  ${p.padEnd(18)} ${n.toLocaleString('en-US').padStart(13)}`);
    if (buffers.length) lines.push(`  (+ ${buffers.length} buffers: batch-norm running statistics)`);
    if (o.layers) {
      lines.push('', 'name'.padEnd(48) + 'shape (PyTorch layout)');
      for (const [n, t] of [...params, ...buffers]) lines.push(`${n.padEnd(48)}[${t.shape.join(', ')}]`);
    }
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  } finally {
    model.dispose();
  }
}

const SPEC = {
  ...DEVICE_OPTIONS,
  json: { type: 'boolean', help: 'print JSON instead of text' },
  brief: { type: 'boolean', help: 'one line: the adapter and the self-check' },
  probe: { type: 'boolean', help: 'print nothing; exit 0 when an adapter works (for scripts)' },
  model: { type: 'string', help: 'print the parameter table of a model: an encoder (vgg16-dual, vgg16-4ch, resnet50-dual) or a checkpoint file' },
  decoder: { type: 'string', default: 'deconv', help: 'with --model: decoder (deconv, unpool)' },
  refine: { type: 'string', default: 'sigmoid', help: 'with --model: refinement (sigmoid, residual, none)' },
  width: { type: 'number', default: 1, help: 'with --model: width multiplier' },
  layers: { type: 'boolean', help: 'with --model: list every tensor (name, shape)' },
} as const;

export async function infoCommand(argv: string[]): Promise<number> {
  const o = parseArgs(argv, SPEC, 'info');
  if (o.help) {
    process.stdout.write(helpText('info', 'Shows the WebGPU adapter the engine uses, its limits, and runs a self-check kernel.', SPEC));
    return 0;
  }
  const e = await initEngine({ backend: o.backend, adapter: o.adapter });
  try {
    if (o.model) return await modelInfo(o.model, { decoder: o.decoder as string, refine: o.refine as string, width: o.width as number, layers: !!o.layers, json: !!o.json });
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
