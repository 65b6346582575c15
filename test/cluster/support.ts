/** Shared pieces of the cluster tests: a fast backoff, a logger that remembers (waiting: test/helpers/wait-for.ts). */
import type { Logger } from '../../src/telemetry/logger.js';

/** Reconnect quickly in tests; the production default starts at 100 ms. */
export const FAST_BACKOFF = { initialMs: 10, maxMs: 100 } as const;

/** Waits `ms` milliseconds: only before asserting that something did *not* happen. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

/** A logger that keeps every line, for asserting what was logged. */
export function recordingLogger(): Logger & { readonly lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (message: string, fields: Record<string, unknown> = {}) => { lines.push({ level, message, fields }); };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
