/** The loss plot: an SVG line chart (log-scale y) of each loss term against the step, rewritten as training goes. */
export interface Series {
  name: string;
  points: [number, number][];
  color: string;
}

const esc = (s: string) => s.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c]!);

/** Log-axis ticks: 1, 1.5, 2, 3, 5, 7 times powers of ten. */
const MANTISSAS = [1, 1.5, 2, 3, 5, 7];

function ticksAround(lo: number, hi: number): number[] {
  const all: number[] = [];
  for (let e = Math.floor(Math.log10(lo)) - 1; e <= Math.ceil(Math.log10(hi)) + 1; e++) for (const m of MANTISSAS) all.push(Number((m * 10 ** e).toPrecision(3)));
  const first = all.filter((t) => t <= lo).at(-1) ?? all[0]!;
  const last = all.find((t) => t >= hi) ?? all.at(-1)!;
  return all.filter((t) => t >= first && t <= last);
}

/**
 * The y axis (log scale) spans the nearest ticks around the data: for losses in 0.17..1.2 it runs
 * 0.15..1.5, so the curves fill the plot. Returns the tick values, the first and last being the ends.
 */
export function yAxisTicks(values: number[]): number[] {
  const good = values.filter((v) => v > 0 && Number.isFinite(v));
  if (!good.length) return [0.1, 1];
  let lo = Math.min(...good), hi = Math.max(...good);
  if (lo === hi) [lo, hi] = [lo / 1.2, hi * 1.2];
  const t = ticksAround(lo, hi);
  // Keep at most ~8 labels: thin to 1-2-5 (then decades) when the range is wide.
  if (t.length > 8) {
    const thin = t.filter((v, i) => i === 0 || i === t.length - 1 || [1, 2, 5].includes(Number((v / 10 ** Math.floor(Math.log10(v) + 1e-9)).toPrecision(2))));
    return thin.length > 8 ? thin.filter((v, i) => i === 0 || i === thin.length - 1 || Number((v / 10 ** Math.floor(Math.log10(v) + 1e-9)).toPrecision(2)) === 1) : thin;
  }
  return t;
}

export function lossPlotSvg(title: string, series: Series[], width = 720, height = 400): string {
  const m = { l: 64, r: 150, t: 36, b: 44 };
  const pts = series.flatMap((s) => s.points).filter(([, y]) => y > 0 && Number.isFinite(y));
  const xs = pts.map(([x]) => x);
  const ticks = yAxisTicks(pts.map(([, y]) => y));
  const x0 = Math.min(0, ...xs), x1 = Math.max(1, ...xs);
  const y0 = Math.log10(ticks[0]!), y1 = Math.log10(ticks.at(-1)!);
  const px = (x: number) => m.l + ((x - x0) / (x1 - x0 || 1)) * (width - m.l - m.r);
  const py = (ly: number) => height - m.b - ((ly - y0) / (y1 - y0)) * (height - m.t - m.b);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${m.l}" y="20" font-size="14">${esc(title)}</text>`,
  ];
  for (const t of ticks) {
    const y = py(Math.log10(t));
    parts.push(`<line x1="${m.l}" x2="${width - m.r}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.l - 6}" y="${y + 4}" text-anchor="end" class="y-tick">${t}</text>`);
  }
  const midY = (m.t + height - m.b) / 2;
  parts.push(`<text x="16" y="${midY}" text-anchor="middle" transform="rotate(-90 16 ${midY})">loss (log scale)</text>`);
  for (let i = 0; i <= 5; i++) {
    const x = x0 + ((x1 - x0) * i) / 5;
    parts.push(`<text x="${px(x)}" y="${height - m.b + 16}" text-anchor="middle">${Math.round(x)}</text>`);
  }
  parts.push(`<text x="${(m.l + width - m.r) / 2}" y="${height - 8}" text-anchor="middle">step</text>`);
  series.forEach((s, i) => {
    const good = s.points.filter(([, y]) => y > 0 && Number.isFinite(y));
    if (good.length) {
      const d = good.map(([x, y], k) => `${k ? 'L' : 'M'}${px(x).toFixed(1)},${py(Math.log10(y)).toFixed(1)}`).join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.5"/>`);
    }
    const ly = m.t + 10 + i * 18;
    parts.push(`<line x1="${width - m.r + 10}" x2="${width - m.r + 30}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"/>`);
    parts.push(`<text x="${width - m.r + 36}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
