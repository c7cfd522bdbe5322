/** The loss plot: an SVG line chart (log-scale y) of each loss term against the step, rewritten as training goes. */
export interface Series {
  name: string;
  points: [number, number][];
  color: string;
}

const esc = (s: string) => s.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c]!);

export function lossPlotSvg(title: string, series: Series[], width = 720, height = 400): string {
  const m = { l: 64, r: 150, t: 36, b: 44 };
  const pts = series.flatMap((s) => s.points).filter(([, y]) => y > 0 && Number.isFinite(y));
  const xs = pts.map(([x]) => x);
  const ys = pts.map(([, y]) => Math.log10(y));
  const x0 = Math.min(0, ...xs), x1 = Math.max(1, ...xs);
  let y0 = Math.floor(Math.min(...ys, 0) * 2) / 2, y1 = Math.ceil(Math.max(...ys, -1) * 2) / 2;
  if (y0 === y1) y1 = y0 + 0.5;
  const px = (x: number) => m.l + ((x - x0) / (x1 - x0 || 1)) * (width - m.l - m.r);
  const py = (ly: number) => height - m.b - ((ly - y0) / (y1 - y0)) * (height - m.t - m.b);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${m.l}" y="20" font-size="14">${esc(title)}</text>`,
  ];
  for (let ly = y0; ly <= y1 + 1e-9; ly += 0.5) {
    const y = py(ly);
    parts.push(`<line x1="${m.l}" x2="${width - m.r}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.l - 6}" y="${y + 4}" text-anchor="end">${Number((10 ** ly).toPrecision(2))}</text>`);
  }
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
