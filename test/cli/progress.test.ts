/** Progress: fitting a status into the terminal without cutting step or ETA, and the timer redraw. */
import { describe, expect, it } from 'vitest';
import { fitStatus, Reporter, bar } from '../../cli/progress.ts';

describe('fitStatus', () => {
  const s = { head: `step 123/300 ${bar(123, 300)}`, body: 'total 0.1234  alpha 0.0456  composition 0.0789  refined 0.0123 | 12.3 img/s', tail: 'ETA 1m20s' };
  it('keeps the step and the ETA whole at 80 and 120 columns; the losses give way', () => {
    for (const cols of [80, 120]) {
      const line = fitStatus(s, cols);
      expect(line.length).toBeLessThanOrEqual(cols - 1);
      expect(line.startsWith('step 123/300 [')).toBe(true);
      expect(line.endsWith(' | ETA 1m20s')).toBe(true);
    }
    expect(fitStatus(s, 80)).toContain('…');
    expect(fitStatus(s, 200)).toBe(`${s.head} ${s.body} | ${s.tail}`);
  });
  it('drops the bar before the step or the ETA on a narrow terminal', () => {
    const line = fitStatus(s, 30);
    expect(line.length).toBeLessThanOrEqual(29);
    expect(line).toMatch(/^step 123\/300 .*\| ETA 1m20s$/);
    expect(line).not.toContain('[');
    expect(fitStatus(s, 26)).toBe('step 123/300 | ETA 1m20s');
  });
});

describe('Reporter', () => {
  const sink = () => {
    const chunks: string[] = [];
    return { chunks, write: (c: string) => chunks.push(c) };
  };
  it('bar mode: redraws on a timer between updates, on stderr only', async () => {
    const err = sink(), out = sink();
    const rep = new Reporter('bar', { err, out, columns: () => 80 });
    let n = 0;
    rep.tick(() => ({ head: `tick ${++n}` }), 10);
    await new Promise((r) => setTimeout(r, 80));
    rep.finish();
    expect(n).toBeGreaterThanOrEqual(3);
    expect(err.chunks.filter((c) => c.startsWith('\r\x1b[Ktick ')).length).toBe(n);
    expect(out.chunks).toEqual([]);
    const after = n;
    await new Promise((r) => setTimeout(r, 40));
    expect(n).toBe(after);
  });
  it('lines mode: plain lines on stderr, no timer, results on stdout', async () => {
    const err = sink(), out = sink();
    const rep = new Reporter('lines', { err, out });
    let n = 0;
    rep.tick(() => ({ head: `tick ${++n}` }), 5);
    rep.progress(1, 3, 'b.png');
    rep.line('wrote 3');
    await new Promise((r) => setTimeout(r, 30));
    rep.finish();
    expect(n).toBe(0);
    expect(err.chunks.join('')).toMatch(/^1\/3 \[={7}> +\] b\.png \d+s, ETA \d+s\n$/);
    expect(out.chunks).toEqual(['wrote 3\n']);
  });
  it('item progress shows finished items: 3/3 is a full bar', () => {
    const err = sink();
    const rep = new Reporter('lines', { err, out: sink() });
    rep.progress(2, 3, 'c.png');
    rep.progress(3, 3, 'done');
    expect(err.chunks[0]).toContain(`2/3 ${bar(2, 3)} c.png`);
    expect(err.chunks[1]).toContain(`3/3 ${bar(3, 3)} done`);
    expect(bar(3, 3)).toBe(`[${'='.repeat(24)}]`);
  });
});
