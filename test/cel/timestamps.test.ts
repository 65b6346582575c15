/**
 * `timestamp()` reads a string as Kubernetes CEL does (cel-go: Go's `time.Parse(time.RFC3339, s)`),
 * not as JavaScript's `Date` does: a policy that reads an expiry date from an annotation must not
 * take a token for the year 123, nor refuse a timestamp with nanoseconds and an offset.
 */
import { describe, expect, it } from 'vitest';
import { compileCel } from '../../src/engine/cel/index.js';
import { objectActivation, run, valueOf } from './cel-helpers.js';

const EMPTY = objectActivation({});

describe('timestamp(string): RFC 3339 as Go reads it', () => {
  it.each([
    { name: 'UTC', text: '2020-01-01T00:00:00Z', iso: '2020-01-01T00:00:00.000Z' },
    { name: 'an offset', text: '1995-12-25T00:00:00+01:00', iso: '1995-12-24T23:00:00.000Z' },
    { name: 'a negative offset', text: '1995-12-25T00:00:00-05:30', iso: '1995-12-25T05:30:00.000Z' },
    // 35 characters: refused by the library's own reading (at most 30).
    { name: 'nanoseconds and an offset', text: '2020-01-01T00:00:00.123456789+01:00', iso: '2019-12-31T23:00:00.123Z' },
    { name: 'a comma before the fraction (Go takes either)', text: '2020-01-01T00:00:00,5Z', iso: '2020-01-01T00:00:00.500Z' },
    { name: 'a leap day', text: '2024-02-29T12:00:00Z', iso: '2024-02-29T12:00:00.000Z' },
    { name: 'a year below 100 (not 19xx)', text: '0099-06-01T00:00:00Z', iso: '0099-06-01T00:00:00.000Z' },
    { name: 'an hour of one digit (Go\'s layout 15)', text: '2020-01-01T7:00:00Z', iso: '2020-01-01T07:00:00.000Z' },
  ])('reads $name', ({ text, iso }) => {
    expect((valueOf(`timestamp('${text}')`, EMPTY) as Date).toISOString()).toBe(iso);
  });

  it.each([
    // 25 characters: the library's `new Date(text)` took it as the year 123.
    { name: 'a token that JavaScript reads as a date', text: 'registry/SECRET-TOKEN-123' },
    { name: 'a date alone', text: '2020-01-01' },
    { name: 'a lower-case t and z', text: '1995-12-25t00:00:00z' },
    { name: 'a space for the T', text: '1995-12-25 00:00:00Z' },
    { name: 'no offset', text: '2020-01-01T00:00:00' },
    { name: 'February 30', text: '2020-02-30T00:00:00Z' },
    { name: 'February 29 of a common year', text: '2023-02-29T00:00:00Z' },
    { name: 'hour 24', text: '2020-01-01T24:00:00Z' },
    { name: 'second 60', text: '2020-01-01T00:00:60Z' },
    { name: 'a minute of one digit', text: '2020-01-01T00:0:00Z' },
    { name: 'a JavaScript date string', text: 'Wed Dec 25 1995 00:00:00' },
  ])('refuses $name', ({ text }) => {
    expect(run(`timestamp('${text}') > timestamp(0)`, EMPTY)).toEqual({
      ok: false,
      error: 'timestamp() requires a string in RFC 3339 format (2006-01-02T15:04:05Z07:00) (line 1, column 1)',
    });
  });

  it('refuses the year 0, outside the range of a CEL timestamp', () => {
    expect(run("timestamp('0000-12-31T00:00:00Z') > timestamp(0)", EMPTY)).toMatchObject({ ok: false, error: expect.stringContaining('out of range') });
  });

  it('reads a string from the object (a dyn argument), and an annotation that is not a timestamp is an error, not a verdict', () => {
    const expiry = "timestamp(object.metadata.annotations['expires']) > timestamp('2026-01-01T00:00:00Z')";
    expect(valueOf(expiry, objectActivation({ metadata: { annotations: { expires: '2027-03-01T00:00:00+02:00' } } }))).toBe(true);
    expect(valueOf(expiry, objectActivation({ metadata: { annotations: { expires: '2025-03-01T00:00:00Z' } } }))).toBe(false);
    expect(run(expiry, objectActivation({ metadata: { annotations: { expires: 'registry/SECRET-TOKEN-123' } } }))).toMatchObject({ ok: false });
  });

  it('keeps timestamp(int), seconds since the epoch', () => {
    expect(valueOf("timestamp(86400) == timestamp('1970-01-02T00:00:00Z')", EMPTY)).toBe(true);
  });

  it('names timestamp, not its internal name, in a compile error', () => {
    const compiled = compileCel('timestamp(true) > timestamp(0)', { expectBool: true });
    expect(compiled.ok).toBe(false);
    expect(!compiled.ok && compiled.error.message).toMatch(/timestamp\(bool\)/);
    expect(!compiled.ok && compiled.error.message).not.toContain('__tierguard');
  });
});
