/**
 * A progress line for long runs, on stderr so stdout stays the report. On a TTY it redraws one
 * bar in place; otherwise (CI logs, pipes) it prints one plain line per step. Hand-written: a bar
 * is twenty lines, not worth a dependency.
 */
export interface Progress {
  /** Sets the total number of steps (may grow as work is planned). */
  total(n: number): void;
  /** One step done, with what it was. */
  tick(label: string): void;
  done(): void;
}

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export function createProgress(stream: ProgressStream, title = 'arcsim run'): Progress {
  let total = 0;
  let n = 0;
  const tty = !!stream.isTTY;
  const width = 24;
  return {
    total(t) {
      total = t;
    },
    tick(label) {
      n++;
      if (!tty) {
        stream.write(`${title}: [${n}/${total}] ${label}\n`);
        return;
      }
      const filled = total ? Math.round((n / total) * width) : 0;
      const line = `${title} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${n}/${total} ${label}`;
      const max = (stream.columns ?? 100) - 1;
      stream.write(`\r\x1b[2K${line.length > max ? line.slice(0, max) : line}`);
    },
    done() {
      if (tty) stream.write('\r\x1b[2K');
    },
  };
}

/** Progress that shows nothing (tests, --no-progress). */
export const silentProgress: Progress = { total() {}, tick() {}, done() {} };
