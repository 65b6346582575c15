import { describe, expect, it } from 'vitest';
import type { LabelSelector } from '../../src/api/kube.js';
import { compileSelector } from '../../src/engine/selector.js';

describe('label selectors follow Kubernetes semantics', () => {
  it.each<{ name: string; selector: LabelSelector | undefined; labels: Record<string, string>; matches: boolean }>([
    { name: 'undefined selects everything', selector: undefined, labels: {}, matches: true },
    { name: 'empty selects everything', selector: {}, labels: { a: 'b' }, matches: true },
    { name: 'empty lists select everything', selector: { matchLabels: {}, matchExpressions: [] }, labels: {}, matches: true },
    { name: 'matchLabels equal', selector: { matchLabels: { env: 'prod' } }, labels: { env: 'prod', team: 'x' }, matches: true },
    { name: 'matchLabels different value', selector: { matchLabels: { env: 'prod' } }, labels: { env: 'dev' }, matches: false },
    { name: 'matchLabels missing key', selector: { matchLabels: { env: 'prod' } }, labels: {}, matches: false },
    { name: 'matchLabels empty value needs the key', selector: { matchLabels: { env: '' } }, labels: {}, matches: false },
    { name: 'matchLabels empty value present', selector: { matchLabels: { env: '' } }, labels: { env: '' }, matches: true },
    { name: 'In with the value', selector: { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'staging'] }] }, labels: { env: 'staging' }, matches: true },
    { name: 'In without the key', selector: { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod'] }] }, labels: {}, matches: false },
    { name: 'NotIn with another value', selector: { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['dev'] }] }, labels: { env: 'prod' }, matches: true },
    { name: 'NotIn with the value', selector: { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['dev'] }] }, labels: { env: 'dev' }, matches: false },
    { name: 'NotIn matches objects without the key', selector: { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['dev'] }] }, labels: {}, matches: true },
    { name: 'Exists', selector: { matchExpressions: [{ key: 'env', operator: 'Exists' }] }, labels: { env: '' }, matches: true },
    { name: 'Exists without the key', selector: { matchExpressions: [{ key: 'env', operator: 'Exists' }] }, labels: { other: 'x' }, matches: false },
    { name: 'DoesNotExist without the key', selector: { matchExpressions: [{ key: 'env', operator: 'DoesNotExist' }] }, labels: {}, matches: true },
    { name: 'DoesNotExist with the key', selector: { matchExpressions: [{ key: 'env', operator: 'DoesNotExist' }] }, labels: { env: 'x' }, matches: false },
    {
      name: 'all terms are ANDed',
      selector: { matchLabels: { env: 'prod' }, matchExpressions: [{ key: 'team', operator: 'In', values: ['a'] }] },
      labels: { env: 'prod', team: 'b' },
      matches: false,
    },
    { name: 'a key like an Object.prototype member is not inherited', selector: { matchExpressions: [{ key: 'constructor', operator: 'Exists' }] }, labels: {}, matches: false },
  ])('$name', ({ selector, labels, matches }) => {
    expect(compileSelector(selector)(labels)).toBe(matches);
  });
});
