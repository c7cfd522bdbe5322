/**
 * Progress output for long work, on stderr so stdout stays the command's result (`eval > scores.txt`
 * keeps only the table): a line redrawn in place on a terminal (and on a timer, so a long first step
 * still shows time passing), plain lines otherwise, JSON lines on stdout on request.
 */
export type OutputMode = 'bar' | 'lines' | 'json' | 'quiet';

/** Whether stderr is a terminal (bin.js runs the command in a child whose stderr is a pipe; it says so in the environment). */
export function stderrIsTerminal(): boolean {
  return !!process.stderr.isTTY || process.env.MATTING_STDERR_TTY === '1';
}

export function outputMode(o: { json?: boolean; quiet?: boolean }): OutputMode {
  if (o.json) return 'json';
  if (o.quiet) return 'quiet';
  return stderrIsTerminal() ? 'bar' : 'lines';
}

function terminalColumns(): number {
  return process.stderr.columns || Number(process.env.MATTING_COLUMNS) || Number(process.env.COLUMNS) || 80;
}

export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '?';
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

/** A status line in three parts: the head (step, bar) and the tail (ETA) are never cut; the body gives way. */
export interface Status {
  head: string;
  body?: string;
  tail?: string;
}

/** Fits a status into `cols - 1` characters: the body is shortened (with '…') or dropped, then the head, never the tail. */
export function fitStatus(s: Status, cols: number): string {
  const max = Math.max(10, cols - 1);
  const tail = s.tail ? ` | ${s.tail}` : '';
  let head = s.head;
  if (head.length + tail.length > max) head = head.replace(/\s*\[[=> ]*\]/, '');
  const room = max - head.length - tail.length;
  let body = s.body ? ` ${s.body}` : '';
  if (body.length > room) body = room >= 4 ? body.slice(0, room - 1) + '…' : '';
  const line = head + body + tail;
  return line.length > max ? line.slice(line.length - max) : line;
}

export class Reporter {
  private barShown = false;
  private last: Status | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private started = performance.now();
  readonly err: { write(s: string): unknown };
  readonly out: { write(s: string): unknown };

  constructor(
    readonly mode: OutputMode,
    io: { err?: { write(s: string): unknown }; out?: { write(s: string): unknown }; columns?: () => number } = {},
  ) {
    this.err = io.err ?? process.stderr;
    this.out = io.out ?? process.stdout;
    this.columns = io.columns ?? terminalColumns;
  }

  private readonly columns: () => number;

  /** A transient status (redrawn in bar mode, one plain line on stderr in lines mode). */
  status(s: Status | string): void {
    const st = typeof s === 'string' ? { head: s } : s;
    if (this.mode === 'bar') {
      this.last = st;
      this.draw();
    } else if (this.mode === 'lines') this.err.write([st.head, st.body, st.tail].filter(Boolean).join(' ') + '\n');
  }

  private draw(): void {
    if (!this.last) return;
    this.err.write(`\r\x1b[K${fitStatus(this.last, this.columns())}`);
    this.barShown = true;
  }

  /**
   * Redraws the status every `ms` from `make()` (bar mode only; the timer does not keep the process
   * alive). `make` returns null to keep the current line.
   */
  tick(make: () => Status | null, ms = 1000): void {
    this.stopTicking();
    if (this.mode !== 'bar') return;
    this.timer = setInterval(() => {
      const s = make();
      if (s) {
        this.last = s;
        this.draw();
      }
    }, ms);
    this.timer.unref?.();
  }

  stopTicking(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Item progress (`done` of `total` finished): the bar, what runs now, and the elapsed time and ETA, kept fresh by the timer. */
  progress(done: number, total: number, now: string): void {
    if (done === 0) this.started = performance.now();
    const make = (): Status => {
      const el = (performance.now() - this.started) / 1000;
      const eta = done > 0 ? (el / done) * (total - done) : NaN;
      return { head: `${done}/${total} ${bar(done, total)}`, body: now, tail: done > 0 && done < total ? `${formatDuration(el)}, ETA ${formatDuration(eta)}` : formatDuration(el) };
    };
    this.status(make());
    if (done < total) this.tick(make);
    else this.finish();
  }

  /** A line that stays, on stdout (ends any status line first). */
  line(text: string): void {
    if (this.mode === 'json' || this.mode === 'quiet') return;
    this.endBar();
    this.out.write(text + '\n');
  }

  /** A note about the work (not its result), on stderr; not in quiet or JSON mode. */
  note(text: string): void {
    if (this.mode === 'json' || this.mode === 'quiet') return;
    this.endBar();
    this.err.write(text + '\n');
  }

  /** Always shown, even in quiet mode (not in JSON mode). */
  important(text: string): void {
    if (this.mode === 'json') return;
    this.endBar();
    this.out.write(text + '\n');
  }

  json(event: object): void {
    if (this.mode === 'json') this.out.write(JSON.stringify(event) + '\n');
  }

  warn(text: string): void {
    this.endBar();
    if (this.mode === 'json') this.json({ type: 'warning', message: text });
    else this.err.write(`warning: ${text}\n`);
  }

  /** Ends the status line and its timer (call when the work is over). */
  finish(): void {
    this.stopTicking();
    this.endBar();
  }

  /** Ends the status line (a timer set by tick() draws it again on its next turn). */
  endBar(): void {
    if (this.barShown) {
      this.err.write('\n');
      this.barShown = false;
      this.last = null;
    }
  }
}
