/**
 * Procedural matting data, no downloads: foregrounds with soft anti-aliased blob edges, fuzzy
 * edges, hair-like strands 0.5-2 px wide with fractional alpha, semi-transparent regions and holes,
 * all over colourful textures; backgrounds from gradients, value noise and stripes. Everything is a
 * function of the seed. Written as both dataset layouts, or produced in memory as Samples.
 */
import { augmentSample, composite, defaultTrimapKernel, type Sample } from './augment.ts';
import type { Image } from './image.ts';
import { Rng, hashSeed } from './rng.ts';
import { trimapFromAlpha } from './trimap.ts';

type Rgb = [number, number, number];

function hsv(h: number, s: number, v: number): Rgb {
  const i = Math.floor(h * 6);
  const f = h * 6 - i;
  const p = v * (1 - s);
  const q = v * (1 - f * s);
  const t = v * (1 - (1 - f) * s);
  const m = [[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]][((i % 6) + 6) % 6]!;
  return [m[0]! * 255, m[1]! * 255, m[2]! * 255];
}

function randomColour(rng: Rng): Rgb {
  return hsv(rng.float(), rng.range(0.45, 1), rng.range(0.35, 1));
}

/** Smooth value noise in 0..1 with a lattice spacing of `cell` px, `octaves` octaves. */
function valueNoise(rng: Rng, w: number, h: number, cell: number, octaves: number): Float32Array {
  const out = new Float32Array(w * h);
  let amp = 1;
  let total = 0;
  for (let o = 0; o < octaves; o++) {
    const c = Math.max(2, cell / 2 ** o);
    const gw = Math.ceil(w / c) + 2;
    const gh = Math.ceil(h / c) + 2;
    const g = new Float32Array(gw * gh);
    for (let i = 0; i < g.length; i++) g[i] = rng.float();
    const ox = rng.float() * c;
    const oy = rng.float() * c;
    for (let y = 0; y < h; y++) {
      const fy = (y + oy) / c;
      const iy = Math.floor(fy);
      let ty = fy - iy;
      ty = ty * ty * (3 - 2 * ty);
      for (let x = 0; x < w; x++) {
        const fx = (x + ox) / c;
        const ix = Math.floor(fx);
        let tx = fx - ix;
        tx = tx * tx * (3 - 2 * tx);
        const k = iy * gw + ix;
        const top = g[k]! + tx * (g[k + 1]! - g[k]!);
        const bot = g[k + gw]! + tx * (g[k + gw + 1]! - g[k + gw]!);
        out[y * w + x] += amp * (top + ty * (bot - top));
      }
    }
    total += amp;
    amp *= 0.5;
  }
  for (let i = 0; i < out.length; i++) out[i] = out[i]! / total;
  return out;
}

/** A colourful RGB texture (HWC 0..255): noise, stripes or a gradient, with noise shading. */
function texture(rng: Rng, w: number, h: number, kinds: readonly ('noise' | 'stripes' | 'gradient')[]): Float32Array {
  const kind = rng.pick(kinds);
  const c1 = randomColour(rng);
  const c2 = randomColour(rng);
  const c3 = randomColour(rng);
  const m = Math.min(w, h);
  const shade = valueNoise(rng, w, h, m * rng.range(0.05, 0.25), 3);
  const out = new Float32Array(w * h * 3);
  const shadeAmt = rng.range(0.1, 0.45);
  let field: (x: number, y: number, i: number) => number;
  if (kind === 'noise') {
    const n = valueNoise(rng, w, h, m * rng.range(0.08, 0.4), 4);
    field = (_x, _y, i) => n[i]!;
  } else if (kind === 'stripes') {
    const th = rng.float() * Math.PI;
    const cs = Math.cos(th);
    const sn = Math.sin(th);
    const period = rng.range(4, m / 4);
    const phase = rng.float() * 2 * Math.PI;
    const warp = rng.range(0, 6);
    const sharp = rng.range(1, 6);
    field = (x, y, i) => {
      const v = Math.sin(((x * cs + y * sn) / period) * 2 * Math.PI + phase + warp * shade[i]!);
      return Math.min(1, Math.max(0, 0.5 + 0.5 * sharp * v));
    };
  } else {
    const th = rng.float() * 2 * Math.PI;
    const cs = Math.cos(th) / m;
    const sn = Math.sin(th) / m;
    field = (x, y) => Math.min(1, Math.max(0, 0.5 + (x - w / 2) * cs + (y - h / 2) * sn));
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const t = field(x, y, i);
      const s = 1 - shadeAmt + 2 * shadeAmt * shade[i]!;
      const u = shade[i]! * shade[i]!;
      for (let c = 0; c < 3; c++) {
        const v = (c1[c]! + t * (c2[c]! - c1[c]!)) * (1 - u) + c3[c]! * u;
        out[3 * i + c] = Math.min(255, Math.max(0, v * s));
      }
    }
  }
  return out;
}

interface Blob {
  cx: number;
  cy: number;
  r: number;
  harmonics: { k: number; a: number; phase: number }[];
  /** Width of the alpha ramp in px: ~1 gives an anti-aliased hard edge, more a fuzzy one. */
  soft: number;
}

function randomBlob(rng: Rng, cx: number, cy: number, r: number, soft: number): Blob {
  const harmonics = [];
  const n = rng.int(2, 5);
  for (let j = 0; j < n; j++) {
    const k = rng.int(2, 7);
    harmonics.push({ k, a: rng.range(0, 0.22 / k), phase: rng.float() * 2 * Math.PI });
  }
  return { cx, cy, r, harmonics, soft };
}

function blobRadius(b: Blob, theta: number): number {
  let f = 1;
  for (const h of b.harmonics) f += h.a * Math.sin(h.k * theta + h.phase);
  return b.r * f;
}

/** Calls fn(i, coverage) for pixels the blob touches; coverage in (0, 1]. */
function forBlob(b: Blob, w: number, h: number, fn: (i: number, cov: number) => void): void {
  let maxF = 1;
  for (const hm of b.harmonics) maxF += Math.abs(hm.a);
  const reach = b.r * maxF + b.soft + 1;
  const x0 = Math.max(0, Math.floor(b.cx - reach));
  const x1 = Math.min(w - 1, Math.ceil(b.cx + reach));
  const y0 = Math.max(0, Math.floor(b.cy - reach));
  const y1 = Math.min(h - 1, Math.ceil(b.cy + reach));
  const inner = b.r * (2 - maxF) - b.soft; // inside this radius coverage is surely 1
  for (let y = y0; y <= y1; y++) {
    const dy = y + 0.5 - b.cy;
    for (let x = x0; x <= x1; x++) {
      const dx = x + 0.5 - b.cx;
      const d = Math.sqrt(dx * dx + dy * dy);
      let cov: number;
      if (d < inner) cov = 1;
      else {
        const rr = blobRadius(b, Math.atan2(dy, dx));
        cov = (rr - d) / b.soft + 0.5;
        if (cov <= 0) continue;
        if (cov > 1) cov = 1;
      }
      fn(y * w + x, cov);
    }
  }
}

/** A foreground: RGB colours everywhere (HWC 0..255) and its alpha (0..1). */
export function syntheticForeground(seed: number, width: number, height: number): { fg: Image; alpha: Float32Array } {
  const rng = new Rng(hashSeed(seed, 0xf9));
  const w = width;
  const h = height;
  const m = Math.min(w, h);
  const fgData = texture(rng, w, h, ['noise', 'stripes', 'noise', 'gradient']);
  const alpha = new Float32Array(w * h);

  const main = randomBlob(rng, w * rng.range(0.35, 0.65), h * rng.range(0.35, 0.65), m * rng.range(0.16, 0.3), rng.bool(0.7) ? 1 : rng.range(2, 8));
  const blobs = [main];
  for (let j = rng.int(0, 2); j > 0; j--) {
    const a = rng.float() * 2 * Math.PI;
    const d = main.r * rng.range(0.5, 1.2);
    blobs.push(randomBlob(rng, main.cx + d * Math.cos(a), main.cy + d * Math.sin(a), main.r * rng.range(0.3, 0.7), rng.bool(0.6) ? 1 : rng.range(2, 6)));
  }
  for (const b of blobs) forBlob(b, w, h, (i, cov) => { if (cov > alpha[i]!) alpha[i] = cov; });

  // Semi-transparent region (glass, veil): alpha scaled down towards t inside it.
  if (rng.bool(0.6)) {
    const a = rng.float() * 2 * Math.PI;
    const d = main.r * rng.range(0, 0.8);
    const t = rng.range(0.2, 0.8);
    const region = randomBlob(rng, main.cx + d * Math.cos(a), main.cy + d * Math.sin(a), main.r * rng.range(0.25, 0.6), rng.range(1, 5));
    forBlob(region, w, h, (i, cov) => { alpha[i] = alpha[i]! * (1 - (1 - t) * cov); });
  }
  // Holes.
  for (let j = rng.int(0, 2); j > 0; j--) {
    const a = rng.float() * 2 * Math.PI;
    const d = main.r * rng.range(0, 0.6);
    const hole = randomBlob(rng, main.cx + d * Math.cos(a), main.cy + d * Math.sin(a), main.r * rng.range(0.08, 0.25), rng.bool(0.7) ? 1 : rng.range(2, 4));
    forBlob(hole, w, h, (i, cov) => { alpha[i] = alpha[i]! * (1 - cov); });
  }

  // Hair-like strands growing out of the main blob, composited "over" the body.
  const strands = rng.int(6, 50);
  const cov = new Float32Array(w * h);
  const hairBase = randomColour(rng);
  for (let sIdx = 0; sIdx < strands; sIdx++) {
    const theta = rng.float() * 2 * Math.PI;
    const r0 = blobRadius(main, theta) * rng.range(0.8, 0.98);
    let px = main.cx + r0 * Math.cos(theta);
    let py = main.cy + r0 * Math.sin(theta);
    let dir = theta + rng.range(-0.6, 0.6);
    const curl = rng.range(-0.04, 0.04);
    const len = m * rng.range(0.06, 0.3);
    const width0 = rng.range(0.5, 2);
    const opacity = rng.range(0.35, 1);
    const colour: Rgb = [0, 1, 2].map((c) => Math.min(255, Math.max(0, hairBase[c]! + rng.range(-40, 40)))) as Rgb;
    let bx0 = w;
    let by0 = h;
    let bx1 = -1;
    let by1 = -1;
    const steps = Math.ceil(len);
    for (let st = 0; st < steps; st++) {
      dir += curl + rng.range(-0.08, 0.08);
      const qx = px + Math.cos(dir);
      const qy = py + Math.sin(dir);
      const half = (width0 * (1 - (0.7 * st) / steps)) / 2; // tapers towards the tip
      const reach = half + 1;
      const xa = Math.max(0, Math.floor(Math.min(px, qx) - reach));
      const xb = Math.min(w - 1, Math.ceil(Math.max(px, qx) + reach));
      const ya = Math.max(0, Math.floor(Math.min(py, qy) - reach));
      const yb = Math.min(h - 1, Math.ceil(Math.max(py, qy) + reach));
      const sx = qx - px;
      const sy = qy - py;
      const l2 = sx * sx + sy * sy;
      for (let y = ya; y <= yb; y++) {
        for (let x = xa; x <= xb; x++) {
          const ux = x + 0.5 - px;
          const uy = y + 0.5 - py;
          let t = (ux * sx + uy * sy) / l2;
          t = t < 0 ? 0 : t > 1 ? 1 : t;
          const ex = ux - t * sx;
          const ey = uy - t * sy;
          const dist = Math.sqrt(ex * ex + ey * ey);
          let c = Math.min(1, half + 0.5 - dist);
          if (c <= 0) continue;
          c *= opacity;
          const i = y * w + x;
          if (c > cov[i]!) cov[i] = c;
        }
      }
      if (xa < bx0) bx0 = xa;
      if (ya < by0) by0 = ya;
      if (xb > bx1) bx1 = xb;
      if (yb > by1) by1 = yb;
      px = qx;
      py = qy;
    }
    for (let y = by0; y <= by1; y++) {
      for (let x = bx0; x <= bx1; x++) {
        const i = y * w + x;
        const c = cov[i]!;
        if (c <= 0) continue;
        cov[i] = 0;
        const a0 = alpha[i]!;
        const a1 = c + a0 * (1 - c);
        for (let k = 0; k < 3; k++) {
          fgData[3 * i + k] = (c * colour[k]! + a0 * (1 - c) * fgData[3 * i + k]!) / a1;
        }
        alpha[i] = a1;
      }
    }
  }
  // Exact 0 and 1 outside/inside: tiny float residues would otherwise make everything "unknown".
  for (let i = 0; i < alpha.length; i++) {
    const a = alpha[i]!;
    alpha[i] = a < 1e-4 ? 0 : a > 1 - 1e-4 ? 1 : a;
  }
  return { fg: { width: w, height: h, channels: 3, data: fgData }, alpha };
}

export function syntheticBackground(seed: number, width: number, height: number): Image {
  const rng = new Rng(hashSeed(seed, 0xb9));
  const data = texture(rng, width, height, ['noise', 'stripes', 'gradient']);
  // A second texture blended by a noise mask so backgrounds have structure at two scales.
  if (rng.bool(0.6)) {
    const other = texture(rng, width, height, ['noise', 'stripes']);
    const mask = valueNoise(rng, width, height, Math.min(width, height) * rng.range(0.1, 0.4), 2);
    for (let i = 0; i < width * height; i++) {
      const t = Math.min(1, Math.max(0, (mask[i]! - 0.5) * 4 + 0.5));
      for (let c = 0; c < 3; c++) data[3 * i + c] = data[3 * i + c]! + t * (other[3 * i + c]! - data[3 * i + c]!);
    }
  }
  return { width, height, channels: 3, data };
}

export interface SyntheticSampleOptions {
  /** Trimap kernel range, as in AugmentOptions; default scaled [5, 25]. */
  trimapKernel?: readonly [number, number];
  /** Seed of the flip and trimap kernel; default derived from the seed. Lets one scene be augmented anew each epoch. */
  augmentSeed?: number;
}

/**
 * An in-memory training Sample of size x size: a synthetic scene (fg, alpha, bg all size x size)
 * through augmentSample with a full-image crop (so: random flip, random trimap kernel, composite).
 */
export function syntheticSample(seed: number, size: number, opts: SyntheticSampleOptions = {}): Sample {
  const { fg, alpha } = syntheticForeground(hashSeed(seed, 1), size, size);
  const bg = syntheticBackground(hashSeed(seed, 2), size, size);
  const rng = new Rng(opts.augmentSeed ?? hashSeed(seed, 3));
  return augmentSample(rng, fg, alpha, bg, { size, cropScales: [1], trimapKernel: opts.trimapKernel ?? defaultTrimapKernel(size) });
}
