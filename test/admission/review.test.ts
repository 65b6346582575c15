/**
 * `parseReview` reads well-formed reviews by hand and leaves the rest to zod. Both paths must
 * yield the same request to the last key: the same values, the same key order (CEL's `request`
 * map iterates in that order) and no `__proto__` smuggled in. Every body here, captured or
 * mutated at a field the schema reads, is held to what the schema alone makes of it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseReview, reviewSchema } from '../../src/admission/review.js';
import { FIXTURES } from '../helpers/fuzz-reviews.js';
import { review } from '../helpers/fixtures.js';

/** What the schema alone yields, shaped as `parseReview` returns a success. */
function bySchema(body: string): unknown {
  const parsed = reviewSchema.safeParse(JSON.parse(body));
  if (!parsed.success) return { ok: false };
  const request = parsed.data.request;
  return { ok: true, request: { ...request, userInfo: request.userInfo ?? {}, object: request.object ?? null, oldObject: request.oldObject ?? null } };
}

/** Keys in order and prototypes, all the way down: what `toEqual` does not compare. */
function layout(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(layout);
  if (typeof value !== 'object' || value === null) return value;
  const proto = Object.getPrototypeOf(value) === Object.prototype ? 'Object' : 'other';
  return [proto, ...Object.keys(value).map((key) => [key, layout((value as Record<string, unknown>)[key])])];
}

function expectSameAsSchema(body: string): void {
  const parsed = parseReview(body);
  const expected = bySchema(body);
  expect(parsed.ok).toBe((expected as { ok: boolean }).ok);
  if (!parsed.ok) return;
  expect(layout(parsed)).toEqual(layout(expected));
}

const ODD_VALUES: readonly unknown[] = [null, true, false, 0, 1, '', 'x', [], ['a'], [1], {}, { a: 1 }, 'CREATE'];
const ODD_KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '0', '10', '', 'extra'];

/** Where the schema reads: each such place, by its path in the review. */
const PLACES: readonly (readonly string[])[] = [
  [], ['apiVersion'], ['kind'], ['request'],
  ['request', 'uid'], ['request', 'kind'], ['request', 'kind', 'group'], ['request', 'kind', 'version'], ['request', 'kind', 'kind'],
  ['request', 'subResource'], ['request', 'name'], ['request', 'namespace'], ['request', 'operation'],
  ['request', 'userInfo'], ['request', 'userInfo', 'username'], ['request', 'userInfo', 'groups'],
  ['request', 'object'], ['request', 'oldObject'], ['request', 'dryRun'],
];

type Edit = { op: 'delete' } | { op: 'set'; value: unknown } | { op: 'add-key'; key: string; value: unknown };

function edited(base: unknown, place: readonly string[], edit: Edit): string {
  const copy = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
  const parent = place.slice(0, -1).reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], copy) as Record<string, unknown> | undefined;
  const last = place.at(-1);
  const target = last === undefined ? copy : parent?.[last];
  if (edit.op === 'add-key') {
    // A key named __proto__ only becomes data through JSON text, as the API server would send it.
    if (typeof target !== 'object' || target === null || Array.isArray(target)) return JSON.stringify(copy);
    const marker = '"__tierguard_marker__"';
    (target as Record<string, unknown>).__tierguard_marker__ = edit.value;
    return JSON.stringify(copy).replace(marker, JSON.stringify(edit.key));
  }
  if (last === undefined || parent === undefined || typeof parent !== 'object' || parent === null) return JSON.stringify(copy);
  if (edit.op === 'delete') delete parent[last];
  else parent[last] = edit.value;
  return JSON.stringify(copy);
}

describe('parseReview', () => {
  it.each(FIXTURES.map((name) => ({ name })))('reads the captured $name as the schema does', ({ name }) => {
    expectSameAsSchema(JSON.stringify(review(name)));
  });

  it('reads a review with a __proto__ key in the object as the schema does, without it', () => {
    const body = '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"__proto__":{"x":1},"uid":"u","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","object":{"__proto__":{"polluted":true},"a":1}}}';
    expectSameAsSchema(body);
    const parsed = parseReview(body);
    expect(parsed.ok && Object.keys(parsed.request.object as object)).toEqual(['a']);
    expect(parsed.ok && (parsed.request.object as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('reads every edit of a field the schema reads as the schema does', () => {
    const editArb: fc.Arbitrary<Edit> = fc.oneof(
      fc.constant({ op: 'delete' as const }),
      fc.constantFrom(...ODD_VALUES).map((value) => ({ op: 'set' as const, value })),
      fc.record({ op: fc.constant('add-key' as const), key: fc.constantFrom(...ODD_KEYS), value: fc.constantFrom(...ODD_VALUES) }),
    );
    fc.assert(fc.property(fc.constantFrom(...FIXTURES), fc.array(fc.tuple(fc.constantFrom(...PLACES), editArb), { minLength: 1, maxLength: 3 }), (name, edits) => {
      let body = JSON.stringify(review(name));
      for (const [place, edit] of edits) body = edited(JSON.parse(body), place, edit);
      expectSameAsSchema(body);
    }), { numRuns: 800, seed: 20260611 });
  });
});
