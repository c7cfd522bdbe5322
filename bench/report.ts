/** The markdown table and the JSON results file. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Timing } from './harness.ts';
import type { BenchRow } from './rows.ts';

export interface BenchHeader {
  date: string;
  /** The command's arguments. */
  argv: string[];
  mode: 'quick' | 'full';
  adapter: { description: string; vendor: string; architecture: string; device: string };
  backend: string;
  featureLevel: string;
  timestampQuery: boolean;
  engineVersion: string;
  tfjs: { core: string; webgpu: string } | null;
  /** What tfjs's own adapter reported (should be the engine's). */
  tfjsAdapter: { vendor: string; architecture: string; description: string } | null;
  torch: string;
  node: string;
  cpus: number;
  timing: string;
  agreementTolerance: number;
}

export function adapterSlug(description: string, backend: string): string {
  const s = `${description} ${backend}`
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return (s || 'unknown-adapter').slice(0, 80).replace(/-+$/, '');
}

const fmtMs = (t: Timing | null): string => {
  if (!t) return '-';
  const p = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3));
  return `${p(t.medianMs)} [${p(t.minMs)}-${p(t.maxMs)}]`;
};

function throughput(r: BenchRow, t: Timing | null): string {
  if (!t) return '-';
  if (r.flops) return `${(r.flops / (t.medianMs * 1e6)).toFixed(2)} GFLOP/s`;
  if (r.bytes) return `${(r.bytes / (t.medianMs * 1e6)).toFixed(2)} GB/s`;
  return '-';
}

function torchCell(r: BenchRow): string {
  if (!r.torch) return 'n/a';
  return `${fmtMs(r.torch)}${r.torchRatio ? ` (ours ${r.torchRatio.toFixed(2)}x)` : ''}`;
}

function ratioCell(r: BenchRow): string {
  if (r.ratio === null) return 'n/a';
  const v = r.ratio.toFixed(2);
  return r.ratio < 1 ? `**${v}**` : v;
}

export function markdown(h: BenchHeader, rows: BenchRow[]): string {
  const lines: string[] = [];
  lines.push(`# matting-engine benchmarks (${h.mode})`);
  lines.push('');
  lines.push(`- adapter: ${h.adapter.description || h.adapter.device} (vendor ${h.adapter.vendor || '-'}, architecture ${h.adapter.architecture || '-'}), backend ${h.backend}, feature level ${h.featureLevel}`);
  lines.push(`- matting-engine ${h.engineVersion}; tfjs-core ${h.tfjs?.core ?? 'n/a'}, tfjs-backend-webgpu ${h.tfjs?.webgpu ?? 'n/a'}${h.tfjsAdapter ? ` (tfjs's adapter: ${h.tfjsAdapter.description || h.tfjsAdapter.vendor})` : ''}; PyTorch CPU: ${h.torch}`);
  lines.push(`- ${h.date}, Node ${h.node}, ${h.cpus} CPU cores; \`matting-engine bench ${h.argv.join(' ')}\``);
  lines.push(`- timing: ${h.timing}`);
  lines.push(`- ms: median [min-max]; ratio = tfjs median / ours median (ours/tfjs speed, > 1: ours faster; bold: slower than tfjs); agreement: max|ours - tfjs| / max|tfjs| (must be <= ${h.agreementTolerance} before a row is timed); PyTorch CPU (conv rows, where torch imports): its median [min-max] and ours' speed relative to it, after the same agreement check`);
  lines.push('');
  const kernelOrStep = rows.filter((r) => r.suite !== 'data');
  if (kernelOrStep.length) {
    lines.push('| suite | layer | pass | shape | ours ms | tfjs ms | ours | tfjs | ours/tfjs speed | agreement | PyTorch CPU ms | note |');
    lines.push('| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
    for (const r of kernelOrStep) {
      lines.push(
        `| ${r.suite} | ${r.layer} | ${r.pass} | ${r.shape} | ${fmtMs(r.ours)} | ${fmtMs(r.tfjs)} | ${throughput(r, r.ours)} | ${throughput(r, r.tfjs)} | ${ratioCell(r)} | ` +
          `${r.agreement ? r.agreement.relErr.toExponential(1) + (r.agreement.ok ? '' : ' FAIL') : '-'} | ${torchCell(r)} | ${r.note} |`,
      );
    }
    lines.push('');
  }
  const data = rows.filter((r) => r.suite === 'data');
  if (data.length) {
    lines.push('| suite | pipeline | shape | samples/s | peer | note |');
    lines.push('| --- | --- | --- | ---: | --- | --- |');
    for (const r of data) lines.push(`| data | ${r.layer} | ${r.shape} | ${r.samplesPerSec?.toFixed(1) ?? '-'} | none | ${r.note} |`);
    lines.push('');
  }
  const slower = kernelOrStep.filter((r) => r.ratio !== null && r.ratio < 1);
  const compared = kernelOrStep.filter((r) => r.ratio !== null);
  if (compared.length) {
    const geo = Math.exp(compared.reduce((s, r) => s + Math.log(r.ratio!), 0) / compared.length);
    lines.push(`${compared.length} rows compared with tfjs; geometric mean of ours/tfjs speed ${geo.toFixed(2)}; ${slower.length} rows slower than tfjs.`);
  }
  return lines.join('\n') + '\n';
}

export function writeJson(path: string, h: BenchHeader, rows: BenchRow[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const out = {
    header: h,
    rows: rows.map((r) => ({
      ...r,
      oursGflops: r.flops && r.ours ? r.flops / (r.ours.medianMs * 1e6) : null,
      tfjsGflops: r.flops && r.tfjs ? r.flops / (r.tfjs.medianMs * 1e6) : null,
    })),
  };
  writeFileSync(path, JSON.stringify(out, null, 2) + '\n');
}
