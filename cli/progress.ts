/** Progress output for long work: a rewritten line on a terminal, plain lines otherwise, JSON lines on request. */
export type OutputMode = 'bar' | 'lines' | 'json' | 'quiet';

export function outputMode(o: { json?: boolean; quiet?: boolean }): OutputMode {
  if (o.json) return 'json';
  if (o.quiet) return 'quiet';
  return process.stdout.isTTY ? 'bar' : 'lines';
}

export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec)) return '?';
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function bar(done: number, total: number, width = 24): string {
  const f = Math.max(0, Math.min(1, done / Math.max(1, total)));
  const n = Math.round(f * width);
  return `[${'='.repeat(Math.max(0, n - 1))}${n > 0 ? (n === width ? '=' : '>') : ''}${' '.repeat(width - n)}]`;
}

export class Reporter {
  private barShown = false;
  constructor(readonly mode: OutputMode) {}

  /** A transient status line (rewritten in bar mode, printed in lines mode). */
  status(text: string): void {
    if (this.mode === 'bar') {
      const cols = process.stdout.columns ?? 120;
      process.stdout.write(`\r\x1b[K${text.slice(0, cols - 1)}`);
      this.barShown = true;
    } else if (this.mode === 'lines') process.stdout.write(text + '\n');
  }

  /** A line that stays (ends any status line first). */
  line(text: string): void {
    if (this.mode === 'json' || this.mode === 'quiet') return;
    this.endBar();
    process.stdout.write(text + '\n');
  }

  /** Always shown, even in quiet mode (not in JSON mode). */
  important(text: string): void {
    if (this.mode === 'json') return;
    this.endBar();
    process.stdout.write(text + '\n');
  }

  json(event: object): void {
    if (this.mode === 'json') process.stdout.write(JSON.stringify(event) + '\n');
  }

  warn(text: string): void {
    this.endBar();
    if (this.mode === 'json') this.json({ type: 'warning', message: text });
    else process.stderr.write(`warning: ${text}\n`);
  }

  endBar(): void {
    if (this.barShown) {
      process.stdout.write('\n');
      this.barShown = false;
    }
  }
}
