import { UsageError, type OptionSpec } from './args.ts';
import { setMaxMegapixels } from '../matting/data/image-io.ts';

/** Options every verb takes. */
export const DEVICE_OPTIONS = {
  backend: { type: 'string', arg: '<name>', help: 'WebGPU backend: auto, vulkan, metal, d3d12, opengles (env MATTING_BACKEND)' },
  adapter: { type: 'string', arg: '<text>', help: 'use the adapter whose name contains this text (env MATTING_ADAPTER)' },
  verbose: { type: 'boolean', help: "show Dawn's and Mesa's own messages" },
  debug: { type: 'boolean', help: 'print stack traces on errors' },
  help: { type: 'boolean', help: 'show this help', alias: 'h' },
} satisfies OptionSpec;

/** Options of every verb that reads images. */
export const IMAGE_OPTIONS = {
  maxMegapixels: { type: 'number', help: 'refuse images larger than this many megapixels before decoding them (default 100; env MATTING_MAX_MEGAPIXELS)' },
} satisfies OptionSpec;

/** Applies IMAGE_OPTIONS (a bad value is a usage error). */
export function applyImageOptions(o: { maxMegapixels?: number }, verb: string): void {
  if (o.maxMegapixels === undefined) return;
  if (!(o.maxMegapixels > 0)) throw new UsageError(`${verb}: --max-megapixels must be a positive number, got ${o.maxMegapixels}`);
  setMaxMegapixels(o.maxMegapixels);
}
