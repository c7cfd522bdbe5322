import { initEngine } from '../engine/engine.ts';
import { create } from 'webgpu';
const e = await initEngine();
console.log(e.acquired.backend, e.acquired.info);
const gpu = e.acquired.gpu;
(globalThis as any).navigator = { gpu };
const tf = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-backend-webgpu');
tf.env().set('PROD', true);
console.log(await tf.setBackend('webgpu'), tf.getBackend());
const b: any = tf.backend();
console.log(b.adapterInfo, b.device === e.device);
const x = tf.randomNormal([1, 80, 80, 64]);
const w = tf.randomNormal([3, 3, 64, 64]);
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  const y = tf.conv2d(x as any, w as any, 1, 'same');
  b.endComputePassEncoder(); if (b.commandEncoder) b.submitQueue();
  await b.device.queue.onSubmittedWorkDone();
  console.log('ms', performance.now() - t0, y.shape);
  y.dispose();
}
process.exit(0);
