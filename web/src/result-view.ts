/** The result: the alpha as grey, or the cut-out composited over a checkerboard or a colour. */
import type { Rgba } from './images.ts';

export type View = 'alpha' | 'cutout';
export type Backdrop = { kind: 'checker' } | { kind: 'colour'; rgb: [number, number, number] };

export function parseColour(hex: string): [number, number, number] {
  const n = parseInt(hex.replace('#', ''), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

export function drawResult(canvas: HTMLCanvasElement, image: Rgba, alpha8: Uint8Array, view: View, backdrop: Backdrop): void {
  const { width, height } = image;
  canvas.width = width;
  canvas.height = height;
  const out = new ImageData(width, height);
  const o = out.data;
  const cell = Math.max(4, Math.round(Math.min(width, height) / 32));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const a = alpha8[i]!;
      if (view === 'alpha') {
        o[i * 4] = o[i * 4 + 1] = o[i * 4 + 2] = a;
      } else {
        const bg: [number, number, number] =
          backdrop.kind === 'colour' ? backdrop.rgb : ((Math.floor(x / cell) + Math.floor(y / cell)) & 1 ? [204, 204, 204] : [255, 255, 255]);
        const f = a / 255;
        for (let c = 0; c < 3; c++) o[i * 4 + c] = image.data[i * 4 + c]! * f + bg[c]! * (1 - f);
      }
      o[i * 4 + 3] = 255;
    }
  }
  canvas.getContext('2d')!.putImageData(out, 0, 0);
}

/** A loss curve (log scale when it spans more than a decade). */
export function drawLoss(canvas: HTMLCanvasElement, losses: number[]): void {
  const ctx = canvas.getContext('2d')!;
  const { width: W, height: H } = canvas;
  ctx.clearRect(0, 0, W, H);
  if (!losses.length) return;
  const lo = Math.min(...losses), hi = Math.max(...losses);
  const log = hi / Math.max(lo, 1e-12) > 10;
  const f = (v: number) => (log ? Math.log(Math.max(v, 1e-12)) : v);
  const a = f(lo), b = f(hi) === a ? a + 1 : f(hi);
  ctx.strokeStyle = '#3a7bd5';
  ctx.lineWidth = 2;
  ctx.beginPath();
  losses.forEach((v, i) => {
    const x = 30 + (losses.length === 1 ? 0 : (i / (losses.length - 1)) * (W - 40));
    const y = 10 + (1 - (f(v) - a) / (b - a)) * (H - 20);
    i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
  });
  ctx.stroke();
  ctx.fillStyle = '#666';
  ctx.font = '11px sans-serif';
  ctx.fillText(hi.toPrecision(3), 2, 12);
  ctx.fillText(lo.toPrecision(3), 2, H - 4);
}
