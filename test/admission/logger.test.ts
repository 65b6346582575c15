/**
 * The logger's lines are what operators parse: one JSON object per line, `time`, `level`, `msg`,
 * then the fields. `logAll` (the findings of one request) must write exactly the lines that one
 * call per entry would, in one write.
 */
import { describe, expect, it } from 'vitest';
import { createLogger, logAll, silentLogger, turnWriter, TURN_TEXT_MAX_CHARS, type LogEntry, type Logger } from '../../src/telemetry/logger.js';

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
    for (const entry of ENTRIES) one.logger[entry.level](entry.message, entry.fields);
    const all = capture('info', [5]);
    logAll(all.logger, ENTRIES);
    expect(all.writes).toEqual([one.writes.join('')]);
    expect(all.writes[0]?.split('\n')).toHaveLength(4);
  });

  it('writes nothing when no entry is at an enabled level', () => {
    const { logger, writes } = capture('error', [5]);
    logAll(logger, ENTRIES);
    logAll(logger, []);
    expect(writes).toEqual([]);
  });

  it('writes an entry whose fields are given as JSON as the line its fields would make', () => {
    const fields = { uid: 'u1', object: 'Pod p/a "quoted"', dryRun: false, compliance: ['PCI 1.2'] };
    const json = JSON.stringify(fields).slice(1, -1);
    const asFields = capture('info', [5]);
    logAll(asFields.logger, [{ level: 'info', message: 'violation', fields }, { level: 'debug', message: 'hidden', fields }]);
    const asJson = capture('info', [5]);
    logAll(asJson.logger, [{ level: 'info', message: 'violation', json }, { level: 'debug', message: 'hidden', json }]);
    expect(asJson.writes).toEqual(asFields.writes);
    expect(JSON.parse(asJson.writes[0] as string)).toEqual({ time: '1970-01-01T00:00:00.005Z', level: 'info', msg: 'violation', ...fields });
    // Any other logger gets the fields as an object.
    const calls: unknown[] = [];
    logAll({ ...silentLogger, info: (message, given) => calls.push([message, given]) }, [{ level: 'info', message: 'violation', json }]);
    expect(calls).toEqual([['violation', fields]]);
  });

  it('calls any other logger once per entry, in order', () => {
    const calls: unknown[] = [];
    const record = (level: string) => (message: string, fields?: Record<string, unknown>) => calls.push([level, message, fields]);
    const other: Logger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };
    logAll(other, ENTRIES);
    expect(calls).toEqual(ENTRIES.map((entry) => [entry.level, entry.message, entry.fields]));
  });
});

describe('turnWriter', () => {
  const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

  it('writes the lines of one turn of the event loop in one call, in order, once the turn is over', async () => {
    const writes: string[] = [];
    const direct: string[] = [];
    const writer = turnWriter((text) => writes.push(text));
    for (const write of [writer.write, (lines: string) => direct.push(lines)]) {
      const logger = createLogger({ level: 'info', write, now: () => new Date(0) });
      logger.info('first');
      logAll(logger, ENTRIES);
      logger.warn('last');
    }
    expect(writes, 'nothing is written within the turn').toEqual([]);
    await nextTurn();
    expect(writes).toEqual([direct.join('')]);
    expect(direct).toHaveLength(3);
  });

  it('writes each turn on its own, and never a line twice', async () => {
    const writes: string[] = [];
    const writer = turnWriter((text) => writes.push(text));
    writer.write('a\n');
    await nextTurn();
    writer.write('b\n');
    writer.write('c\n');
    await nextTurn();
    await nextTurn();
    expect(writes).toEqual(['a\n', 'b\nc\n']);
  });

  it('writes what it has kept as soon as the next lines would take it past its size, in order', async () => {
    const writes: string[] = [];
    const writer = turnWriter((text) => writes.push(text), 10);
    writer.write('aaaa\n');
    writer.write('bbbb\n');
    expect(writes).toEqual([]);
    writer.write('cccc\n');
    expect(writes, 'the first two lines, at once: a third would make 15 characters').toEqual(['aaaa\nbbbb\n']);
    writer.write('a line longer than ten\n');
    writer.write('dd\n');
    await nextTurn();
    expect(writes).toEqual(['aaaa\nbbbb\n', 'cccc\n', 'a line longer than ten\n', 'dd\n']);
    expect(TURN_TEXT_MAX_CHARS).toBeLessThanOrEqual(64 * 1024);
  });

  it('writes what it keeps at once on flush (before an exit), and the scheduled write then has nothing left', async () => {
    const writes: string[] = [];
    const writer = turnWriter((text) => writes.push(text));
    writer.write('kept\n');
    writer.flush();
    expect(writes).toEqual(['kept\n']);
    writer.flush();
    await nextTurn();
    expect(writes).toEqual(['kept\n']);
    writer.write('after\n');
    await nextTurn();
    expect(writes).toEqual(['kept\n', 'after\n']);
  });
});
