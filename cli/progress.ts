/**
 * Progress display of the remote commands. On a terminal: a cli-progress bar redrawn in
 * place. Otherwise (a pipe, a file, CI logs): plain lines, no ANSI codes and no carriage
 * returns, one when the work starts, one each time another tenth of it is done, and one
 * at the end, so a log shows progress without thousands of lines.
 */
import cliProgress from 'cli-progress';

export interface ProgressState {
  value: number;
  total: number;
  /** Throughput text, e.g. "120.5 clips/s" or "3.2 MB/s". */
  rate: string;
  /** Seconds left, or null when unknown. */
  etaSeconds: number | null;
}

export interface Progress {
  update(s: ProgressState): void;
  /** Ends the display (the bar stays on screen); idempotent. */
  stop(): void;
}

export function isTty(stream: NodeJS.WritableStream): boolean {
  return (stream as NodeJS.WriteStream).isTTY === true;
}

export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const percent = (value: number, total: number) => (total > 0 ? Math.floor((100 * value) / total) : 100);

/** `label` leads every line (e.g. "featurize corpus-mini/training"), `unit` follows the counts ("clips"). */
export function createProgress(stream: NodeJS.WritableStream, label: string, unit: string): Progress {
  return isTty(stream) ? new TtyProgress(stream, label, unit) : new LineProgress(stream, label, unit);
}

class TtyProgress implements Progress {
  private readonly bar: cliProgress.SingleBar;
  private started = false;
  private stopped = false;

  constructor(stream: NodeJS.WritableStream, label: string, unit: string) {
    this.bar = new cliProgress.SingleBar(
      {
        stream: stream as NodeJS.WriteStream,
        format: `${label} {bar} {percentage}% | {value}/{total} ${unit} | {rate} | ETA {etaText}`,
        hideCursor: true,
        barsize: 30,
        etaBuffer: 20,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  update(s: ProgressState): void {
    if (this.stopped) return;
    const payload = { rate: s.rate, etaText: formatEta(s.etaSeconds) };
    if (!this.started) {
      this.bar.start(s.total, s.value, payload);
      this.started = true;
      return;
    }
    this.bar.setTotal(s.total);
    this.bar.update(s.value, payload);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.started) this.bar.stop();
  }
}

class LineProgress implements Progress {
  private lastTenth = -1;
  private last: ProgressState | null = null;
  private lastPrinted: ProgressState | null = null;
  private stopped = false;

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly label: string,
    private readonly unit: string,
  ) {}

  update(s: ProgressState): void {
    if (this.stopped) return;
    this.last = s;
    const tenth = s.total > 0 ? Math.floor((10 * s.value) / s.total) : 10;
    if (tenth > this.lastTenth) {
      this.lastTenth = tenth;
      this.print(s);
    }
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    // The last state, unless it was printed already.
    if (this.last && this.last !== this.lastPrinted) this.print(this.last);
  }

  private print(s: ProgressState): void {
    this.lastPrinted = s;
    const eta = s.value >= s.total ? '' : `, ETA ${formatEta(s.etaSeconds)}`;
    this.stream.write(`${this.label}: ${s.value}/${s.total} ${this.unit} (${percent(s.value, s.total)}%), ${s.rate}${eta}\n`);
  }
}
