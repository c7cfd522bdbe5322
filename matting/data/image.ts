/** Decoded image types (the codecs, Node only, are in image-io.ts). */
/** Decoded pixels: row-major HWC, values 0..255 (16-bit PNGs keep their fraction: v16 / 257). */
export interface Image {
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  data: Float32Array;
}

/** One channel, row-major, 0..255. */
export interface GreyImage {
  width: number;
  height: number;
  data: Float32Array;
}
