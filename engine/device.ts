/**
 * WebGPU device acquisition that works on every machine WebGPU reaches.
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

export const BACKENDS = ['auto', 'vulkan', 'metal', 'd3d12', 'd3d11', 'opengles', 'opengl'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface DeviceOptions {
  /** Force a Dawn backend; default `auto` (env MATTING_BACKEND). */
  backend?: string;
  /** Pick an adapter whose name contains this text (env MATTING_ADAPTER). */
  adapter?: string;
}

export interface EngineFeatures {
  shaderF16: boolean;
  subgroups: boolean;
  timestampQuery: boolean;
}

/** The limits the engine relies on, as granted by the device. */
export interface EngineLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
  maxComputeWorkgroupSizeY: number;
  maxComputeWorkgroupsPerDimension: number;
  maxStorageBuffersPerShaderStage: number;
  maxComputeWorkgroupStorageSize: number;
  minStorageBufferOffsetAlignment: number;
  minUniformBufferOffsetAlignment: number;
}

export interface AcquiredDevice {
  gpu: GPU;
  adapter: GPUAdapter;
  device: GPUDevice;
  backend: string;
  featureLevel: 'core' | 'compatibility';
  info: { vendor: string; architecture: string; device: string; description: string };
  features: EngineFeatures;
  limits: EngineLimits;
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

/** Which limits we ask for: everything the engine can use, capped by what the adapter offers. */
const WANTED_LIMITS: (keyof EngineLimits)[] = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
];

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

/** Mesa prints a warning to stderr when XDG_RUNTIME_DIR is unset; give it a private one. */
function quietMesa(): void {
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

async function tryAdapter(a: Attempt, adapterName: string | undefined): Promise<{ gpu: GPU; adapter: GPUAdapter } | null> {
  const flags: string[] = [];
  if (a.backend !== 'auto') flags.push(`backend=${a.backend}`);
  if (adapterName) flags.push(`adapter=${adapterName}`);
  if (a.backend === 'opengles' || a.backend === 'opengl') process.env.EGL_PLATFORM ??= 'surfaceless';
  const gpu = create(flags);
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ featureLevel: a.featureLevel, powerPreference: 'high-performance' } as GPURequestAdapterOptions);
  } catch (e) {
    if (adapterName && /adapter/i.test(String(e))) throw new BadBackendError(String((e as Error).message ?? e));
    return null;
  }
  return adapter ? { gpu, adapter } : null;
}

export async function acquireDevice(options: DeviceOptions = {}): Promise<AcquiredDevice> {
  quietMesa();
  const backend = resolveBackend(options.backend);
  const adapterName = options.adapter ?? process.env.MATTING_ADAPTER ?? undefined;
  let found: { gpu: GPU; adapter: GPUAdapter; attempt: Attempt } | null = null;
  for (const attempt of attemptsFor(backend)) {
    const r = await tryAdapter(attempt, adapterName || undefined);
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
  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) requiredLimits[name] = adapter.limits[name] as number;
  // A 4 GiB maxBufferSize is reported as 2^32-1 on some drivers; keep it as offered.
  const wantedFeatures: GPUFeatureName[] = (['shader-f16', 'subgroups', 'timestamp-query'] as GPUFeatureName[]).filter((f) =>
    adapter.features.has(f),
  );
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures: wantedFeatures, label: 'matting-engine' });
  const info = adapter.info;
  const limits = {} as EngineLimits;
  for (const name of [...WANTED_LIMITS, 'minStorageBufferOffsetAlignment', 'minUniformBufferOffsetAlignment'] as (keyof EngineLimits)[]) {
    limits[name] = device.limits[name] as number;
  }
  return {
    gpu,
    adapter,
    device,
    backend: attempt.backend !== 'auto' ? attempt.backend : process.platform === 'darwin' ? 'metal' : process.platform === 'win32' ? 'd3d12' : 'default',
    featureLevel: attempt.featureLevel,
    info: { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description },
    features: {
      shaderF16: device.features.has('shader-f16'),
      subgroups: device.features.has('subgroups'),
      timestampQuery: device.features.has('timestamp-query'),
    },
    limits,
  };
}
