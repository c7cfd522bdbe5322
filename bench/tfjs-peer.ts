/**
 * tfjs-backend-webgpu as a benchmark peer, on the engine's own adapter, in the same process.
 *
 * The engine acquired its adapter through engine/device.ts, which calls `webgpu`'s `create([...flags])`
 * (backend and adapter-name flags). tfjs finds WebGPU through `navigator.gpu`, so before the backend
 * module is imported we publish that same GPU instance there (same flags, same adapter), wrapping
 * `requestAdapter` to pass the engine's feature level (`compatibility` on the OpenGL ES route, where the
 * default core level gets no adapter; EGL_PLATFORM=surfaceless is then already set by device.ts).
 * tfjs then requests its own GPUDevice from that adapter: two devices, one adapter, one process.
 *
 * Gradients: tfjs-core's Node bundle (`dist/tf-core.node.js`, what `import '@tensorflow/tfjs-core'`
 * loads) registers no gradient functions; the union package `@tensorflow/tfjs` does that by importing
 * `@tensorflow/tfjs-core/dist/register_all_gradients`, an ES-module tree with extensionless imports
 * that Node cannot load as is. We bundle that file with esbuild (which tsx, a dependency, brings) and
 * evaluate it once: it registers tfjs's own gradient functions in tfjs's global registry (shared by
 * every copy of tfjs-core in a process), so `tf.grad`, `tf.variableGrads` and `optimizer.minimize` work.
 *
 * Flags: WEBGPU_CPU_FORWARD is turned off so that no small op is silently run by tfjs's CPU fallback
 * (every timed op runs on the adapter); everything else keeps tfjs's defaults (in particular the
 * default WEBGPU_USE_NAIVE_CONV2D_TRANSPOSE = true, i.e. the direct conv2dTranspose kernel).
 */
import { createRequire } from 'node:module';
import type * as TF from '@tensorflow/tfjs-core';
import type { Engine } from '../engine/engine.ts';
import { gpuWait } from '../engine/gpu-wait.ts';

export type Tf = typeof TF;

/** The parts of tfjs-backend-webgpu's WebGPUBackend the harness touches. */
interface WebGpuBackendLike {
  device: GPUDevice;
  commandEncoder: GPUCommandEncoder | null;
  endComputePassEncoder(): void;
  submitQueue(): void;
  adapterInfo?: { vendor?: string; architecture?: string };
}

export interface TfjsPeer {
  tf: Tf;
  /** tfjs-core / tfjs-backend-webgpu versions. */
  version: { core: string; webgpu: string };
  device: GPUDevice;
  /** What tfjs's adapter reports (to check it is the engine's adapter). */
  adapterInfo: { vendor: string; architecture: string; device: string; description: string };
  /** Submits what tfjs has recorded and waits until the adapter has run it. */
  settle(): Promise<void>;
  /** Throws (and clears) the first GPU error tfjs's device reported since the last call. */
  throwPending(): void;
  /** Why tfjs's gradient functions could not be registered (null: they are). */
  gradientsError: string | null;
}

let peer: Promise<TfjsPeer> | null = null;

/** Starts tfjs-backend-webgpu on the engine's adapter (once per process). */
export function startTfjsPeer(e: Engine): Promise<TfjsPeer> {
  peer ??= start(e).catch((err: unknown) => {
    peer = null;
    throw err;
  });
  return peer;
}

async function start(e: Engine): Promise<TfjsPeer> {
  const gpu = e.acquired.gpu;
  if (!gpu) throw new Error('the tfjs peer needs the engine to have acquired its own device (Dawn)');
  const featureLevel = e.acquired.featureLevel;
  if (e.acquired.backend === 'opengles' || e.acquired.backend === 'opengl') process.env.EGL_PLATFORM ??= 'surfaceless';
  let tfjsAdapter: GPUAdapter | null = null;
  const wrapped = {
    requestAdapter: async (o: GPURequestAdapterOptions = {}) => {
      tfjsAdapter = await gpu.requestAdapter({ ...o, featureLevel } as GPURequestAdapterOptions);
      return tfjsAdapter;
    },
    getPreferredCanvasFormat: () => 'rgba8unorm' as GPUTextureFormat,
    wgslLanguageFeatures: (gpu as { wgslLanguageFeatures?: unknown }).wgslLanguageFeatures,
  };
  const g = globalThis as { navigator?: { userAgent?: string } & Record<string, unknown> };
  const existing = g.navigator;
  const nav = { userAgent: existing?.userAgent ?? `Node.js/${process.versions.node}`, gpu: wrapped };
  Object.defineProperty(globalThis, 'navigator', { value: nav, configurable: true, writable: true });

  const tf = (await import('@tensorflow/tfjs-core')) as Tf;
  tf.env().set('PROD', true); // no "install tfjs-node" banner
  await import('@tensorflow/tfjs-backend-webgpu');
  const require = createRequire(import.meta.url);
  const webgpuVersion = (require('@tensorflow/tfjs-backend-webgpu/package.json') as { version: string }).version;
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs: the webgpu backend did not start on this adapter');
  await tf.ready();
  const gradientsError = await registerGradients().then(
    () => null,
    (err: unknown) => `tfjs gradients unavailable: ${(err as Error).message ?? String(err)}`,
  );
  const backend = tf.backend() as unknown as WebGpuBackendLike;
  const device = backend.device;
  let pending: Error | null = null;
  device.addEventListener('uncapturederror', (ev) => {
    pending ??= new Error(`tfjs GPU error: ${(ev as GPUUncapturedErrorEvent).error.message}`);
  });
  const info = (tfjsAdapter as GPUAdapter | null)?.info;
  return {
    tf,
    version: { core: tf.version_core, webgpu: webgpuVersion },
    device,
    adapterInfo: {
      vendor: info?.vendor ?? backend.adapterInfo?.vendor ?? '',
      architecture: info?.architecture ?? backend.adapterInfo?.architecture ?? '',
      device: info?.device ?? '',
      description: info?.description ?? '',
    },
    async settle() {
      backend.endComputePassEncoder();
      if (backend.commandEncoder) backend.submitQueue();
      await gpuWait(device.queue.onSubmittedWorkDone());
    },
    throwPending() {
      const err = pending;
      pending = null;
      if (err) throw err;
    },
    gradientsError,
  };
}

/** Removes the tfjs backend and destroys its device (so that a test process can exit). */
export async function stopTfjsPeer(): Promise<void> {
  if (!peer) return;
  const p = await peer.catch(() => null);
  peer = null;
  if (!p) return;
  try {
    p.tf.removeBackend('webgpu');
  } finally {
    p.device.destroy();
  }
}

let gradientsRegistered = false;

/** Registers tfjs-core's gradient functions (see the header comment). */
async function registerGradients(): Promise<void> {
  if (gradientsRegistered) return;
  const require = createRequire(import.meta.url);
  const entry = require.resolve('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  const esbuild = (await import('esbuild')) as typeof import('esbuild');
  const out = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    format: 'cjs',
    platform: 'node',
    write: false,
    logLevel: 'silent',
    mainFields: ['module', 'main'],
    external: ['long', 'seedrandom', 'node-fetch'],
  });
  const code = out.outputFiles[0]!.text;
  const mod = { exports: {} };
  new Function('require', 'module', 'exports', code)(createRequire(entry), mod, mod.exports);
  gradientsRegistered = true;
}

/** NCHW -> NHWC (CPU). */
export function nchwToNhwc(d: Float32Array, [N, C, H, W]: readonly number[]): Float32Array {
  const out = new Float32Array(d.length);
  const HW = H! * W!;
  for (let n = 0; n < N!; n++)
    for (let c = 0; c < C!; c++) {
      const src = (n * C! + c) * HW;
      for (let p = 0; p < HW; p++) out[(n * HW + p) * C! + c] = d[src + p]!;
    }
  return out;
}

/** NHWC data -> NCHW, given the NCHW shape. */
export function nhwcToNchw(d: Float32Array, [N, C, H, W]: readonly number[]): Float32Array {
  const out = new Float32Array(d.length);
  const HW = H! * W!;
  for (let n = 0; n < N!; n++)
    for (let c = 0; c < C!; c++) {
      const dst = (n * C! + c) * HW;
      for (let p = 0; p < HW; p++) out[dst + p] = d[(n * HW + p) * C! + c]!;
    }
  return out;
}

/** A conv weight [O, C, KH, KW] (or a transposed conv's [in, out, kh, kw]) -> tfjs's [KH, KW, C, O]. */
export function oihwToHwio(d: Float32Array, [O, C, KH, KW]: readonly number[]): Float32Array {
  const out = new Float32Array(d.length);
  for (let o = 0; o < O!; o++)
    for (let c = 0; c < C!; c++)
      for (let ky = 0; ky < KH!; ky++)
        for (let kx = 0; kx < KW!; kx++) out[((ky * KW! + kx) * C! + c) * O! + o] = d[((o * C! + c) * KH! + ky) * KW! + kx]!;
  return out;
}

/** tfjs's [KH, KW, C, O] -> [O, C, KH, KW] (the shape given is the OIHW one). */
export function hwioToOihw(d: Float32Array, [O, C, KH, KW]: readonly number[]): Float32Array {
  const out = new Float32Array(d.length);
  for (let o = 0; o < O!; o++)
    for (let c = 0; c < C!; c++)
      for (let ky = 0; ky < KH!; ky++)
        for (let kx = 0; kx < KW!; kx++) out[((o * C! + c) * KH! + ky) * KW! + kx] = d[((ky * KW! + kx) * C! + c) * O! + o]!;
  return out;
}
