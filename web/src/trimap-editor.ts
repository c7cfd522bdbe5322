/**
 * The trimap editor: the image with its trimap drawn over it, and brushes that paint foreground,
 * background or unknown straight into the trimap, or paint a rough mask whose edge becomes the
 * unknown band (matting/trimap-from-mask.ts, the CLI's trimap tool) at the band-slider's width.
 */
import { trimapFromMask, trimapRegions } from '../../matting/trimap-from-mask.ts';
import { TRIMAP_BG, TRIMAP_FG, TRIMAP_UNKNOWN } from '../../matting/data/trimap.ts';
import type { Rgba } from './images.ts';

export type Tool = 'fg' | 'bg' | 'unknown' | 'mask' | 'unmask';

export class TrimapEditor {
  image: Rgba | null = null;
  /** 0 / 128 / 255 per pixel. */
  trimap: Float32Array | null = null;
  /** 0..1 per pixel: the rough mask, present once the mask tools or a mask file were used. */
  mask: Float32Array | null = null;
  tool: Tool = 'unknown';
  brushRadius = 6;
  band = 10;
  /** Called whenever the trimap changed (after a stroke, a load, a band change). */
  onChange: () => void = () => {};
  private last: [number, number] | null = null;
  private readonly ctx: CanvasRenderingContext2D;

  constructor(private readonly canvas: HTMLCanvasElement) {
    this.ctx = canvas.getContext('2d')!;
    canvas.addEventListener('pointerdown', (e) => this.stroke(e, true));
    canvas.addEventListener('pointermove', (e) => e.buttons & 1 && this.stroke(e, false));
    const end = () => {
      if (!this.last) return;
      this.last = null;
      if (this.isMaskTool()) this.trimapFromMask();
      this.onChange();
    };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointerleave', end);
  }

  setImage(img: Rgba): void {
    this.image = img;
    this.canvas.width = img.width;
    this.canvas.height = img.height;
    this.trimap = null;
    this.mask = null;
    this.draw();
  }

  /** A trimap from a file (any grey levels: thresholded like the CLI's reader). */
  setTrimap(values: Float32Array): void {
    this.trimap = values.map((v) => (v === 0 || v === 128 || v === 255 ? v : v < 64 ? TRIMAP_BG : v > 191 ? TRIMAP_FG : TRIMAP_UNKNOWN));
    this.mask = null;
    this.draw();
    this.onChange();
  }

  /** A rough mask from a file (0..255): its edge becomes the unknown band. */
  setMask(values: Float32Array): void {
    this.mask = values.map((v) => v / 255);
    this.trimapFromMask();
    this.onChange();
  }

  setBand(px: number): void {
    this.band = px;
    if (this.mask) {
      this.trimapFromMask();
      this.onChange();
    }
  }

  clear(): void {
    if (!this.image) return;
    this.trimap = null;
    this.mask = null;
    this.draw();
    this.onChange();
  }

  private isMaskTool(): boolean {
    return this.tool === 'mask' || this.tool === 'unmask';
  }

  private trimapFromMask(): void {
    const { width, height } = this.image!;
    this.trimap = trimapFromMask(this.mask!, width, height, { band: this.band });
    this.draw();
  }

  private stroke(e: PointerEvent, first: boolean): void {
    if (!this.image) return;
    const r = this.canvas.getBoundingClientRect();
    const x = ((e.clientX - r.left) / r.width) * this.image.width;
    const y = ((e.clientY - r.top) / r.height) * this.image.height;
    if (first) this.canvas.setPointerCapture?.(e.pointerId);
    const from = first || !this.last ? [x, y] : this.last;
    this.last = [x, y];
    const { width, height } = this.image;
    const n = width * height;
    const mask = this.isMaskTool();
    if (mask) this.mask ??= new Float32Array(n);
    else this.trimap ??= new Float32Array(n);
    const target = mask ? this.mask! : this.trimap!;
    const value = { fg: TRIMAP_FG, bg: TRIMAP_BG, unknown: TRIMAP_UNKNOWN, mask: 1, unmask: 0 }[this.tool];
    // A capsule from the previous pointer position to this one, so fast strokes leave no gaps.
    const rad = this.brushRadius;
    const [x0, y0] = from as [number, number];
    const minX = Math.max(0, Math.floor(Math.min(x0, x) - rad)), maxX = Math.min(width - 1, Math.ceil(Math.max(x0, x) + rad));
    const minY = Math.max(0, Math.floor(Math.min(y0, y) - rad)), maxY = Math.min(height - 1, Math.ceil(Math.max(y0, y) + rad));
    const dx = x - x0, dy = y - y0, len2 = dx * dx + dy * dy;
    for (let py = minY; py <= maxY; py++) {
      for (let px = minX; px <= maxX; px++) {
        const cx = px + 0.5, cy = py + 0.5;
        const t = len2 > 0 ? Math.max(0, Math.min(1, ((cx - x0) * dx + (cy - y0) * dy) / len2)) : 0;
        const ex = cx - (x0 + t * dx), ey = cy - (y0 + t * dy);
        if (ex * ex + ey * ey <= rad * rad) target[py * width + px] = value;
      }
    }
    this.draw();
  }

  /** The image, darkened where background, tinted where unknown; the mask's outline in mask mode. */
  draw(): void {
    if (!this.image) return;
    const { width, height, data } = this.image;
    const out = new ImageData(width, height);
    const o = out.data;
    for (let i = 0; i < width * height; i++) {
      const t = this.trimap ? this.trimap[i]! : -1;
      let r = data[i * 4]!, g = data[i * 4 + 1]!, b = data[i * 4 + 2]!;
      if (t === TRIMAP_BG) (r *= 0.25), (g *= 0.25), (b *= 0.25);
      else if (t === TRIMAP_UNKNOWN) (r = 0.5 * r + 128), (g = 0.5 * g + 64), (b *= 0.5);
      const m = this.mask && this.isMaskTool() ? this.mask[i]! : 0;
      if (m > 0.5) (r = 0.7 * r), (g = 0.7 * g), (b = 0.7 * b + 76);
      o[i * 4] = r;
      o[i * 4 + 1] = g;
      o[i * 4 + 2] = b;
      o[i * 4 + 3] = 255;
    }
    this.ctx.putImageData(out, 0, 0);
  }

  /** Pixels per region, for the status line. */
  regions(): { bg: number; unknown: number; fg: number } | null {
    return this.trimap ? trimapRegions(this.trimap) : null;
  }
}
