/**
 * A PNG encoder for the page's downloads. A canvas's toBlob() would go through premultiplied
 * alpha (a cut-out's colours at low alpha lose their low bits) and always writes RGBA; this writes
 * the exact bytes: 8-bit greyscale for an alpha matte (what `matting-engine predict` writes) and
 * 8-bit RGBA for a cut-out. Deflate comes from the browser's CompressionStream ('deflate' is the
 * zlib format PNG's IDAT wants).
 */

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

async function deflate(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as BlobPart]).stream().pipeThrough(new CompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** PNG bytes of `channels` (1 = grey, 4 = RGBA) 8-bit samples per pixel, row-major. */
export async function encodePng(width: number, height: number, channels: 1 | 4, samples: Uint8Array): Promise<Uint8Array> {
  if (samples.length !== width * height * channels) throw new Error(`encodePng: ${samples.length} samples for ${width}x${height}x${channels}`);
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = channels === 1 ? 0 : 6; // colour type: greyscale / RGBA
  // Each row is prefixed with filter type 0 (none).
  const stride = width * channels;
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) raw.set(samples.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const parts = [new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', await deflate(raw)), chunk('IEND', new Uint8Array())];
  return new Uint8Array(await new Blob(parts as BlobPart[]).arrayBuffer());
}
