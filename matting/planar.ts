/** Image layout conversions: decoded images are HWC (interleaved); the network takes CHW planes. */
import type { PlanarImage } from './inference.ts';

/** Any interleaved image: `channels` values per pixel, row-major. */
export interface InterleavedImage {
  width: number;
  height: number;
  channels: number;
  data: ArrayLike<number>;
}

/** HWC (any channel count) -> CHW with the first `channels` channels (a grey image is repeated). */
export function toPlanar(img: InterleavedImage, channels: number): Float32Array {
  const { width: w, height: h } = img;
  const out = new Float32Array(channels * w * h);
  for (let c = 0; c < channels; c++) {
    const src = Math.min(c, img.channels - 1);
    for (let i = 0; i < w * h; i++) out[c * w * h + i] = img.data[i * img.channels + src]!;
  }
  return out;
}

/** An image (0..255) as predictAlpha's RGB input. */
export function imageToPlanar(img: InterleavedImage): PlanarImage {
  return { width: img.width, height: img.height, data: toPlanar(img, 3) };
}

/** A trimap image (0/128/255; its first channel) as predictAlpha's trimap input. */
export function trimapToPlanar(img: InterleavedImage): PlanarImage {
  return { width: img.width, height: img.height, data: toPlanar(img, 1) };
}
