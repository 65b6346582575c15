/**
 * The editors' JSON Schema (schemas/tierguard.schema.json): committed as generated from the CRDs,
 * pointed at by the yaml-language-server modeline of every shipped policy file, accepting every
 * shipped Tier and Guardrail and refusing what `tierguard lint` refuses by shape (a misspelt
 * field, a wrong type, a missing required field).
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { EDITOR_SCHEMA_FILE, editorSchema, editorSchemaFile } from '../../src/policy/editor-schema.js';
import { REPO_DIR } from '../helpers/fixtures.js';

const POLICY_DIRS = ['examples/policies', 'policies/default'];
const policyFiles = POLICY_DIRS.flatMap((dir) => readdirSync(path.join(REPO_DIR, dir)).filter((name) => name.endsWith('.yaml')).map((name) => path.join(dir, name)));
const validate = new Ajv({ allErrors: true, strict: true }).compile(editorSchema());

function errors(document: unknown): string[] {
  return validate(document) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message}${error.params && 'additionalProperty' in error.params ? ` ${error.params.additionalProperty}` : ''}`);
}

const guardrail = (spec: Record<string, unknown>) => ({ apiVersion: 'tierguard.dev/v1alpha1', kind: 'Guardrail', metadata: { name: 'g' }, spec });

describe('the editors\' JSON Schema', () => {
  it('is committed as scripts/gen-crds.mjs writes it', () => {
    expect(readFileSync(path.join(REPO_DIR, EDITOR_SCHEMA_FILE), 'utf8'), `${EDITOR_SCHEMA_FILE} is stale: run npm run build && node scripts/gen-crds.mjs`).toBe(editorSchemaFile().content);
  });

  it.each(policyFiles)('is named by the modeline of %s, and accepts its documents', (file) => {
    const text = readFileSync(path.join(REPO_DIR, file), 'utf8');
    const modeline = /^# yaml-language-server: \$schema=(\S+)$/m.exec(text)?.[1];
    expect(modeline).toBeDefined();
    expect(path.resolve(path.dirname(path.join(REPO_DIR, file)), modeline!)).toBe(path.join(REPO_DIR, EDITOR_SCHEMA_FILE));
    for (const document of parseAllDocuments(text).map((doc) => doc.toJS())) expect(errors(document), `${document.kind} ${document.metadata?.name}`).toEqual([]);
  });

  it.each([
    { name: 'a misspelt field', document: guardrail({ tier: 'security', priority: 1, labels: { match: { resources: ['Pod'] }, requried: [{ key: 'team' }] } }), expected: 'must NOT have additional properties requried' },
    { name: 'a priority of the wrong type', document: { apiVersion: 'tierguard.dev/v1alpha1', kind: 'Tier', metadata: { name: 't' }, spec: { priority: 'high' } }, expected: '/spec/priority must be integer' },
    { name: 'a Guardrail without its tier', document: guardrail({ priority: 1, labels: { match: { resources: ['Pod'] }, required: [{ key: 'team' }] } }), expected: "/spec must have required property 'tier'" },
    { name: 'a wrong apiVersion', document: { apiVersion: 'tierguard.dev/v1', kind: 'Tier', metadata: { name: 't' }, spec: { priority: 1 } }, expected: '/apiVersion must be equal to constant' },
  ])('refuses $name', ({ document, expected }) => {
    expect(errors(document).join('\n')).toContain(expected);
  });

  it('leaves other kinds alone (a Namespace beside the policies)', () => {
    expect(errors({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'payments', labels: { env: 'prod' } } })).toEqual([]);
  });
});
