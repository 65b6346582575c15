/**
 * A JSON Schema (draft-07) for policy files, for editors: the yaml-language-server modeline in
 * `examples/` and `policies/` points at `schemas/tierguard.schema.json`, written from this by
 * `scripts/gen-crds.mjs` next to the CRDs. Each document is a Tier or a Guardrail checked against
 * its CRD's `openAPIV3Schema` (so against the same zod schema the CRDs come from), or any other
 * object (a Namespace beside them). Unlike the CRDs, which prune unknown fields, it refuses them,
 * as `tierguard lint` and admission do: a misspelt field is underlined as it is typed.
 */
import { CRD_GROUP, CRD_VERSION, guardrailCrd, tierCrd, type CustomResourceDefinition, type StructuralSchema } from './crd.js';

export const EDITOR_SCHEMA_FILE = 'schemas/tierguard.schema.json';

type JsonSchema = Record<string, unknown>;

/** The CRD's schema as JSON Schema: closed objects, without Kubernetes' own keywords. */
function closed(node: StructuralSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith('x-kubernetes-')) continue;
    if (key === 'properties') out.properties = Object.fromEntries(Object.entries(value as Record<string, StructuralSchema>).map(([name, child]) => [name, closed(child)]));
    else if (key === 'items' || (key === 'additionalProperties' && typeof value === 'object')) out[key] = closed(value as StructuralSchema);
    else out[key] = value;
  }
  const open = (node as Record<string, unknown>)['x-kubernetes-preserve-unknown-fields'] === true || 'additionalProperties' in node;
  if (node.type === 'object' && node.properties && !open) out.additionalProperties = false;
  return out;
}

function kindSchema(definition: CustomResourceDefinition): JsonSchema {
  const root = definition.spec.versions[0]!.schema.openAPIV3Schema;
  const { spec } = root.properties as Record<string, StructuralSchema>;
  return {
    type: 'object',
    description: root.description,
    required: ['apiVersion', 'kind', 'metadata', 'spec'],
    additionalProperties: false,
    properties: {
      apiVersion: { const: `${CRD_GROUP}/${CRD_VERSION}` },
      kind: { const: definition.spec.names.kind },
      metadata: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1 } } },
      spec: closed(spec!),
      status: { type: 'object' },
    },
  };
}

export function editorSchema(): JsonSchema {
  const kinds = [tierCrd(), guardrailCrd()];
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://tierguard.dev/schemas/tierguard.schema.json',
    title: 'tierguard policy file (Tier, Guardrail)',
    description: `Generated from the ${CRD_GROUP}/${CRD_VERSION} CRDs by scripts/gen-crds.mjs; do not edit.`,
    type: 'object',
    allOf: kinds.map((definition) => ({
      if: { properties: { kind: { const: definition.spec.names.kind } }, required: ['kind'] },
      then: kindSchema(definition),
    })),
  };
}

/** The file's content: the schema, indented, with a final newline. */
export function editorSchemaFile(): { name: string; content: string } {
  return { name: EDITOR_SCHEMA_FILE, content: `${JSON.stringify(editorSchema(), null, 2)}\n` };
}
