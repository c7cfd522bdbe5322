/** Makes Dawn (the `webgpu` package) initEngine's device source when no device is given. */
import { setDeviceSource } from '../engine/engine.ts';
import { acquireDevice } from '../engine/device.ts';

setDeviceSource((options) => acquireDevice(options));
