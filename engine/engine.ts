/**
 * The engine context: one device, its buffer pool, the command recorder and the pipeline cache.
 * Ops record GPU work synchronously; errors the GPU reports asynchronously are kept and thrown at
 * the next synchronisation point (a readback or `sync()`), naming the kernel or operation.
 * Browser-safe: the device comes from the caller, from `navigator.gpu`, or from the device source
 * the Node entry registers (Dawn); nothing here imports Node.
 */
import { acquireBrowserDevice, describeDevice, type AcquiredDevice } from './device-info.ts';
import { BufferPool } from './buffer-pool.ts';
import { gpuWait } from './gpu-wait.ts';
import { BUFFER_USAGE, MAP_MODE } from './gpu-flags.ts';
import { DeviceLostError, GpuError, KernelCompileError, describeCompileMessages } from './gpu-error.ts';
import { kernelSource, packUniforms, uniformByteSize, type KernelDef, type UniformValues } from './kernels/kernel.ts';

export interface BufferSlice {
  buffer: GPUBuffer;
  /** Byte offset; must be a multiple of the storage offset alignment. */
  offset?: number;
  size?: number;
}

interface CompiledKernel {
  def: KernelDef;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  uniformBytes: number;
}

const UNIFORM_ARENA_BYTES = 1 << 20;
const DISPATCHES_PER_SUBMIT = 64;

export class Engine {
  readonly device: GPUDevice;
  readonly pool: BufferPool;
  private readonly pipelines = new Map<string, CompiledKernel>();
  private readonly byDef = new WeakMap<KernelDef, CompiledKernel>();
  private pendingError: Error | null = null;
  private lost = false;
  private destroyed = false;

  private encoder: GPUCommandEncoder | null = null;
  /**
   * The compute pass that consecutive dispatches share. WebGPU makes each dispatch its own usage
   * scope, so the implementation orders their reads and writes within one pass; a pass per dispatch
   * cost two more calls into Dawn and its per-pass bookkeeping on every dispatch. Ended before a
   * copy and at every submit.
   */
  private pass: GPUComputePassEncoder | null = null;
  private dispatchesInEncoder = 0;
  private uniformArena: GPUBuffer;
  private uniformStaging = new ArrayBuffer(UNIFORM_ARENA_BYTES);
  private uniformView = new DataView(this.uniformStaging);
  private uniformUsed = 0;
  private readonly readbackPool: BufferPool;
  /** Completion promises of the last units of work marked by `throttle()`, oldest first. */
  private readonly inFlight: Promise<void>[] = [];
  /** Counts of what was done, for tests and benchmarks. `throttleWaits`: throttle() calls that had to wait. */
  readonly counters = { dispatches: 0, submits: 0, readbacks: 0, pipelinesCompiled: 0, throttleWaits: 0 };

  constructor(readonly acquired: AcquiredDevice) {
    this.device = acquired.device;
    const onAllocate = (bytes: number, label: string, make: () => GPUBuffer) => this.allocateChecked(bytes, label, make);
    this.pool = new BufferPool(this.device, onAllocate);
    this.readbackPool = new BufferPool(this.device, onAllocate);
    this.uniformArena = this.device.createBuffer({
      size: UNIFORM_ARENA_BYTES,
      usage: BUFFER_USAGE.UNIFORM | BUFFER_USAGE.COPY_DST,
      label: 'uniform arena',
    });
    this.device.addEventListener('uncapturederror', this.onUncapturedError);
    void this.device.lost.then((info) => {
      this.lost = true;
      if (!this.destroyed) this.setPending(new DeviceLostError(`GPU device lost (${info.reason}): ${info.message}`));
    });
  }

  private readonly onUncapturedError = (ev: Event): void => {
    const e = (ev as GPUUncapturedErrorEvent).error;
    this.setPending(new GpuError(`GPU error: ${e.message}`));
  };

  get limits() {
    return this.acquired.limits;
  }

  get features() {
    return this.acquired.features;
  }

  private setPending(e: Error): void {
    // A compile error explains the 'invalid pipeline' errors that follow it: it wins.
    if (!this.pendingError || (e instanceof KernelCompileError && !(this.pendingError instanceof KernelCompileError))) this.pendingError = e;
  }

  /** Throws the first GPU error reported since the last check, if any. */
  throwPending(): void {
    if (this.lost && !this.pendingError) this.pendingError = new DeviceLostError('GPU device lost');
    const e = this.pendingError;
    if (e) {
      this.pendingError = null;
      throw e;
    }
  }

  private allocateChecked(bytes: number, label: string, make: () => GPUBuffer): GPUBuffer {
    if (bytes > this.limits.maxBufferSize) {
      throw new GpuError(`cannot allocate ${bytes} bytes for ${label}: the adapter's maxBufferSize is ${this.limits.maxBufferSize}`);
    }
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    const buffer = make();
    void this.device.popErrorScope().then((e) => e && this.setPending(new GpuError(`allocating ${bytes} bytes for ${label}: ${e.message}`)));
    void this.device.popErrorScope().then(
      (e) => e && this.setPending(new GpuError(`out of GPU memory allocating ${bytes} bytes for ${label}: ${e.message}`)),
    );
    return buffer;
  }

  /** The compiled pipeline of a kernel, built once per distinct WGSL source. */
  kernel(def: KernelDef): CompiledKernel {
    // Kernel definitions are long-lived objects (constants or memoized generators): look them up
    // by identity first, so a dispatch neither rebuilds nor hashes the WGSL source.
    const known = this.byDef.get(def);
    if (known) return known;
    const compiled = this.compileKernel(def);
    this.byDef.set(def, compiled);
    return compiled;
  }

  private compileKernel(def: KernelDef): CompiledKernel {
    const source = kernelSource(def);
    const key = `${def.name}\n${source}`;
    let compiled = this.pipelines.get(key);
    if (compiled) return compiled;
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code: source, label: def.name });
    const pipeline = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: def.name });
    const layout = pipeline.getBindGroupLayout(0);
    void this.device.popErrorScope().then(async (e) => {
      if (!e) return;
      const info = await module.getCompilationInfo();
      const hasErrors = info.messages.some((m) => m.type === 'error');
      this.setPending(
        hasErrors
          ? new KernelCompileError(describeCompileMessages(def.name, source, info.messages))
          : new KernelCompileError(`kernel '${def.name}': pipeline creation failed: ${e.message}`),
      );
    });
    compiled = { def, pipeline, layout, uniformBytes: uniformByteSize(def) };
    this.pipelines.set(key, compiled);
    this.counters.pipelinesCompiled++;
    return compiled;
  }

  /** Compiles a kernel now and throws its compile error, if any (for tests and eager checks). */
  async compile(def: KernelDef): Promise<void> {
    this.kernel(def);
    await this.sync();
  }

  /** Records one dispatch. `storage` follows the kernel's storage list. */
  dispatch(def: KernelDef, uniforms: UniformValues, storage: (GPUBuffer | BufferSlice)[], workgroups: [number, number, number]): void {
    if (this.pendingError) this.throwPending();
    const k = this.kernel(def);
    if (storage.length !== def.storage.length) {
      throw new Error(`kernel ${def.name}: ${storage.length} storage bindings given, ${def.storage.length} declared`);
    }
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    if (workgroups.some((w) => w > max)) throw new Error(`kernel ${def.name}: dispatch ${workgroups.join('x')} exceeds ${max} per dimension`);
    if (workgroups.some((w) => w === 0)) return;
    const entries: GPUBindGroupEntry[] = [];
    if (def.uniforms.length > 0) {
      if (this.uniformUsed + k.uniformBytes > UNIFORM_ARENA_BYTES) this.flush();
      const offset = this.uniformUsed;
      packUniforms(def, uniforms, this.uniformView, offset);
      this.uniformUsed = Math.ceil((offset + k.uniformBytes) / 256) * 256;
      entries.push({ binding: 0, resource: { buffer: this.uniformArena, offset, size: k.uniformBytes } });
    }
    storage.forEach((s, i) => {
      const slice: BufferSlice = 'buffer' in s ? s : { buffer: s };
      const size = slice.size ?? slice.buffer.size - (slice.offset ?? 0);
      if (size > this.limits.maxStorageBufferBindingSize) {
        throw new GpuError(
          `kernel ${def.name}: binding '${def.storage[i]![0]}' of ${size} bytes exceeds maxStorageBufferBindingSize ` +
            `(${this.limits.maxStorageBufferBindingSize}); the op must split it`,
        );
      }
      entries.push({ binding: i + 1, resource: { buffer: slice.buffer, offset: slice.offset ?? 0, size } });
    });
    const bindGroup = this.device.createBindGroup({ layout: k.layout, entries, label: def.name });
    const encoder = (this.encoder ??= this.device.createCommandEncoder({ label: 'ops' }));
    const pass = (this.pass ??= encoder.beginComputePass({ label: 'ops' }));
    pass.setPipeline(k.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(workgroups[0], workgroups[1], workgroups[2]);
    this.counters.dispatches++;
    if (++this.dispatchesInEncoder >= DISPATCHES_PER_SUBMIT) this.flush();
  }

  /** Records a buffer-to-buffer copy in order with the dispatches. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    if (bytes === 0) return;
    this.endPass();
    const encoder = (this.encoder ??= this.device.createCommandEncoder({ label: 'ops' }));
    encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  /** Submits the recorded work (uniforms first: a queue write runs before the submit that follows it). */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    if (this.uniformUsed > 0) this.device.queue.writeBuffer(this.uniformArena, 0, this.uniformStaging, 0, this.uniformUsed);
    this.device.queue.submit([this.encoder.finish()]);
    this.counters.submits++;
    this.encoder = null;
    this.dispatchesInEncoder = 0;
    this.uniformUsed = 0;
  }

  /** Writes CPU data into a buffer, after all previously recorded work. */
  write(buffer: GPUBuffer, offset: number, data: ArrayBufferView): void {
    this.flush();
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    // Large writes go in pieces so the driver's staging copy stays small.
    const piece = 64 << 20;
    for (let at = 0; at < bytes.byteLength; at += piece) {
      const n = Math.min(piece, bytes.byteLength - at);
      this.device.queue.writeBuffer(buffer, offset + at, bytes, at, n);
    }
  }

  /** Reads bytes back to the CPU: the only place that waits for the GPU. */
  async read(buffer: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    this.throwPending();
    const out = new ArrayBuffer(bytes);
    if (bytes === 0) return out;
    const piece = Math.min(bytes, 256 << 20);
    const staging = this.readbackPool.acquire(piece, BUFFER_USAGE.MAP_READ | BUFFER_USAGE.COPY_DST, 'readback');
    try {
      for (let at = 0; at < bytes; at += piece) {
        const n = Math.min(piece, bytes - at);
        const padded = Math.ceil(n / 4) * 4;
        this.copy(buffer, offset + at, staging, 0, padded);
        this.flush();
        await gpuWait(staging.mapAsync(MAP_MODE.READ, 0, padded));
        new Uint8Array(out, at, n).set(new Uint8Array(staging.getMappedRange(0, padded), 0, n));
        staging.unmap();
      }
    } catch (e) {
      this.throwPending();
      throw e;
    } finally {
      this.readbackPool.release(staging);
    }
    this.counters.readbacks++;
    this.throwPending();
    return out;
  }

  /**
   * Back-pressure. Ops record and submit GPU work without waiting, so a loop that never reads back
   * (a training run with logging off, a folder of predictions) can record far ahead of the GPU;
   * on a software adapter every submit still pending holds descriptor pools and memory mappings
   * until the process runs out of them (lavapipe segfaulted at the kernel's 65,530-map limit), and
   * Ctrl-C waited for the whole backlog. Call this once per unit of work (a step, a tile): it
   * submits what was recorded, marks the end of the unit, and waits until the GPU has finished the
   * unit `maxInFlight` marks back, so at most that many units are ever queued ahead of the GPU.
   * With the default 2 the GPU still has the previous unit to run while the next is recorded.
   */
  async throttle(maxInFlight = 2): Promise<void> {
    this.flush();
    this.inFlight.push(gpuWait(this.device.queue.onSubmittedWorkDone()));
    if (this.inFlight.length >= maxInFlight) {
      this.counters.throttleWaits++;
      while (this.inFlight.length >= maxInFlight) await this.inFlight.shift();
    }
    this.throwPending();
  }

  /** Units marked by throttle() whose completion has not been awaited yet (at most maxInFlight - 1 after a call). */
  get unitsInFlight(): number {
    return this.inFlight.length;
  }

  /** Waits until all recorded work has run, then throws any error it caused. */
  async sync(): Promise<void> {
    this.flush();
    await gpuWait(this.device.queue.onSubmittedWorkDone());
    // Error-scope promises resolve after the work they watch; give them a turn.
    await nextMacrotask();
    this.throwPending();
  }

  /**
   * Releases what the engine created: on a device it created, the device itself; on a device it
   * was given, every buffer it made (tensors still alive become unusable) and its error listener,
   * leaving the device to its owner.
   */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.lost) {
      this.encoder = null;
      this.pass = null;
    } else {
      this.flush();
    }
    this.device.removeEventListener('uncapturederror', this.onUncapturedError);
    if (this.acquired.owned) {
      this.device.destroy();
      return;
    }
    this.pool.destroyAll();
    this.readbackPool.destroyAll();
    this.uniformArena.destroy();
  }
}

/** setImmediate where it exists (Node), else a zero timeout: a turn of the event loop either way. */
const nextMacrotask = (): Promise<void> =>
  new Promise((r) => ((globalThis as { setImmediate?: (f: () => void) => void }).setImmediate ?? ((f: () => void) => setTimeout(f, 0)))(r));

/** How initEngine finds a device when none is given: navigator.gpu, unless an entry registered another. */
export type DeviceSource = (options: InitOptions) => Promise<AcquiredDevice>;

let deviceSource: DeviceSource = () => acquireBrowserDevice();

/**
 * Replaces how initEngine acquires a device when the caller gives none. The package's Node entry
 * registers Dawn here; a browser keeps the default (navigator.gpu).
 */
export function setDeviceSource(source: DeviceSource): void {
  deviceSource = source;
}

/** Options of initEngine. */
export interface InitOptions {
  /**
   * Run on this device (a browser's, an application's, or one from `acquireDevice`). The engine
   * then owns nothing it did not create: shutdownEngine() frees the engine's buffers and leaves
   * the device alive. Request the limits your models need when creating it (see `requestEngineDevice`).
   */
  device?: GPUDevice;
  /** The adapter `device` came from, for its description in `engine().acquired.info` (optional). */
  deviceAdapter?: GPUAdapter;
  /** Node (Dawn) only: force a backend (`vulkan`, `metal`, `d3d12`, `opengles`, ...; env MATTING_BACKEND). */
  backend?: string;
  /** Node (Dawn) only: pick an adapter whose name contains this text (env MATTING_ADAPTER). */
  adapter?: string;
  /** Node (Dawn) only: let Dawn's and Mesa's start-up messages through to stderr. */
  verbose?: boolean;
}

let current: Engine | null = null;
let starting: Promise<Engine> | null = null;

/**
 * Starts the engine (once: later calls return the same engine until shutdownEngine()). With
 * `{ device }` it runs on that device; otherwise it acquires one (Dawn in Node, navigator.gpu in a
 * browser).
 */
export async function initEngine(options: InitOptions = {}): Promise<Engine> {
  if (current) {
    if (options.device && options.device !== current.device) {
      throw new Error('matting-engine: initEngine({ device }) while the engine runs on another device; call shutdownEngine() first');
    }
    return current;
  }
  const acquire = options.device
    ? Promise.resolve(describeDevice(options.device, { adapter: options.deviceAdapter ?? null, backend: 'external', owned: false }))
    : deviceSource(options);
  starting ??= acquire.then((d) => (current = new Engine(d)));
  try {
    return await starting;
  } catch (e) {
    starting = null;
    throw e;
  }
}

/** The running engine; throws when initEngine() has not been awaited. */
export function engine(): Engine {
  if (!current) throw new Error('matting-engine: call `await initEngine()` before using tensors');
  return current;
}

/** Stops the engine and frees what it created (see Engine.destroy); initEngine() may start it again. */
export function shutdownEngine(): void {
  current?.destroy();
  current = null;
  starting = null;
}
