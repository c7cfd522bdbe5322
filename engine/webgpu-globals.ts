/** Dawn's Node bindings keep the WebGPU enums (GPUBufferUsage, ...) off globalThis; put them there. */
import { globals } from 'webgpu';

if (typeof (globalThis as { GPUBufferUsage?: unknown }).GPUBufferUsage === 'undefined') Object.assign(globalThis, globals);
