/**
 * Node's platform hooks for the core: Dawn (the `webgpu` package) as initEngine's device source when
 * no device is given, the autotuner's choices kept in a cache file, and GPU waits that do not spin
 * a core (quiet-wait.ts).
 */
import { setDeviceSource } from '../engine/engine.ts';
import { acquireDevice } from '../engine/device.ts';
import { setAutotuneStore } from '../engine/autotune.ts';
import { autotuneFileStore } from './autotune-file-store.ts';
import { setGpuWaiter } from '../engine/gpu-wait.ts';
import { quietWait } from './quiet-wait.ts';

setDeviceSource((options) => acquireDevice(options));
setAutotuneStore(autotuneFileStore);
// MATTING_GPU_WAIT=spin keeps Dawn's own spinning wait (for comparison, see bench/README.md).
if (process.env.MATTING_GPU_WAIT !== 'spin') setGpuWaiter(quietWait);
