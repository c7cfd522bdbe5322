/** This page's WebGPU device for the engine, with a clear reason when there is none. */
import { initEngine, requestEngineDevice } from '../../engine/index.ts';

export class NoWebGpu extends Error {}

/** Starts the engine on a device of this page; returns a one-line description of the adapter. */
export async function startEngine(onLost: (why: string) => void): Promise<string> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) {
    throw new NoWebGpu(
      window.isSecureContext
        ? 'This browser has no WebGPU (navigator.gpu is missing). Use a recent Chrome, Edge or Safari, or Firefox with WebGPU enabled.'
        : 'WebGPU needs a secure page: open it from http://localhost (as `npx matting-engine serve` prints) or over https.',
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new NoWebGpu('WebGPU is present but found no adapter (the GPU may be blocklisted; in Chromium try chrome://gpu, or --enable-unsafe-webgpu).');
  }
  const device = await requestEngineDevice(adapter);
  device.lost.then((info) => onLost(`The WebGPU device was lost (${info.reason || 'unknown reason'}: ${info.message}). Reload the page.`));
  await initEngine({ device, deviceAdapter: adapter });
  const info = adapter.info;
  const name = [info?.vendor, info?.architecture, info?.description || info?.device].filter(Boolean).join(' ');
  return `WebGPU adapter: ${name || 'unnamed'}; largest storage binding ${(device.limits.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB.`;
}
