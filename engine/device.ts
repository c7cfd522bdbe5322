/**
 * Node only: WebGPU device acquisition through Dawn (the `webgpu` package) that works on every
 * machine WebGPU reaches. The core never imports this file; the package's Node entry registers it
 * as initEngine's default device source (node/register-dawn.ts).
 *
 * Order tried (unless forced): the platform's default backend at the core feature level (a hardware
 * adapter, or Mesa's lavapipe on Linux), then OpenGL ES through EGL surfaceless at the compatibility
 * feature level (Mesa llvmpipe). The backend and the adapter can be forced with options or with the
 * environment variables MATTING_BACKEND and MATTING_ADAPTER.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import './webgpu-globals.ts';
import { create } from 'webgpu';
import { describeDevice, requestEngineDevice, type AcquiredDevice } from './device-info.ts';
import { withNativeStderrSilenced } from './native-stderr.ts';

export type { AcquiredDevice, EngineFeatures, EngineLimits } from './device-info.ts';

export const BACKENDS = ['auto', 'vulkan', 'metal', 'd3d12', 'd3d11', 'opengles', 'opengl'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface DeviceOptions {
  /** Force a Dawn backend; default `auto` (env MATTING_BACKEND). */
  backend?: string;
  /** Pick an adapter whose name contains this text (env MATTING_ADAPTER). */
  adapter?: string;
  /**
   * Let Dawn's and Mesa's start-up messages through to stderr (default false: they are silenced,
   * see native-stderr.ts). Also on when the environment variable MATTING_VERBOSE is set.
   */
  verbose?: boolean;
}

export class NoAdapterError extends Error {
  override name = 'NoAdapterError';
}

export class BadBackendError extends Error {
  override name = 'BadBackendError';
}

const SETUP_HINT =
  'No WebGPU adapter was found on this machine.\n' +
  '  On a machine without a GPU, install Mesa\'s software driver: `npm run setup-gpu` (Debian/Ubuntu, as root)\n' +
  '  installs lavapipe (Vulkan) from bookworm-backports, or the OpenGL ES route.\n' +
  '  With a GPU, install its Vulkan driver and the Vulkan loader (libvulkan1).\n' +
  '  Run `npx matting-engine info --verbose` to see what Dawn reported.';

function resolveBackend(requested: string | undefined): BackendName {
  const name = (requested ?? process.env.MATTING_BACKEND ?? 'auto').trim().toLowerCase();
  const aliases: Record<string, BackendName> = { gl: 'opengles', gles: 'opengles', vk: 'vulkan', '': 'auto' };
  const resolved = aliases[name] ?? name;
  if (!(BACKENDS as readonly string[]).includes(resolved)) {
    throw new BadBackendError(
      `unknown backend '${requested ?? process.env.MATTING_BACKEND}' (from ${requested ? '--backend' : 'MATTING_BACKEND'}); ` +
        `available: ${BACKENDS.join(', ')}`,
    );
  }
  return resolved as BackendName;
}

/**
 * Mesa's own start-up notes, switched off where Mesa offers a switch: lavapipe's "not a conformant
 * Vulkan implementation" line (MESA_VK_IGNORE_CONFORMANCE_WARNING), and the XDG_RUNTIME_DIR
 * complaint when that variable is unset (a private folder is given).
 */
function quietMesa(verbose: boolean): void {
  if (!verbose) process.env.MESA_VK_IGNORE_CONFORMANCE_WARNING ??= '1';
  if (process.env.XDG_RUNTIME_DIR && existsSync(process.env.XDG_RUNTIME_DIR)) return;
  const dir = join(tmpdir(), `matting-engine-runtime-${process.getuid?.() ?? 0}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  process.env.XDG_RUNTIME_DIR = dir;
}

/** Whether the Vulkan loader is present; probing Vulkan without it only prints Dawn warnings. */
function vulkanLoaderPresent(): boolean {
  if (process.platform !== 'linux') return false;
  const dirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', '/usr/local/lib'];
  const extra = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  return [...extra, ...dirs].some((d) => existsSync(join(d, 'libvulkan.so.1')));
}

interface Attempt {
  backend: BackendName;
  featureLevel: 'core' | 'compatibility';
}

function attemptsFor(backend: BackendName): Attempt[] {
  if (backend === 'opengles' || backend === 'opengl') return [{ backend, featureLevel: 'compatibility' }];
  if (backend !== 'auto') return [{ backend, featureLevel: 'core' }];
  const list: Attempt[] = [];
  if (process.platform === 'linux') {
    if (vulkanLoaderPresent()) list.push({ backend: 'vulkan', featureLevel: 'core' });
    list.push({ backend: 'opengles', featureLevel: 'compatibility' });
  } else {
    list.push({ backend: 'auto', featureLevel: 'core' });
  }
  return list;
}

async function tryAdapter(a: Attempt, adapterName: string | undefined, verbose: boolean): Promise<{ gpu: GPU; adapter: GPUAdapter } | null> {
  const flags: string[] = [];
  if (a.backend !== 'auto') flags.push(`backend=${a.backend}`);
  if (adapterName) flags.push(`adapter=${adapterName}`);
  if (a.backend === 'opengles' || a.backend === 'opengl') process.env.EGL_PLATFORM ??= 'surfaceless';
  const gpu = create(flags);
  let adapter: GPUAdapter | null = null;
  try {
    // Dawn enumerates and initialises the physical devices inside this call, synchronously, and
    // logs limit clamps and driver notes to the process's stderr from native code while doing so.
    const request = () => gpu.requestAdapter({ featureLevel: a.featureLevel, powerPreference: 'high-performance' } as GPURequestAdapterOptions);
    adapter = await (verbose ? request() : withNativeStderrSilenced(request));
  } catch (e) {
    if (adapterName && /adapter/i.test(String(e))) throw new BadBackendError(String((e as Error).message ?? e));
    return null;
  }
  return adapter ? { gpu, adapter } : null;
}

/** Finds an adapter through Dawn (see the order above) and creates the engine's device on it. */
export async function acquireDevice(options: DeviceOptions = {}): Promise<AcquiredDevice> {
  const verbose = options.verbose ?? !!process.env.MATTING_VERBOSE;
  quietMesa(verbose);
  const backend = resolveBackend(options.backend);
  const adapterName = options.adapter ?? process.env.MATTING_ADAPTER ?? undefined;
  let found: { gpu: GPU; adapter: GPUAdapter; attempt: Attempt } | null = null;
  for (const attempt of attemptsFor(backend)) {
    const r = await tryAdapter(attempt, adapterName || undefined, verbose);
    if (r) {
      found = { ...r, attempt };
      break;
    }
  }
  if (!found) {
    if (backend !== 'auto' || adapterName) {
      throw new NoAdapterError(
        `no WebGPU adapter on backend '${backend}'${adapterName ? ` named '${adapterName}'` : ''}; ` +
          `try MATTING_BACKEND=auto (backends: ${BACKENDS.join(', ')})\n${SETUP_HINT}`,
      );
    }
    throw new NoAdapterError(SETUP_HINT);
  }
  const { gpu, adapter, attempt } = found;
  const device = await requestEngineDevice(adapter);
  const backendName = attempt.backend !== 'auto' ? attempt.backend : process.platform === 'darwin' ? 'metal' : process.platform === 'win32' ? 'd3d12' : 'default';
  return describeDevice(device, { gpu, adapter, backend: backendName, featureLevel: attempt.featureLevel, owned: true });
}
