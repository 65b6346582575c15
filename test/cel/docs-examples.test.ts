/**
 * Every CEL validation written in the documentation's YAML (README.md, docs/*.md,
 * examples/README.md) compiles and type-checks against the Kubernetes schemas of the kinds it
 * names, without a warning: an example a user copies must lint clean.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { compileCel, evaluateCel, toCelActivation } from '../../src/engine/cel/index.js';
import { objectKindsOf } from '../../src/engine/targets.js';
import type { RuleResource } from '../../src/api/policy.js';
import { REPO_DIR } from '../helpers/fixtures.js';

interface Validation {
  readonly resources: RuleResource[];
  readonly expression: string;
  readonly messageExpression?: string;
}

const DOCUMENTS = ['README.md', 'examples/README.md', ...readdirSync(path.join(REPO_DIR, 'docs')).filter((file) => file.endsWith('.md')).map((file) => `docs/${file}`)];

/** The `validations:` lists of a Markdown file's YAML blocks, dedented to parse on their own. */
function validationsIn(file: string): { source: string; validation: Validation }[] {
  const text = readFileSync(path.join(REPO_DIR, file), 'utf8');
  const found: { source: string; validation: Validation }[] = [];
  for (const [, block] of text.matchAll(/```yaml\n([\s\S]*?)```/g)) {
    const lines = (block ?? '').split('\n');
    const start = lines.findIndex((line) => /^\s*validations:\s*$/.test(line));
    if (start < 0) continue;
    const indent = /^\s*/.exec(lines[start] ?? '')?.[0].length ?? 0;
    const end = lines.findIndex((line, index) => index > start && line.trim() !== '' && (/^\s*/.exec(line)?.[0].length ?? 0) <= indent);
    const yaml = lines.slice(start, end < 0 ? undefined : end).map((line) => line.slice(indent)).join('\n');
    const entries = (parse(yaml) as { validations: Validation[] }).validations;
    entries.forEach((validation, index) => found.push({ source: `${file} validations[${index}] (line ${start + 1} of its block)`, validation }));
  }
  return found;
}

const EXAMPLES = DOCUMENTS.flatMap(validationsIn);

describe('CEL validations in the documentation', () => {
  it('are found (the extraction works)', () => {
    expect(EXAMPLES.length).toBeGreaterThanOrEqual(4);
    expect(EXAMPLES.map((example) => example.validation.resources.join(','))).toContain('NetworkPolicy');
  });

  it.each(EXAMPLES)('$source type-checks for its resources, with no warning', ({ validation }) => {
    const objectKinds = objectKindsOf(validation.resources);
    const expression = compileCel(validation.expression, { expectBool: true, objectKinds });
    expect(expression).toMatchObject({ ok: true });
    expect(expression.ok && expression.warning).toBeFalsy();
    if (validation.messageExpression === undefined) return;
    const message = compileCel(validation.messageExpression, { expectString: true, objectKinds });
    expect(message).toMatchObject({ ok: true });
    expect(message.ok && message.warning).toBeFalsy();
  });

  it('the /0 example catches a /0 block of either family, and a spelling Kubernetes CEL refuses is an error, not a pass', () => {
    const example = EXAMPLES.find(({ validation }) => validation.expression.includes('prefixLength() > 0'));
    const compiled = compileCel(example!.validation.expression, { expectBool: true, objectKinds: objectKindsOf(['NetworkPolicy']) });
    if (!compiled.ok) throw new Error(compiled.error.message);
    const verdict = (cidr: string) => evaluateCel(compiled.program, toCelActivation({
      object: { metadata: { name: 'np' }, spec: { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr } }] }] } },
      oldObject: null,
      request: {},
      namespaceObject: { metadata: { name: 'default' } },
    }));
    expect(verdict('10.0.0.0/8')).toEqual({ ok: true, value: true });
    expect(verdict('0.0.0.0/0')).toEqual({ ok: true, value: false });
    expect(verdict('::/0')).toEqual({ ok: true, value: false });
    expect(verdict('0::0/0')).toEqual({ ok: true, value: false });
    for (const refused of ['0.0.0.0/00', '000.0.0.0/0', '::ffff:0.0.0.0/96']) expect(verdict(refused), refused).toMatchObject({ ok: false });
  });
});
