/** `matting-engine info`: the adapter, its features and limits, and a self-check kernel. */
import { parseArgs, helpText } from './args.ts';
import { DEVICE_OPTIONS } from './common-options.ts';
import { initEngine, shutdownEngine, tensor } from '../engine/index.ts';
import { mapElementwise } from '../engine/kernels/elementwise.ts';

const SPEC = {
  ...DEVICE_OPTIONS,
  json: { type: 'boolean', help: 'print JSON instead of text' },
  brief: { type: 'boolean', help: 'one line: the adapter and the self-check' },
  probe: { type: 'boolean', help: 'print nothing; exit 0 when an adapter works (for scripts)' },
} as const;

export async function infoCommand(argv: string[]): Promise<number> {
  const o = parseArgs(argv, SPEC, 'info');
  if (o.help) {
    process.stdout.write(helpText('info', 'Shows the WebGPU adapter the engine uses, its limits, and runs a self-check kernel.', SPEC));
    return 0;
  }
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
