/**
 * `matting-engine` as Node resolves it (the `node` export condition): the core, with Dawn
 * registered first as the device source, so that `await initEngine()` works with no arguments.
 */
import './register-dawn.ts';

export * from '../engine/index.ts';
