/** Verb dispatch and the one place where errors become a single clear line and an exit code. */
// Dawn (Node's WebGPU) as initEngine's device source, before any command starts the engine.
import '../node/register-dawn.ts';
import { readFileSync } from 'node:fs';
import { UsageError, didYouMean } from './args.ts';
import { BadBackendError, NoAdapterError } from '../engine/device.ts';

const VERBS: Record<string, { summary: string; run: () => Promise<(argv: string[]) => Promise<number>> }> = {
  train: { summary: 'train the matting network (default: the tiny preset on embedded synthetic data)', run: async () => (await import('./train.ts')).trainCommand },
  predict: { summary: 'predict alpha mattes for images and trimaps with a checkpoint', run: async () => (await import('./predict.ts')).predictCommand },
  eval: { summary: 'score a checkpoint or predicted alphas with SAD, MSE, Gradient and Connectivity', run: async () => (await import('./eval.ts')).evalCommand },
  'build-data': { summary: 'build a photographic training folder from real mattes (foreground colours estimated) and photographs', run: async () => (await import('./build-data.ts')).buildDataCommand },
  export: { summary: 'write a checkpoint without optimiser state (for shipping or inference)', run: async () => (await import('./export.ts')).exportCommand },
  bench: { summary: 'benchmark kernels, a training step and the data pipeline against tfjs-backend-webgpu on the same adapter', run: async () => (await import('./bench.ts')).benchCommand },
  trimap: { summary: 'make trimaps from binary masks or rough alphas (an unknown band around the edge)', run: async () => (await import('./trimap.ts')).trimapCommand },
  serve: { summary: 'serve the web app: matte images in the browser on its WebGPU device (and fine-tune there)', run: async () => (await import('./serve.ts')).serveCommand },
  info: { summary: 'show the WebGPU adapter, its limits, and run a self-check', run: async () => (await import('./info.ts')).infoCommand },
  'setup-gpu': { summary: "install Mesa's software WebGPU driver when no adapter works (Debian/Ubuntu, root)", run: async () => (await import('./setup-gpu.ts')).setupGpuCommand },
};

function usage(): string {
  const rows = Object.entries(VERBS).map(([k, v]) => `  ${k.padEnd(12)} ${v.summary}`);
  return `matting-engine: Deep Image Matting on WebGPU\n\nUsage: matting-engine <command> [options]\n\nCommands:\n${rows.join('\n')}\n\nRun 'matting-engine help <command>' (or '<command> --help') for a command's options; --version prints the version.\n`;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === '--version' || verb === '-V' || verb === 'version') {
    process.stdout.write(`matting-engine ${version()}\n`);
    return 0;
  }
  if (verb === 'help' && rest[0]) return main([rest[0], '--help']);
  if (!verb || verb === '--help' || verb === '-h' || verb === 'help') {
    process.stdout.write(usage());
    return 0;
  }
  const entry = VERBS[verb];
  if (!entry) {
    const s = didYouMean(verb, Object.keys(VERBS));
    throw new UsageError(`unknown command '${verb}'${s ? `; did you mean '${s}'?` : ''} (commands: ${Object.keys(VERBS).join(', ')})`);
  }
  return (await entry.run())(rest);
}

const argv = process.argv.slice(2);
const debug = argv.includes('--debug');
try {
  process.exitCode = await main(argv);
} catch (e) {
  const err = e as Error;
  if (debug) console.error(err);
  else console.error(`matting-engine: ${err.message ?? String(err)}`);
  // The documented rule (README): 2 the command line, 1 a file or the run, 3 no adapter (130: interrupted, from train).
  process.exitCode = e instanceof UsageError || e instanceof BadBackendError ? 2 : e instanceof NoAdapterError ? 3 : 1;
}
// A live Dawn instance can keep the event loop alive: end explicitly.
process.exit(process.exitCode ?? 0);
