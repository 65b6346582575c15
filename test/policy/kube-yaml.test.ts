/**
 * YAML read as kubectl reads it (`src/policy/kube-yaml.ts`). The oracle is kubectl itself:
 * `kubectl annotate --local -f FILE -o json` reads a file with the same YAML-to-JSON conversion as
 * `kubectl apply` and prints the JSON it would send, without a cluster. Every scalar, key and merge
 * below is read by both and must come out the same; what kubectl refuses must be refused here too,
 * with the line named.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { formatFloat32, readKubeYaml, resolvePlain } from '../../src/policy/kube-yaml.js';
import { parseManifestText } from '../../src/policy/manifests.js';
import { findKubectl } from '../helpers/kube-cluster.js';

const run = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), 'tierguard-kube-yaml-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** kubectl's JSON for a YAML text, or its error. */
async function kubectlReads(text: string): Promise<{ value?: Record<string, unknown>; error?: string }> {
  const file = path.join(dir, `doc-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  try {
    const { stdout } = await run(findKubectl(), ['annotate', '--local', '-f', file, 'kubectl-read=yes', '-o', 'json'], { env: { ...process.env, KUBECONFIG: '/dev/null' } });
    const value = JSON.parse(stdout) as Record<string, unknown> & { metadata: { annotations?: Record<string, string> } };
    delete value.metadata.annotations;
    return { value };
  } catch (error) {
    return { error: (error as { stderr?: string }).stderr ?? String(error) };
  }
}

/** tierguard's JSON for the same text: its one document, as `JSON.stringify` would send it. */
function tierguardReads(text: string): { value?: unknown; error?: string } {
  const [doc] = readKubeYaml(text);
  if (!doc) return { error: 'no document' };
  if (!doc.ok) return { error: doc.message };
  return { value: JSON.parse(JSON.stringify(doc.value)) as unknown };
}

const HEADER = 'apiVersion: example.dev/v1\nkind: Probe\nmetadata:\n  name: probe\n';

/** Plain, quoted and tagged scalars whose reading differs between YAML 1.1, YAML 1.2 and go-yaml. */
const SCALARS = [
  'yes', 'Yes', 'YES', 'yEs', 'y', 'Y', 'n', 'N', 'no', 'NO', 'on', 'On', 'ON', 'off', 'OFF', 'true', 'True', 'TRUE', 'tRUE', 'false',
  '~', 'null', 'Null', 'NULL', 'nUll', '', "'yes'", '"on"', '!!str yes', '!!str 0755', '!!int "12"', '!!float 3', '!!bool "true"', '!foo bar',
  '0755', '0644', '007', '-012', '08', '09.5', '0o755', '0O17', '-0o17', '0o8', '0x1F', '0X1F', '-0x1F', '+0x1F', '0x_1F', '0x',
  '0b101', '0B101', '-0b101', '0b', '0b12', '1_000', '1__0', '_1', '1_', '+1_0', '+0', '-0', '0.0', '1,000',
  '18446744073709551615', '-9223372036854775809', '99999999999999999999', '0xFFFFFFFFFFFFFFFFFF',
  '1e3', '1E+3', '1e', '1.', '0.', '.5', '+.5', '-.5e3', '.5e3', '._5', '.', '+', '1_000.5', '1e400', '1e-400', '1.10', '0x1.8p1',
  'Inf', 'NaN', '.infinity', '1:20', '12:30:00', '190:20:30', '2001-12-14', '2001-12-14t21:59:43.10-05:00', '2001-12-14 21:59:43.10',
  '<<', '=', '"0755"', '|\n    yes', '>-\n    on', '!!timestamp 2001-12-14', '!!timestamp "2001-12-14 21:59:43.10"', '!!binary aGVsbG8=',
];

/** Keys that are not plain text: booleans, numbers and floats become text as Go formats them. */
const KEYS = ['on', 'n', '1', '0x10', '0755', '1.5', '1e3', '.5', '0.1', '1e20', '1e21', '123456789.125', '-2.5e-7', '1e5', '1e6', "'on'", 'plain'];

describe('YAML as kubectl reads it', () => {
  it('reads every scalar and key as kubectl does', async () => {
    const text = `${HEADER}data:\n${SCALARS.map((scalar, i) => `  v${i}: ${scalar}\n`).join('')}keys:\n${KEYS.map((key, i) => `  ${key}: k${i}\n`).join('')}`;
    const kubectl = await kubectlReads(text);
    expect(kubectl.error).toBeUndefined();
    const read = tierguardReads(text);
    expect(read.error).toBeUndefined();
    expect(read.value).toEqual(kubectl.value);
  });

  it('merges with << as kubectl does: over the keys before it, under the keys after it, the first of a list winning', async () => {
    const text = `${HEADER}base: &base {a: 2, c: 5, d: 6}\nother: &other {a: 9, e: 7}\nover:\n  a: 1\n  <<: *base\n  d: 4\nlist:\n  <<: [*other, *base, {f: 1}]\ninline:\n  <<: {a: 1}\n  b: 2\nnested:\n  <<: {<<: *base, a: 3}\n`;
    const kubectl = await kubectlReads(text);
    expect(kubectl.error).toBeUndefined();
    const value = tierguardReads(text).value as Record<string, unknown>;
    expect(value).toEqual(kubectl.value);
    expect(value.over).toEqual({ a: 2, c: 5, d: 4 });
  });

  it.each([
    { name: 'an infinite float', body: 'data:\n  a: .inf\n', where: 'line 6, column 6', says: 'is not a number JSON can hold' },
    { name: 'NaN', body: 'data:\n  a: .NaN\n', where: 'line 6, column 6', says: 'is not a number JSON can hold' },
    { name: 'a null key', body: 'data:\n  ~: a\n', where: 'line 6, column 3', says: 'a null key' },
    { name: 'a sequence as a key', body: 'data:\n  ? [a, b]\n  : c\n', where: 'line 6, column 5', says: 'a sequence cannot be a key' },
    { name: 'a merge of a scalar', body: 'data:\n  <<: 5\n', where: 'line 6, column 7', says: 'a merge (<<) needs a mapping' },
    { name: 'a merge of a list holding a scalar', body: 'base: &b {a: 1}\ndata:\n  <<: [*b, 3]\n', where: 'line 7, column 12', says: 'a merge (<<) needs a mapping' },
    { name: 'a key written twice, here as 1 and as 1.0', body: 'data:\n  1: a\n  1.0: b\n', where: 'line 7, column 3', says: 'the key "1" is written twice in this mapping', kubectlAccepts: true },
    { name: 'an anchor that contains itself', body: 'a: &x [1, *x]\n', where: 'line 5, column 11', says: "anchor 'x' value contains itself" },
    { name: 'a scalar tagged with a type it is not', body: 'data:\n  a: !!int abc\n', where: 'line 6, column 12', says: 'cannot decode !!str `abc` as a !!int' },
  ])('refuses $name, naming where', async ({ body, where, says, kubectlAccepts = false }) => {
    const text = HEADER + body;
    expect((await kubectlReads(text)).error === undefined).toBe(kubectlAccepts);
    const read = tierguardReads(text);
    expect(read.value).toBeUndefined();
    expect(read.error).toContain(where);
    expect(read.error).toContain(says);
  });

  it('leaves the text of a scalar whose tag it does not know', async () => {
    const text = `${HEADER}data:\n  a: !<tag:example.dev,2026:mode> 0755\n  b: !!yes yes\n  c: !custom on\n`;
    const kubectl = await kubectlReads(text);
    expect(kubectl.error).toBeUndefined();
    const read = tierguardReads(text);
    expect(read.value).toEqual(kubectl.value);
    expect((read.value as { data: unknown }).data).toEqual({ a: '0755', b: 'yes', c: 'on' });
  });

  it('refuses an alias bomb, as kubectl does, instead of expanding it', async () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]`);
    const text = `${HEADER}${levels.join('\n')}\n`;
    expect((await kubectlReads(text)).error).toContain('document contains excessive aliasing');
    const read = tierguardReads(text);
    expect(read.error).toContain('excessive aliasing');
  });
});

describe('what users meet', () => {
  it.each([
    { name: 'a label written pci: yes is the boolean true (kubectl refuses it as a label value)', text: 'pci: yes', value: { pci: true } },
    { name: 'a volume mode written 0644 is the octal 420, not 644', text: 'defaultMode: 0644', value: { defaultMode: 420 } },
    { name: 'a quoted "yes" stays text', text: 'pci: "yes"', value: { pci: 'yes' } },
    { name: 'a date stays the text written', text: 'since: 2024-01-31', value: { since: '2024-01-31' } },
    { name: 'a base-60 number stays text', text: 'port: 22:22', value: { port: '22:22' } },
    { name: 'the key on is the text true', text: 'on: push', value: { true: 'push' } },
  ])('$name', ({ text, value }) => {
    expect(tierguardReads(text).value).toEqual(value);
  });

  it('check reports a document kubectl would refuse as a problem of its file and line, and reads the others', () => {
    const { documents, problems } = parseManifestText(`${HEADER}data:\n  a: .inf\n---\n${HEADER}data:\n  mode: 0600\n`, 'two.yaml');
    expect(problems).toEqual([{ source: { file: 'two.yaml', document: 1 }, path: '', message: 'invalid YAML at line 6, column 6: .inf is not a number JSON can hold' }]);
    expect(documents.map((doc) => (doc.value as { data: unknown }).data)).toEqual([{ mode: 384 }]);
  });
});

describe('go-yaml v2 rules, one by one', () => {
  it.each([
    { text: '0755', resolved: { int: 493n } },
    { text: '-0b101', resolved: { int: -5n } },
    { text: '18446744073709551615', resolved: { int: 18446744073709551615n } },
    { text: '-9223372036854775809', resolved: { float: -(2 ** 63) } },
    { text: '0xFFFFFFFFFFFFFFFFFF', resolved: '0xFFFFFFFFFFFFFFFFFF' },
    { text: '08', resolved: { float: 8 } },
    { text: '1e400', resolved: '1e400' },
    { text: '.5e3', resolved: { float: 500 } },
    { text: '-.inf', resolved: { float: Number.NEGATIVE_INFINITY } },
    { text: 'Off', resolved: false },
    { text: 'NULL', resolved: null },
  ])('$text', ({ text, resolved }) => {
    expect(resolvePlain(text)).toEqual(resolved);
  });

  it.each([
    { x: 1000, text: '1000' },
    { x: 1e20, text: '1e+20' },
    { x: 123456789.125, text: '1.2345679e+08' },
    { x: 0.1, text: '0.1' },
    { x: -2.5e-7, text: '-2.5e-07' },
    { x: 0.0001, text: '0.0001' },
    { x: 0.00001, text: '1e-05' },
    { x: 100000, text: '100000' },
    { x: 1e6, text: '1e+06' },
    { x: Number.POSITIVE_INFINITY, text: '+Inf' },
  ])('a float key $x is written $text, as Go formats a float32', ({ x, text }) => {
    expect(formatFloat32(x)).toBe(text);
  });
});
