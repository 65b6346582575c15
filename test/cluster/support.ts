/** Shared pieces of the cluster tests: bounded waiting, a fast backoff, a logger that remembers. */
import type { Logger } from '../../src/telemetry/logger.js';

/** Reconnect quickly in tests; the production default starts at 100 ms. */
export const FAST_BACKOFF = { initialMs: 10, maxMs: 100 } as const;

/** Polls `check` every 10 ms until it returns true; fails after `timeoutMs` (default 5 s). */
export async function waitUntil(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let round = 0; round < timeoutMs / 10 + 1; round += 1) {
    if (check()) return;
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (!check()) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Waits `ms` milliseconds. */
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
