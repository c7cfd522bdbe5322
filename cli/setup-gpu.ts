/** `matting-engine setup-gpu`: runs scripts/setup-gpu.sh (installs Mesa's software driver where needed). */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs, helpText, wantsHelp, type OptionSpec } from './args.ts';

const SPEC = {
  verbose: { type: 'boolean', help: "show Dawn's and Mesa's own messages" },
  debug: { type: 'boolean', help: 'print stack traces on errors' },
  help: { type: 'boolean', help: 'show this help', alias: 'h' },
} as const satisfies OptionSpec;

export async function setupGpuCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(
      helpText(
        'setup-gpu',
        "On a machine where no WebGPU adapter works, installs Mesa's software driver: on Debian/Ubuntu as root,\n" +
          'lavapipe (Vulkan) from bookworm-backports on Debian 12 (the stock Mesa 22.3 is too old for Dawn), else the OpenGL ES route.\n' +
          "Reuses the machine's own apt sources. Does nothing when an adapter already works. Elsewhere prints what to install.",
        SPEC,
      ),
    );
    return 0;
  }
  parseArgs(argv, SPEC, 'setup-gpu');
  const script = fileURLToPath(new URL('../scripts/setup-gpu.sh', import.meta.url));
  const r = spawnSync('bash', [script], { stdio: 'inherit' });
  return r.status ?? 1;
}
