/** The warning for a "trimap" that is not one (a binary mask, a soft matte, a resampled trimap), naming how to make a real one. */
import type { TrimapNormalisation } from '../matting/data/trimap.ts';

export function trimapWarning(file: string, raw: Float32Array, n: TrimapNormalisation): string | null {
  const convert = `make a trimap with: matting-engine trimap --mask ${file} --out <trimap.png> (or pass it to predict as --mask)`;
  if (n.oddPixels > 0) {
    const share = ((100 * n.oddPixels) / raw.length).toFixed(1);
    const values = n.oddValues.slice(0, 6).map((v) => String(Math.round(v))).join(', ');
    return `${file}: ${n.oddPixels} pixels (${share}%) are not 0/128/255 (e.g. ${values}); read as trimap by thresholds (<64 background, >191 foreground, else unknown). If it is a mask or a soft alpha, ${convert}`;
  }
  let unknown = 0;
  for (const v of raw) if (v === 128) unknown++;
  if (unknown === 0) return `${file} has no unknown (128) pixels: it looks like a binary mask, and the matte will be the mask itself; ${convert}`;
  return null;
}
