/**
 * Throughput of the CPU data pipeline alone (decode + augment + batch), no GPU:
 *   npx tsx bench/data-pipeline.ts [--workers 0,2] [--seconds 8] [--warmup 3] [--size 320] [--batch 8] [--fg-size 640]
 * Generates a synthetic Composition-1k style training set (PNG foregrounds of fg-size px, so the
 * 1x/1.5x/2x crops all fit) in a temp folder, then pulls batches from a DataLoader for each worker
 * count, without and with the decoded-image cache. Worker start-up and a --warmup seconds warm-up
 * (caches filling) are excluded. Prints one markdown line per configuration, then one JSON line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataLoader } from '../matting/data/loader.ts';
import { generateSyntheticDataset } from '../matting/data/synthetic-files.ts';
import { openTrainingSet } from '../matting/data/training-set.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}

const workerCounts = arg('workers', '0,2').split(',').map((s) => Number.parseInt(s, 10));
const seconds = Number.parseFloat(arg('seconds', '8'));
const warmup = Number.parseFloat(arg('warmup', '3'));
const size = Number.parseInt(arg('size', '320'), 10);
const batchSize = Number.parseInt(arg('batch', '8'), 10);
const fgSize = Number.parseInt(arg('fg-size', String(2 * size)), 10);
const items = 16;

interface Result {
  source: string;
  workers: number;
  size: number;
  batchSize: number;
  batches: number;
  seconds: number;
  samplesPerSecond: number;
}

async function measure(loader: DataLoader, source: string, workers: number): Promise<Result> {
  // Start-up (worker boot) and warm-up (first decodes filling each process's cache) excluded.
  await loader.next();
  const w0 = performance.now();
  while (performance.now() - w0 < warmup * 1000) await loader.next();
  let batches = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    await loader.next();
    batches++;
  }
  const dt = (performance.now() - t0) / 1000;
  await loader.close();
  return { source, workers, size, batchSize, batches, seconds: dt, samplesPerSecond: (batches * batchSize) / dt };
}

const dir = mkdtempSync(join(tmpdir(), 'matting-bench-data-'));
try {
  const t = performance.now();
  const info = generateSyntheticDataset(dir, { train: items, eval: 0, size: fgSize, seed: 1, backgrounds: items });
  const genSeconds = (performance.now() - t) / 1000;
  const results: Result[] = [];
  // cacheMB 0: every sample decodes its PNGs (large datasets); 256: the default, whole set cached
  // after the first pass (small datasets, steady state).
  for (const cacheMB of [0, 256]) {
    const set = openTrainingSet(info.trainDir, { cacheMB });
    for (const workers of workerCounts) {
      const source = `folder, ${items} PNG fg ${fgSize}px, decoded-image cache ${cacheMB} MB`;
      results.push(await measure(new DataLoader(set, { batchSize, size, seed: 1, workers }), source, workers));
    }
  }
  results.push(await measure(new DataLoader({ kind: 'synthetic', count: 64 }, { batchSize, size, seed: 1, workers: 0 }), 'synthetic in-memory', 0));
  for (const r of results) {
    console.log(`| data pipeline | ${r.source} | ${r.size}x${r.size} | workers ${r.workers} | batch ${r.batchSize} | **${r.samplesPerSecond.toFixed(1)} samples/s** | ${r.batches} batches in ${r.seconds.toFixed(1)} s |`);
  }
  console.log(JSON.stringify({ bench: 'data-pipeline', cpus: cpus().length, node: process.version, datasetGenerationSeconds: genSeconds, results }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
