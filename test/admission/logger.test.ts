/**
 * The logger's lines are what operators parse: one JSON object per line, `time`, `level`, `msg`,
 * then the fields. `logAll` (the findings of one request) must write exactly the lines that one
 * call per entry would, in one write, with the request's context before each entry's fields.
 */
import { describe, expect, it } from 'vitest';
import { createLogger, logAll, type LogEntry, type Logger } from '../../src/telemetry/logger.js';

function capture(level: 'debug' | 'info' | 'warn' | 'error', times: readonly number[]) {
  const writes: string[] = [];
  let call = 0;
  const logger = createLogger({ level, write: (lines) => writes.push(lines), now: () => new Date(times[Math.min(call++, times.length - 1)] as number) });
  return { logger, writes };
}

const ENTRIES: readonly LogEntry[] = [
  { level: 'info', message: 'violation', fields: { uid: 'u1', rule: 'label:a', compliance: ['PCI'] } },
  { level: 'debug', message: 'hidden at info', fields: { uid: 'u1' } },
  { level: 'warn', message: 'check unproven', fields: { uid: 'u1', time: 'a field named time', msg: 'and one named msg' } },
  { level: 'info', message: 'no fields' },
];

describe('createLogger', () => {
  it('writes one JSON line per call: time, level, msg, then the fields', () => {
    const { logger, writes } = capture('info', [Date.UTC(2026, 0, 2, 3, 4, 5, 6)]);
    logger.info('hello', { a: 1, b: ['x'] });
    logger.debug('dropped');
    expect(writes).toEqual(['{"time":"2026-01-02T03:04:05.006Z","level":"info","msg":"hello","a":1,"b":["x"]}\n']);
  });

  it('reads the clock for every line and formats each millisecond once', () => {
    const { logger, writes } = capture('debug', [0, 0, 1]);
    logger.info('a');
    logger.info('b');
    logger.info('c');
    expect(writes.map((line) => JSON.parse(line).time)).toEqual(['1970-01-01T00:00:00.000Z', '1970-01-01T00:00:00.000Z', '1970-01-01T00:00:00.001Z']);
  });
});

describe('logAll', () => {
  it('writes in one call exactly the lines of one call per entry', () => {
    const one = capture('info', [5]);
    for (const entry of ENTRIES) one.logger[entry.level](entry.message, entry.fields as Record<string, unknown> | undefined);
    const all = capture('info', [5]);
    logAll(all.logger, ENTRIES);
    expect(all.writes).toEqual([one.writes.join('')]);
    expect(all.writes[0]?.split('\n')).toHaveLength(4);
  });

  it('writes each entry with the context before its fields, as one call per entry with both spread would', () => {
    const context = { uid: 'u1', object: 'Pod payments/api', dryRun: false };
    const entries: readonly LogEntry[] = [
      ...ENTRIES,
      { level: 'info', message: 'a field repeats the context', fields: { object: 'its own', rule: 'r' } },
      { level: 'info', message: 'empty fields', fields: {} },
    ];
    const one = capture('info', [5]);
    for (const entry of entries) one.logger[entry.level](entry.message, { ...context, ...entry.fields });
    const all = capture('info', [5]);
    logAll(all.logger, entries, context);
    expect(all.writes).toEqual([one.writes.join('')]);
    const lines = all.writes[0]?.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines?.[0]).toEqual({ time: '1970-01-01T00:00:00.005Z', level: 'info', msg: 'violation', uid: 'u1', object: 'Pod payments/api', dryRun: false, rule: 'label:a', compliance: ['PCI'] });
    expect(Object.keys(lines?.[3] ?? {})).toEqual(['time', 'level', 'msg', 'uid', 'object', 'dryRun', 'rule']);
    expect(lines?.[3]?.object).toBe('its own');
    expect(all.writes[0]).not.toMatch(/,,|,}/);
  });

  it('writes nothing when no entry is at an enabled level', () => {
    const { logger, writes } = capture('error', [5]);
    logAll(logger, ENTRIES);
    logAll(logger, []);
    expect(writes).toEqual([]);
  });

  it('calls any other logger once per entry, in order', () => {
    const calls: unknown[] = [];
    const record = (level: string) => (message: string, fields?: Record<string, unknown>) => calls.push([level, message, fields]);
    const other: Logger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };
    logAll(other, ENTRIES);
    expect(calls).toEqual(ENTRIES.map((entry) => [entry.level, entry.message, entry.fields]));
    calls.length = 0;
    logAll(other, ENTRIES.slice(0, 1), { uid: 'u0', dryRun: true });
    expect(calls).toEqual([['info', 'violation', { uid: 'u1', dryRun: true, rule: 'label:a', compliance: ['PCI'] }]]);
  });
});
