/**
 * The WebGPU flag values the engine uses. They are fixed by the WebGPU specification; defining them
 * here keeps the core free of the `GPUBufferUsage` / `GPUMapMode` globals, which Dawn's Node
 * bindings do not install and which a bundle may evaluate before any device exists.
 */
export const BUFFER_USAGE = {
  MAP_READ: 0x0001,
  MAP_WRITE: 0x0002,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
} as const;

export const MAP_MODE = { READ: 0x0001, WRITE: 0x0002 } as const;
