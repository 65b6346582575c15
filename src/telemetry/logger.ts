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
  /** A plain object of JSON values (a finding, say). */
  readonly fields?: object;
}

/** How each logger made by `createLogger` writes several lines at once. */
const batchWriters = new WeakMap<Logger, (entries: readonly LogEntry[], context: Readonly<Record<string, unknown>>) => void>();

const NO_CONTEXT: Readonly<Record<string, unknown>> = Object.freeze({});

/**
 * Logs `entries` in order, each with the fields of `context` (the request's uid and object) before
 * its own: the lines that one call per entry with `{ ...context, ...entry.fields }` would write.
 * A logger made by `createLogger` writes them with one `write` (the findings of a request: one
 * system call rather than one per finding, when stderr is a file or a pipe) and turns `context`
 * into JSON once; any other logger gets one call per entry.
 */
export function logAll(logger: Logger, entries: readonly LogEntry[], context: Readonly<Record<string, unknown>> = NO_CONTEXT): void {
  const writeAll = batchWriters.get(logger);
  if (writeAll) writeAll(entries, context);
  else for (const entry of entries) logger[entry.level](entry.message, context === NO_CONTEXT ? (entry.fields as Record<string, unknown> | undefined) : { ...context, ...entry.fields });
}

/** Keys every line has before its fields. */
const LINE_KEYS = ['time', 'level', 'msg'];

/** The members of a JSON object's text, without its braces (empty for `{}`). */
function members(json: string): string {
  return json.slice(1, -1);
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
  const line = (at: string, level: LogLevel, message: string, fields: object = {}): string => `${JSON.stringify({ time: at, level, msg: message, ...fields })}\n`;
  const log = (level: LogLevel) => (message: string, fields?: Record<string, unknown>) => {
    if (enabled(level)) options.write(line(time(), level, message, fields));
  };
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
  batchWriters.set(logger, (entries, context) => {
    if (entries.length === 0) return;
    const at = time();
    const contextKeys = [...LINE_KEYS, ...Object.keys(context)];
    // The context's members once for every line (about half the cost of a finding's line).
    let shared: string | undefined;
    let lines = '';
    for (const { level, message, fields = NO_CONTEXT } of entries) {
      if (!enabled(level)) continue;
      // A field that repeats a key before it takes that key's place, as an object spread does.
      if (contextKeys.some((key) => key in fields)) {
        lines += line(at, level, message, { ...context, ...fields });
        continue;
      }
      shared ??= members(JSON.stringify(context));
      const own = members(JSON.stringify(fields));
      lines += `{"time":${JSON.stringify(at)},"level":"${level}","msg":${JSON.stringify(message)}${shared ? `,${shared}` : ''}${own ? `,${own}` : ''}}\n`;
    }
    if (lines) options.write(lines);
  });
  return logger;
}

/** A logger that drops everything, for tests and embedding. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
