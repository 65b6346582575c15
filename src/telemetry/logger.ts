/** A small structured logger: one JSON object per line, to a stream given by the caller. */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface LoggerOptions {
  readonly level: LogLevel;
  /** Receives one or more complete lines, each ending in a newline (several from `logAll`). */
  readonly write: (lines: string) => void;
  readonly now?: () => Date;
}

/** One line for `logAll`. */
export interface LogEntry {
  readonly level: LogLevel;
  readonly message: string;
  readonly fields?: Record<string, unknown>;
  /**
   * The fields already written as JSON members (`"a":1,"b":"x"`), in place of `fields`: for fields
   * that repeat line after line, written once by the caller and kept (the findings of requests).
   */
  readonly json?: string;
}

/** How each logger made by `createLogger` writes several lines at once. */
const batchWriters = new WeakMap<Logger, (entries: readonly LogEntry[]) => void>();

/**
 * Logs `entries` in order. A logger made by `createLogger` writes their lines with one `write`
 * (the findings of a request: one system call rather than one per finding, when stderr is a file
 * or a pipe); any other logger gets one call per entry.
 */
export function logAll(logger: Logger, entries: readonly LogEntry[]): void {
  const writeAll = batchWriters.get(logger);
  if (writeAll) writeAll(entries);
  else for (const entry of entries) logger[entry.level](entry.message, entry.json === undefined ? entry.fields : JSON.parse(`{${entry.json}}`) as Record<string, unknown>);
}

export function createLogger(options: LoggerOptions): Logger {
  const now = options.now ?? (() => new Date());
  // The lines of one request come within a millisecond: format its time once (a few µs each).
  let lastMs = NaN;
  let lastTime = '';
  const time = (): string => {
    const date = now();
    const ms = date.getTime();
    if (ms !== lastMs) {
      lastTime = date.toISOString();
      lastMs = ms;
    }
    return lastTime;
  };
  const enabled = (level: LogLevel): boolean => order[level] >= order[options.level];
  const line = (at: string, level: LogLevel, message: string, fields: Record<string, unknown> = {}): string => `${JSON.stringify({ time: at, level, msg: message, ...fields })}\n`;
  const log = (level: LogLevel) => (message: string, fields?: Record<string, unknown>) => {
    if (enabled(level)) options.write(line(time(), level, message, fields));
  };
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
  batchWriters.set(logger, (entries) => {
    if (entries.length === 0) return;
    const at = time();
    let lines = '';
    for (const { level, message, fields, json } of entries) {
      if (!enabled(level)) continue;
      lines += json === undefined ? line(at, level, message, fields) : `{"time":"${at}","level":"${level}","msg":${JSON.stringify(message)},${json}}\n`;
    }
    if (lines) options.write(lines);
  });
  return logger;
}

/** A `write` for `createLogger` that writes the lines of one turn of the event loop at once. */
export interface TurnWriter {
  /** Keeps `lines`; the first lines of a turn schedule the write. */
  readonly write: (lines: string) => void;
  /** Writes what is kept now: before the process exits, and before anything else is written to the same stream. */
  readonly flush: () => void;
}

/**
 * Hands `write` every line of one turn of the event loop in one call, in the order they came,
 * once the turn's callbacks have run (`setImmediate`), before the loop waits for I/O again.
 *
 * A busy webhook answers several requests per turn, and each request's lines were a system call of
 * their own, in the middle of its review. On this project's test machine the code run after a
 * system call is the slower for it (it boots with `pti=on` and has no PCID, under which the kernel
 * empties the TLB at every entry). In a loop that made the server's other calls, one write per
 * turn instead of one per request made a denied Pod's or NetworkPolicy's review cheaper in 14 of
 * 16 batches, by up to a fifth (ADR 17, issue 11). Nothing else is held back: a line is written
 * at the end of the turn that made it, or sooner when the turn's text passes `maxChars`. The
 * caller flushes on `exit`, so a process that exits (a signal's drain, a fatal error) writes its
 * last lines; only a process killed outright loses the lines of its last turn.
 */
export function turnWriter(write: (text: string) => void, maxChars = TURN_TEXT_MAX_CHARS): TurnWriter {
  let kept: string[] = [];
  let chars = 0;
  let scheduled = false;
  const flush = (): void => {
    if (kept.length === 0) return;
    const text = kept.length === 1 ? kept[0] as string : kept.join('');
    kept = [];
    chars = 0;
    write(text);
  };
  const endOfTurn = (): void => {
    scheduled = false;
    flush();
  };
  return {
    write: (lines) => {
      if (chars > 0 && chars + lines.length > maxChars) flush();
      if (!scheduled) {
        scheduled = true;
        setImmediate(endOfTurn);
      }
      kept.push(lines);
      chars += lines.length;
    },
    flush,
  };
}

/**
 * The most text `turnWriter` joins for one write. Joined whole, the 15 or so NetworkPolicies of a
 * busy turn (8 KB of lines each, some 120 KB) brought `mmap`/`munmap` calls the server had not
 * made before, and its CPU per request went up, not down. Near 128 KB both a V8 string (its
 * large-object space) and the buffer Node encodes it into (glibc's `mmap` threshold) are mapped on
 * their own; which of the two it was is not known.
 */
export const TURN_TEXT_MAX_CHARS = 32 * 1024;

/** A logger that drops everything, for tests and embedding. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
