/**
 * `timestamp(string)` and `timestamp(int)` as Kubernetes CEL has them (cel-go): a string is read
 * with Go's `time.Parse(time.RFC3339, s)`, nothing else. The library's own reads the string with
 * `new Date(text)`, whose legacy fallback takes `'registry/TOKEN-123'` as the year 123, and it
 * refuses a valid timestamp longer than 30 characters (nanoseconds with an offset). Registered
 * under an internal name that the compiler renames calls to (`internal-names.ts`).
 */
import { EvaluationError, type Environment } from '@marcbachmann/cel-js';
import { RENAMED_FUNCTIONS } from './internal-names.js';

const TIMESTAMP = 'google.protobuf.Timestamp';

/** The range of a CEL timestamp: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z (milliseconds, as a Date holds). */
const MIN_MS = -62135596800000;
const MAX_MS = 253402300799999;

/**
 * Go's RFC 3339 layout as `time.Parse` reads it: `T` and `Z` upper case, an hour of one or two
 * digits (the layout's `15`; every other field has a fixed width), any number of fractional
 * digits after a `.` or a `,` (Go takes either), an offset `±hh:mm`.
 */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d+))?(?:Z|([+-])(\d{2}):(\d{2}))$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

function invalid(message: string): EvaluationError {
  return new EvaluationError({ code: 'invalid_timestamp', message });
}

/**
 * The instant `text` names, as Go reads RFC 3339: month, day (for its month and year), hour 0–23,
 * minute and second 0–59; an offset hour up to 24 and minute up to 60, as Go allows. Digits
 * beyond the millisecond are dropped (a Date holds milliseconds).
 */
export function parseRfc3339(text: string): Date | undefined {
  const match = RFC3339.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const daysInMonth = month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1];
  if (daysInMonth === undefined || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) return undefined;
  const [offsetHours, offsetMinutes] = [Number(match[9] ?? 0), Number(match[10] ?? 0)];
  if (offsetHours > 24 || offsetMinutes > 60) return undefined;
  const milliseconds = Number((match[7] ?? '').padEnd(3, '0').slice(0, 3));
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC takes a year below 100 as 19xx.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, milliseconds);
  const offset = (match[8] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  return new Date(date.getTime() - offset);
}

function fromString(text: string): Date {
  const date = parseRfc3339(text);
  if (!date) throw invalid('timestamp() requires a string in RFC 3339 format (2006-01-02T15:04:05Z07:00)');
  if (date.getTime() < MIN_MS || date.getTime() > MAX_MS) throw invalid('timestamp() is out of range (years 1 to 9999)');
  return date;
}

/** The library's `timestamp(int)`, unchanged: seconds since the epoch, within range. */
function fromSeconds(seconds: bigint): Date {
  const ms = Number(seconds) * 1000;
  if (ms < MIN_MS || ms > MAX_MS) throw invalid('timestamp() requires a valid integer unix timestamp');
  return new Date(ms);
}

const sync = { async: false } as const;

export function registerTimestampFunctions(env: Environment): void {
  const name = RENAMED_FUNCTIONS.timestamp.internal;
  env
    .registerFunction(`${name}(string): ${TIMESTAMP}`, fromString, sync)
    .registerFunction(`${name}(int): ${TIMESTAMP}`, fromSeconds, sync);
}
