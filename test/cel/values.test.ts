import { describe, expect, it } from 'vitest';
import { fixtureActivation, objectActivation, valueOf, type FixtureName } from './cel-helpers.js';

type Row = { name: string; fixture: FixtureName; expression: string; expected: unknown };

describe('optional syntax, has() and short-circuit logic', () => {
  it.each<Row>([
    { name: 'optional chain to a present label', fixture: 'validate-create-pod', expression: "object.?metadata.?labels[?'app'].orValue('')", expected: 'api' },
    { name: 'optional chain to a missing label', fixture: 'validate-create-deployment', expression: "object.?metadata.?labels[?'app'].orValue('')", expected: '' },
    { name: 'optional chain through a missing map', fixture: 'validate-create-pod', expression: "object.?spec.?nodeSelector[?'zone'].orValue('any')", expected: 'any' },
    { name: 'optional hasValue', fixture: 'validate-create-networkpolicy', expression: 'object.?spec.?ingress.hasValue() && !object.?spec.?nonsense.hasValue()', expected: true },
    { name: 'optional on a null oldObject', fixture: 'validate-create-pod', expression: "oldObject.?metadata.?name.orValue('none')", expected: 'none' },
    { name: 'has() on a present field', fixture: 'validate-create-pod', expression: 'has(object.spec.containers)', expected: true },
    { name: 'has() on an absent field', fixture: 'validate-create-pod', expression: 'has(object.spec.hostNetwork)', expected: false },
    { name: '|| short-circuits past an absent field', fixture: 'validate-create-pod', expression: '!has(object.spec.hostNetwork) || object.spec.hostNetwork.nonsense', expected: true },
    { name: '&& short-circuits past an absent field', fixture: 'validate-create-pod', expression: 'has(object.spec.hostPID) && object.spec.hostPID.nonsense', expected: false },
    { name: 'error on the left of || absorbed by a true right (CEL commutative logic)', fixture: 'validate-create-pod', expression: 'object.spec.hostNetwork || true', expected: true },
    { name: 'per-element guard inside all()', fixture: 'validate-create-networkpolicy', expression: 'object.spec.ingress.all(r, !has(r.from) || r.from.size() > 0)', expected: true },
    { name: 'ternary guards a missing field', fixture: 'validate-create-pod', expression: "has(object.spec.priorityClassName) ? object.spec.priorityClassName : 'none'", expected: 'none' },
  ])('$name', ({ fixture, expression, expected }) => {
    expect(valueOf(expression, fixtureActivation(fixture))).toEqual(expected);
  });
});

describe('JSON integers are CEL int, fractions are double', () => {
  it.each<Row>([
    { name: 'port + 1', fixture: 'validate-create-networkpolicy', expression: 'object.spec.ingress[0].ports[0].port + 1 == 8081', expected: true },
    { name: 'a port is an int', fixture: 'validate-create-networkpolicy', expression: 'type(object.spec.ingress[0].ports[0].port) == int', expected: true },
    { name: 'a named port is a string', fixture: 'validate-create-networkpolicy', expression: 'type(object.spec.ingress[0].ports[2].port) == string', expected: true },
    { name: 'port range arithmetic', fixture: 'validate-create-networkpolicy', expression: 'object.spec.ingress[0].ports[1].endPort - object.spec.ingress[0].ports[1].port', expected: 100n },
    { name: 'int division truncates', fixture: 'validate-create-pod', expression: 'object.spec.terminationGracePeriodSeconds / 7', expected: 4n },
    { name: 'replicas compare with an int literal', fixture: 'validate-create-deployment', expression: 'object.spec.replicas <= 3', expected: true },
    { name: 'int compares with a double literal', fixture: 'validate-create-deployment', expression: 'object.spec.replicas < 1.5', expected: true },
    { name: 'sum of toleration seconds with map()', fixture: 'validate-update-pod', expression: 'object.spec.tolerations.map(t, t.tolerationSeconds)', expected: [300n, 300n] },
    { name: 'int in list of ints', fixture: 'validate-create-pod', expression: '9090 in object.spec.containers[0].ports.map(p, p.containerPort)', expected: true },
    { name: 'string(int)', fixture: 'validate-create-pod', expression: "string(object.spec.containers[0].ports[0].containerPort) + '/TCP'", expected: '9090/TCP' },
  ])('$name', ({ fixture, expression, expected }) => {
    expect(valueOf(expression, fixtureActivation(fixture))).toEqual(expected);
  });

  it.each([
    { name: 'a fraction stays double', object: { ratio: 0.25 }, expression: 'type(object.ratio) == double && object.ratio * 4.0 == 1.0', expected: true },
    { name: 'a negative integer is int', object: { offset: -3 }, expression: 'object.offset + 3 == 0 && type(object.offset) == int', expected: true },
    { name: 'an integer beyond int64 stays double', object: { huge: 1e20 }, expression: 'type(object.huge) == double', expected: true },
    { name: 'integers inside lists of maps', object: { items: [{ n: 1 }, { n: 2 }] }, expression: 'object.items.map(i, i.n * 10)', expected: [10n, 20n] },
  ])('$name', ({ object, expression, expected }) => {
    expect(valueOf(expression, objectActivation(object))).toEqual(expected);
  });
});

describe('string functions', () => {
  it.each<Row>([
    { name: 'startsWith', fixture: 'validate-create-pod', expression: "object.spec.containers[0].image.startsWith('nginx:')", expected: true },
    { name: 'endsWith', fixture: 'validate-create-pod', expression: "object.spec.containers.all(c, !c.image.endsWith(':latest'))", expected: true },
    { name: 'contains', fixture: 'validate-create-deployment', expression: "object.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'].contains('nginx')", expected: true },
    { name: 'size() and size(x)', fixture: 'validate-create-networkpolicy', expression: 'object.metadata.name.size() == size(object.metadata.name) && size(object.metadata.name) <= 63', expected: true },
    { name: 'lowerAscii / upperAscii', fixture: 'validate-create-pod', expression: "object.spec.containers[0].ports[0].protocol.lowerAscii() + object.metadata.name.upperAscii()", expected: 'tcpAPI-0' },
    { name: 'split', fixture: 'validate-create-pod', expression: "object.spec.containers[0].image.split(':')", expected: ['nginx', '1.27'] },
    { name: 'join', fixture: 'validate-create-networkpolicy', expression: "object.spec.policyTypes.join(',')", expected: 'Ingress,Egress' },
    { name: 'indexOf and substring', fixture: 'validate-create-pod', expression: "object.spec.containers[0].image.substring(object.spec.containers[0].image.indexOf(':') + 1)", expected: '1.27' },
    { name: 'trim', fixture: 'validate-create-deployment', expression: "object.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'].trim().endsWith('}')", expected: true },
    { name: 'charAt (added)', fixture: 'validate-create-pod', expression: 'object.metadata.name.charAt(0)', expected: 'a' },
    { name: 'replace (added)', fixture: 'validate-create-pod', expression: "object.metadata.labels['app.kubernetes.io/name'].replace('a', 'A')", expected: 'Api' },
    { name: 'replace with a limit (added)', fixture: 'validate-create-networkpolicy', expression: "object.metadata.name.replace('-', '_', 2)", expected: 'allow_api_from-frontend' },
    { name: 'concatenation', fixture: 'validate-create-pod', expression: "object.kind + ' ' + object.metadata.namespace + '/' + object.metadata.name", expected: 'Pod payments/api-0' },
    { name: 'label key with dots and slashes via index', fixture: 'validate-create-pod', expression: "object.metadata.labels['app.kubernetes.io/name'] in ['api', 'web']", expected: true },
    { name: 'exists over label keys', fixture: 'validate-update-pod', expression: "object.metadata.labels.exists(k, k.startsWith('webhook-test/'))", expected: true },
  ])('$name', ({ fixture, expression, expected }) => {
    expect(valueOf(expression, fixtureActivation(fixture))).toEqual(expected);
  });

  it.each([
    { name: 'lowerAscii changes ASCII letters only (Kubernetes)', expression: 'object.s.lowerAscii()', expected: 'Äİx-ß' },
    { name: 'upperAscii changes ASCII letters only (Kubernetes)', expression: 'object.s.upperAscii()', expected: 'ÄİX-ß' },
    { name: 'charAt counts code points', expression: "'a😀b'.charAt(1) + 'a😀b'.charAt(3)", expected: '😀' },
    { name: 'replace with an empty search inserts around code points', expression: "'ab'.replace('', '-')", expected: '-a-b-' },
  ])('$name', ({ expression, expected }) => {
    expect(valueOf(expression, objectActivation({ s: 'ÄİX-ß' }))).toBe(expected);
  });
});
