import type { OptionSpec } from './args.ts';

/** Options every verb takes. */
export const DEVICE_OPTIONS = {
  backend: { type: 'string', arg: '<name>', help: 'WebGPU backend: auto, vulkan, metal, d3d12, opengles (env MATTING_BACKEND)' },
  adapter: { type: 'string', arg: '<text>', help: 'use the adapter whose name contains this text (env MATTING_ADAPTER)' },
  verbose: { type: 'boolean', help: "show Dawn's and Mesa's own messages" },
  debug: { type: 'boolean', help: 'print stack traces on errors' },
  help: { type: 'boolean', help: 'show this help', alias: 'h' },
} satisfies OptionSpec;
