/**
 * A one-line text progress bar (items, MB, rate, ETA). In a terminal or a Jupyter cell it
 * rewrites its line with "\r" (both front ends honour it); redraws are throttled so a cell's
 * saved output stays small. Elsewhere (CI logs) it prints a line at each quarter.
 */
export interface ProgressOptions {
  label: string;
  total: number;
  /** Defaults to process.stdout. */
  write?: (text: string) => void;
  /** Minimum time between redraws. */
  intervalMs?: number;
  /** Force in-place redraws on or off (default: on for TTYs and Jupyter kernels). */
  inPlace?: boolean;
  now?: () => number;
}

const BAR_WIDTH = 24;

export class ProgressBar {
  readonly label: string;
  readonly total: number;
  completed = 0;
  failed = 0;
  bytes = 0;
  private readonly write: (text: string) => void;
  private readonly intervalMs: number;
  private readonly inPlace: boolean;
  private readonly now: () => number;
  private readonly started: number;
  private lastDraw = -Infinity;
  private lastQuarter = 0;
  private lastWritten = -1;
  private lastLength = 0;
  private finished = false;

  constructor(options: ProgressOptions) {
    this.label = options.label;
    this.total = Math.max(0, options.total);
    this.write = options.write ?? ((text) => process.stdout.write(text));
    this.intervalMs = options.intervalMs ?? 500;
    this.inPlace = options.inPlace ?? (Boolean(process.stdout.isTTY) || isJupyterKernel());
    this.now = options.now ?? (() => performance.now());
    this.started = this.now();
  }

  /** Counts one finished item (and its bytes); redraws if the throttle allows. */
  tick(update: { bytes?: number; failed?: boolean } = {}): void {
    this.completed += 1;
    if (update.failed) this.failed += 1;
    this.bytes += update.bytes ?? 0;
    this.draw(false);
  }

  /** Draws the final state once and ends the line. */
  done(): void {
    if (this.finished) return;
    this.finished = true;
    this.draw(true);
  }

  /** The current line, without control characters. */
  render(): string {
    const elapsedS = Math.max(1e-3, (this.now() - this.started) / 1000);
    const fraction = this.total === 0 ? 1 : Math.min(1, this.completed / this.total);
    const filled = Math.round(fraction * BAR_WIDTH);
    const bar = `${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}`;
    const mb = this.bytes / 1e6;
    const rate = this.completed / elapsedS;
    const remaining = this.total - this.completed;
    const eta =
      this.completed > 0 && remaining > 0 ? ` ETA ${formatSeconds(remaining / rate)}` : "";
    const failures = this.failed > 0 ? ` ${this.failed} failed` : "";
    return `${this.label} [${bar}] ${this.completed}/${this.total} ${mb.toFixed(1)} MB ${(mb / elapsedS).toFixed(1)} MB/s ${formatSeconds(elapsedS)}${eta}${failures}`;
  }

  private draw(final: boolean): void {
    const now = this.now();
    if (this.inPlace) {
      if (!final && now - this.lastDraw < this.intervalMs) return;
      this.lastDraw = now;
      // "\r" only moves the cursor: pad over the tail of a longer previous line.
      const line = this.render();
      const padding = " ".repeat(Math.max(0, this.lastLength - line.length));
      this.lastLength = line.length;
      this.write(`\r${line}${padding}${final ? "\n" : ""}`);
      return;
    }
    const quarter = this.total === 0 ? 4 : Math.floor((this.completed / this.total) * 4);
    if ((final && this.lastWritten !== this.completed) || quarter > this.lastQuarter) {
      this.lastQuarter = quarter;
      this.lastWritten = this.completed;
      this.write(`${this.render()}\n`);
    }
  }
}

function isJupyterKernel(): boolean {
  return Boolean(process.env.JPY_PARENT_PID) || process.argv.some((arg) => /tslab/.test(arg));
}

function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m${String(Math.round(seconds - minutes * 60)).padStart(2, "0")}s`;
}
