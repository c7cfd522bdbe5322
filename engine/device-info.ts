/**
 * What the engine needs from a WebGPU device, independent of where the device came from (Dawn in
 * Node, `navigator.gpu` in a browser, or an application's own device): the limits it requests, the
 * optional features it uses, and the description it keeps. No Node APIs here.
 */

export interface EngineFeatures {
  shaderF16: boolean;
  subgroups: boolean;
  /** The adapter's smallest subgroup (0 when unknown); subgroup kernels assume at least 8 lanes. */
  subgroupMinSize: number;
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

/** The device the engine runs on, and what is known about it. */
export interface AcquiredDevice {
  /** The GPU entry point the adapter came from (null for a device handed to initEngine). */
  gpu: GPU | null;
  /** The adapter (null for a device handed to initEngine without its adapter). */
  adapter: GPUAdapter | null;
  device: GPUDevice;
  /** The Dawn backend in Node (`vulkan`, `opengles`, ...), `browser` for navigator.gpu, `external` for a given device. */
  backend: string;
  featureLevel: 'core' | 'compatibility';
  info: { vendor: string; architecture: string; device: string; description: string };
  features: EngineFeatures;
  limits: EngineLimits;
  /** Whether the engine created the device (and so destroys it on shutdown). */
  owned: boolean;
}

/** Which limits we ask for: everything the engine can use, capped by what the adapter offers. */
export const WANTED_LIMITS: readonly (keyof EngineLimits)[] = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
];

const OPTIONAL_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as GPUFeatureName[];

/** Requests a device from `adapter` with the adapter's best values of the limits the engine uses. */
export async function requestEngineDevice(adapter: GPUAdapter): Promise<GPUDevice> {
  const requiredLimits: Record<string, number> = {};
  // A 4 GiB maxBufferSize is reported as 2^32-1 on some drivers; keep it as offered.
  for (const name of WANTED_LIMITS) requiredLimits[name] = adapter.limits[name] as number;
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  return adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'matting-engine' });
}

/** Describes a device (limits as granted, features enabled) for the engine. */
export function describeDevice(
  device: GPUDevice,
  from: { gpu?: GPU | null; adapter?: GPUAdapter | null; backend: string; featureLevel?: 'core' | 'compatibility'; owned: boolean },
): AcquiredDevice {
  const limits = {} as EngineLimits;
  for (const name of [...WANTED_LIMITS, 'minStorageBufferOffsetAlignment', 'minUniformBufferOffsetAlignment'] as (keyof EngineLimits)[]) {
    limits[name] = device.limits[name] as number;
  }
  // GPUDevice.adapterInfo is newer than GPUAdapter.info; take whichever exists.
  const info = from.adapter?.info ?? (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  // A compatibility-mode device lacks this feature where the implementation reports it at all.
  const compat = (from.adapter as (GPUAdapter & { featureLevel?: string }) | null | undefined)?.featureLevel === 'compatibility';
  const featureLevel = from.featureLevel ?? (compat ? 'compatibility' : 'core');
  return {
    gpu: from.gpu ?? null,
    adapter: from.adapter ?? null,
    device,
    backend: from.backend,
    featureLevel,
    info: { vendor: info?.vendor ?? '', architecture: info?.architecture ?? '', device: info?.device ?? '', description: info?.description ?? '' },
    features: {
      shaderF16: device.features.has('shader-f16'),
      subgroups: device.features.has('subgroups'),
      subgroupMinSize: (info as (GPUAdapterInfo & { subgroupMinSize?: number }) | undefined)?.subgroupMinSize ?? 0,
      timestampQuery: device.features.has('timestamp-query'),
    },
    limits,
    owned: from.owned,
  };
}

/** The browser's default: `navigator.gpu`, a high-performance adapter, the engine's limits. */
export async function acquireBrowserDevice(): Promise<AcquiredDevice> {
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) {
    throw new Error(
      'matting-engine: no WebGPU here (navigator.gpu is missing). In Node, import the package normally ' +
        "(its 'node' export starts Dawn); elsewhere pass a device: initEngine({ device })",
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('matting-engine: navigator.gpu.requestAdapter() found no adapter');
  return describeDevice(await requestEngineDevice(adapter), { gpu, adapter, backend: 'browser', owned: true });
}
