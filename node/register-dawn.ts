/**
 * Node's platform hooks for the core: Dawn (the `webgpu` package) as initEngine's device source when
 * no device is given, and the autotuner's choices kept in a cache file.
 */
import { setDeviceSource } from '../engine/engine.ts';
import { acquireDevice } from '../engine/device.ts';
import { setAutotuneStore } from '../engine/autotune.ts';
import { autotuneFileStore } from './autotune-file-store.ts';

setDeviceSource((options) => acquireDevice(options));
setAutotuneStore(autotuneFileStore);
