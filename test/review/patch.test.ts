import fastJsonPatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { diffPatch } from '../../src/review/patch.js';

describe('diffPatch', () => {
  it.each([
    {
      name: 'escapes / in label keys as ~1',
      before: { metadata: { labels: { app: 'a' } } },
      after: { metadata: { labels: { app: 'a', 'segment.tierguard.dev/domain': 'payments' } } },
      patch: [{ op: 'add', path: '/metadata/labels/segment.tierguard.dev~1domain', value: 'payments' }],
    },
    {
      name: 'escapes ~ as ~0',
      before: { metadata: { labels: {} } },
      after: { metadata: { labels: { 'a~b': 'x' } } },
      patch: [{ op: 'add', path: '/metadata/labels/a~0b', value: 'x' }],
    },
    {
      name: 'adds the whole map when there were no labels',
      before: { metadata: { name: 'p' } },
      after: { metadata: { name: 'p', labels: { 'k/x': 'v' } } },
      patch: [{ op: 'add', path: '/metadata/labels', value: { 'k/x': 'v' } }],
    },
    {
      name: 'is empty when nothing changes',
      before: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c' }] } },
      after: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c' }] } },
      patch: [],
    },
  ])('$name', ({ before, after, patch }) => {
    const computed = diffPatch(before, after);
    expect(computed).toEqual(patch);
    expect(fastJsonPatch.applyPatch(structuredClone(before), computed).newDocument).toEqual(after);
  });
});
