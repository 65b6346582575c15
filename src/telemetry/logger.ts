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
  readonly write: (line: string) => void;
  readonly now?: () => Date;
}

export function createLogger(options: LoggerOptions): Logger {
  const now = options.now ?? (() => new Date());
  const log = (level: LogLevel) => (message: string, fields: Record<string, unknown> = {}) => {
    if (order[level] < order[options.level]) return;
    options.write(`${JSON.stringify({ time: now().toISOString(), level, msg: message, ...fields })}\n`);
  };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/** A logger that drops everything, for tests and embedding. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
