/** Resampling whole images on the CPU (the data builder's photos and crops), HWC in and out. */
import type { Image } from './image.ts';

/**
 * Resizes an HWC image (any channel count) to width x height. Each output pixel averages the source
 * area it covers (box filter, exact for integer factors), so downscaling a photo does not alias;
 * upscaling falls back to bilinear with pixel-centre alignment.
 */
export function resizeImage(src: Image, width: number, height: number): Image {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width >= 1 && height >= 1)) throw new Error(`resizeImage: bad size ${width}x${height}`);
  const C = src.channels;
  const out = new Float32Array(width * height * C);
  const sx = src.width / width;
  const sy = src.height / height;
  if (sx >= 1 && sy >= 1) {
    for (let y = 0; y < height; y++) {
      const y0 = y * sy, y1 = (y + 1) * sy;
      for (let x = 0; x < width; x++) {
        const x0 = x * sx, x1 = (x + 1) * sx;
        const acc = new Float64Array(C);
        let wsum = 0;
        for (let yy = Math.floor(y0); yy < Math.min(src.height, Math.ceil(y1)); yy++) {
          const wy = Math.min(y1, yy + 1) - Math.max(y0, yy);
          for (let xx = Math.floor(x0); xx < Math.min(src.width, Math.ceil(x1)); xx++) {
            const w = wy * (Math.min(x1, xx + 1) - Math.max(x0, xx));
            const p = (yy * src.width + xx) * C;
            for (let c = 0; c < C; c++) acc[c] += w * src.data[p + c]!;
            wsum += w;
          }
        }
        const o = (y * width + x) * C;
        for (let c = 0; c < C; c++) out[o + c] = acc[c]! / wsum;
      }
    }
    return { width, height, channels: src.channels, data: out };
  }
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), src.height - 1);
    const y0 = Math.floor(fy), y1 = Math.min(y0 + 1, src.height - 1), ty = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), src.width - 1);
      const x0 = Math.floor(fx), x1 = Math.min(x0 + 1, src.width - 1), tx = fx - x0;
      for (let c = 0; c < C; c++) {
        const a = src.data[(y0 * src.width + x0) * C + c]!, b = src.data[(y0 * src.width + x1) * C + c]!;
        const d = src.data[(y1 * src.width + x0) * C + c]!, e = src.data[(y1 * src.width + x1) * C + c]!;
        const top = a + tx * (b - a), bot = d + tx * (e - d);
        out[(y * width + x) * C + c] = top + ty * (bot - top);
      }
    }
  }
  return { width, height, channels: src.channels, data: out };
}

/** The w x h window at (x0, y0) of an HWC image. */
export function cropImage(src: Image, x0: number, y0: number, w: number, h: number): Image {
  const C = src.channels;
  const out = new Float32Array(w * h * C);
  for (let y = 0; y < h; y++) out.set(src.data.subarray(((y0 + y) * src.width + x0) * C, ((y0 + y) * src.width + x0 + w) * C), y * w * C);
  return { width: w, height: h, channels: src.channels, data: out };
}
