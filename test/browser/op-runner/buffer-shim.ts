/**
 * The one use of Node's Buffer in the op tests: `Buffer.from(arrayBuffer).equals(other)` for
 * bit-identical reruns. Injected as the global `Buffer` of the browser bundle.
 */
class BytesView {
  constructor(readonly bytes: Uint8Array) {}
  equals(other: BytesView): boolean {
    const a = this.bytes, b = other.bytes;
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
}

export const Buffer = {
  from(buffer: ArrayBufferLike): BytesView {
    return new BytesView(new Uint8Array(buffer));
  },
};
