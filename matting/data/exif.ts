/**
 * EXIF orientation for JPEGs: a small reader for the one tag we need (0x0112 in IFD0 of the APP1
 * "Exif" segment) and the pixel remapping. jpeg-js decodes pixels in stored order; cameras store
 * portrait shots rotated and set this tag, so without it a matte and its photo may disagree.
 */

/** Orientation 1..8 as in the EXIF spec; 1 (as stored) when absent or malformed. */
export type Orientation = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;

/**
 * Finds the EXIF orientation of a JPEG. Scans marker segments from SOI up to the first SOS. A
 * malformed EXIF block is ignored (orientation 1): the pixels are still usable, and refusing the
 * file over a broken metadata block would be stricter than any viewer.
 */
export function jpegOrientation(buf: Uint8Array): Orientation {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8) return 1;
  let p = 2;
  while (p + 4 <= buf.length) {
    if (buf[p] !== 0xff) return 1;
    const marker = buf[p + 1]!;
    if (marker === 0xff) {
      p++; // fill byte
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      p += 2;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return 1; // start of scan / end: no EXIF before pixels
    const len = (buf[p + 2]! << 8) | buf[p + 3]!;
    if (len < 2) return 1;
    const start = p + 4;
    const end = Math.min(buf.length, p + 2 + len);
    if (marker === 0xe1) {
      const o = orientationFromApp1(buf.subarray(start, end));
      if (o !== null) return o;
    }
    p += 2 + len;
  }
  return 1;
}

function orientationFromApp1(seg: Uint8Array): Orientation | null {
  // "Exif\0\0" then a TIFF header.
  if (seg.length < 14) return null;
  if (seg[0] !== 0x45 || seg[1] !== 0x78 || seg[2] !== 0x69 || seg[3] !== 0x66 || seg[4] !== 0 || seg[5] !== 0) {
    return null;
  }
  const tiff = seg.subarray(6);
  let little: boolean;
  if (tiff[0] === 0x49 && tiff[1] === 0x49) little = true;
  else if (tiff[0] === 0x4d && tiff[1] === 0x4d) little = false;
  else return null;
  const u16 = (o: number): number =>
    o + 2 > tiff.length ? -1 : little ? tiff[o]! | (tiff[o + 1]! << 8) : (tiff[o]! << 8) | tiff[o + 1]!;
  const u32 = (o: number): number =>
    o + 4 > tiff.length
      ? -1
      : little
        ? (tiff[o]! | (tiff[o + 1]! << 8) | (tiff[o + 2]! << 16) | (tiff[o + 3]! << 24)) >>> 0
        : ((tiff[o]! << 24) | (tiff[o + 1]! << 16) | (tiff[o + 2]! << 8) | tiff[o + 3]!) >>> 0;
  if (u16(2) !== 42) return null;
  const ifd = u32(4);
  if (ifd < 8) return null;
  const count = u16(ifd);
  if (count < 0) return null;
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + 12 * i;
    const tag = u16(e);
    if (tag < 0) return null;
    if (tag !== 0x0112) continue;
    const type = u16(e + 2);
    // SHORT (3) is the spec's type; a few writers use LONG (4).
    const value = type === 3 ? u16(e + 8) : type === 4 ? u32(e + 8) : -1;
    return value >= 1 && value <= 8 ? (value as Orientation) : null;
  }
  return null;
}

/** Whether an orientation swaps width and height (the 90-degree ones). */
export function swapsAxes(o: Orientation): boolean {
  return o >= 5;
}

/**
 * Remaps HWC pixels stored with orientation `o` into display order. Display pixel (x, y) of a
 * W'xH' result reads the stored pixel given by the EXIF definition of each orientation.
 */
export function applyOrientation(
  data: Float32Array,
  width: number,
  height: number,
  channels: number,
  o: Orientation,
): { data: Float32Array; width: number; height: number } {
  if (o === 1) return { data, width, height };
  const W = width;
  const H = height;
  const outW = swapsAxes(o) ? H : W;
  const outH = swapsAxes(o) ? W : H;
  const out = new Float32Array(data.length);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      let sx: number;
      let sy: number;
      switch (o) {
        case 2: sx = W - 1 - x; sy = y; break; // mirror horizontal
        case 3: sx = W - 1 - x; sy = H - 1 - y; break; // rotate 180
        case 4: sx = x; sy = H - 1 - y; break; // mirror vertical
        case 5: sx = y; sy = x; break; // transpose
        case 6: sx = y; sy = H - 1 - x; break; // rotate 90 clockwise to display
        case 7: sx = W - 1 - y; sy = H - 1 - x; break; // transverse
        case 8: sx = W - 1 - y; sy = x; break; // rotate 90 counter-clockwise to display
      }
      const si = (sy * W + sx) * channels;
      const di = (y * outW + x) * channels;
      for (let c = 0; c < channels; c++) out[di + c] = data[si + c]!;
    }
  }
  return { data: out, width: outW, height: outH };
}
