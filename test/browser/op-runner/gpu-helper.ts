/**
 * test/helpers/gpu.ts for the browser: the engine on a device of the page's navigator.gpu (no
 * Dawn). The device is asked for the storage-binding limit Node's lavapipe has (128 MiB) rather
 * than SwiftShader's 1 GiB, so the cases that split tensors past one binding run the split here too.
 */
import { beforeAll } from 'vitest';
import { initEngine, engine, type Engine } from '../../../engine/index.ts';
import { WANTED_LIMITS } from '../../../engine/device-info.ts';

const OPTIONAL_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as GPUFeatureName[];

export const BROWSER_BINDING_LIMIT = 128 * 2 ** 20;

let started: Promise<Engine> | null = null;

async function start(): Promise<Engine> {
  // A browser global; the root tsconfig has Node's lib, not the DOM's.
  const gpu = (globalThis as unknown as { navigator: { gpu: GPU } }).navigator.gpu;
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('navigator.gpu.requestAdapter() found no adapter');
  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) requiredLimits[name] = adapter.limits[name] as number;
  requiredLimits.maxStorageBufferBindingSize = Math.min(BROWSER_BINDING_LIMIT, adapter.limits.maxStorageBufferBindingSize);
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures: OPTIONAL_FEATURES.filter((f) => adapter.features.has(f)), label: 'matting-engine op tests' });
  return initEngine({ device, deviceAdapter: adapter });
}

export function useEngine(): { get: () => Engine } {
  beforeAll(async () => {
    await (started ??= start());
  });
  return { get: () => engine() };
}
