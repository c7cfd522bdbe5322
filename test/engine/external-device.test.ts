/**
 * initEngine({ device }): the engine runs on a device it was given and owns nothing it did not
 * create: shutdown frees its buffers and leaves the device alive for its owner.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { acquireDevice } from '../../node/index.ts';
import { initEngine, shutdownEngine, engine, tensor, add, sum } from '../../engine/index.ts';

afterAll(() => shutdownEngine());

describe('initEngine({ device })', () => {
  it('computes on the given device, then leaves it alive and usable after shutdown', async () => {
    // An application's own device (here from Dawn; in a browser from navigator.gpu).
    const own = await acquireDevice();
    const device = own.device;
    let lost = false;
    void device.lost.then(() => (lost = true));

    const e = await initEngine({ device, deviceAdapter: own.adapter! });
    expect(e.device).toBe(device);
    expect(e.acquired.owned).toBe(false);
    expect(e.acquired.backend).toBe('external');
    expect(e.acquired.limits.maxStorageBufferBindingSize).toBe(device.limits.maxStorageBufferBindingSize);
    const x = tensor([1, 2, 3]);
    const y = sum(add(x, 10));
    expect(await y.item()).toBe(36);
    expect(e.pool.getStats().liveBuffers).toBeGreaterThan(0);
    const other = await acquireDevice();
    await expect(initEngine({ device: other.device })).rejects.toThrow(/another device; call shutdownEngine\(\) first/);
    other.device.destroy();

    shutdownEngine();
    expect(e.pool.getStats().liveBuffers).toBe(0);
    expect(() => engine()).toThrow(/initEngine/);
    // The device is still the application's: it works and was not lost.
    const buf = device.createBuffer({ size: 16, usage: 0x0001 | 0x0008, mappedAtCreation: false }); // MAP_READ | COPY_DST
    device.queue.writeBuffer(buf, 0, new Float32Array([1, 2, 3, 4]));
    await buf.mapAsync(0x0001);
    expect(Array.from(new Float32Array(buf.getMappedRange()))).toEqual([1, 2, 3, 4]);
    buf.unmap();
    await new Promise((r) => setTimeout(r, 50));
    expect(lost).toBe(false);
    device.destroy();
  });

  it('after a shutdown, initEngine() acquires a device of its own again (and owns it)', async () => {
    const e = await initEngine();
    expect(e.acquired.owned).toBe(true);
    expect(await tensor([2]).item()).toBe(2);
    shutdownEngine();
  });
});
