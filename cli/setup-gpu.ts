/** `matting-engine setup-gpu`: runs scripts/setup-gpu.sh (installs Mesa's software driver where needed). */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export async function setupGpuCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(
      'matting-engine setup-gpu\n\nOn a machine where no WebGPU adapter works, installs Mesa\'s software driver: on Debian/Ubuntu as root,\n' +
        'lavapipe (Vulkan) from bookworm-backports on Debian 12 (the stock Mesa 22.3 is too old for Dawn), else the OpenGL ES route.\n' +
        "Reuses the machine's own apt sources. Does nothing when an adapter already works. Elsewhere prints what to install.\n",
    );
    return 0;
  }
  const script = fileURLToPath(new URL('../scripts/setup-gpu.sh', import.meta.url));
  const r = spawnSync('bash', [script], { stdio: 'inherit' });
  return r.status ?? 1;
}
