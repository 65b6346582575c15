/**
 * Test infrastructure: checks objects against a CRD's `openAPIV3Schema` roughly as the API server
 * does on create — types, bounds, enums, required fields and defaults (ajv), unknown fields
 * rejected as kubectl's strict field validation (the default since 1.27) rejects them, list-map
 * keys unique, and the `x-kubernetes-validations` CEL rules evaluated with @marcbachmann/cel-js
 * (`self` bound to the node the rule is on). It is not the API server: no CEL cost limits, no
 * Kubernetes CEL libraries, no ratcheting, and `metadata` is left unchecked as the schema leaves it.
 */
import { evaluate } from '@marcbachmann/cel-js';
import { Ajv, type ErrorObject, type SchemaValidateFunction } from 'ajv';
import type { CelRule, CustomResourceDefinition, StructuralSchema } from '../../src/policy/crd.js';

type Node = StructuralSchema & { additionalProperties?: StructuralSchema | false };

/** Closes every object with declared properties, as strict field validation does. */
function strict(node: StructuralSchema): Node {
  const out: Node = { ...node };
  if (node.properties) {
    out.properties = Object.fromEntries(Object.entries(node.properties).map(([name, child]) => [name, strict(child)]));
    out.additionalProperties = false;
  }
  if (node.additionalProperties) out.additionalProperties = strict(node.additionalProperties);
  if (node.items) out.items = strict(node.items);
  return out;
}

const celRules: SchemaValidateFunction = (rules: CelRule[], data: unknown): boolean => {
  const errors: Partial<ErrorObject>[] = [];
  for (const { rule, message } of rules) {
    let result: unknown;
    try {
      result = evaluate(rule, { self: data });
    } catch (error) {
      result = `error: ${(error as Error).message}`;
    }
    if (result !== true) errors.push({ keyword: 'x-kubernetes-validations', message: result === false ? message : `${message} (${String(result)})`, params: { rule } });
  }
  celRules.errors = errors;
  return errors.length === 0;
};

const uniqueMapKeys: SchemaValidateFunction = (keys: string[], data: unknown): boolean => {
  if (!Array.isArray(data)) return true;
  const seen = new Set(data.map((item: Record<string, unknown>) => JSON.stringify(keys.map((key) => item?.[key]))));
  uniqueMapKeys.errors = seen.size === data.length ? [] : [{ keyword: 'x-kubernetes-list-map-keys', message: `duplicate entries for key ${keys.join(',')}` }];
  return seen.size === data.length;
};

function describe(error: ErrorObject): string {
  const at = error.instancePath === '' ? '/' : error.instancePath;
  if (error.keyword === 'additionalProperties') return `${at}: unknown field "${String(error.params.additionalProperty)}"`;
  if (error.keyword === 'enum') return `${at}: ${error.message ?? ''}: ${JSON.stringify(error.params.allowedValues)}`;
  return `${at}: ${error.message ?? error.keyword}`;
}

/**
 * A validator for the objects of `definition`'s storage version: the problems found (empty when
 * the object would be accepted), each `path: reason`.
 * @example
 * const validate = crdValidator(guardrailCrd());
 * expect(validate(doc)).toEqual([]);
 */
export function crdValidator(definition: CustomResourceDefinition): (object: unknown) => string[] {
  const ajv = new Ajv({ allErrors: true, strict: true, useDefaults: true });
  ajv.addKeyword({ keyword: 'x-kubernetes-validations', schemaType: 'array', errors: true, validate: celRules });
  ajv.addKeyword({ keyword: 'x-kubernetes-list-map-keys', schemaType: 'array', errors: true, validate: uniqueMapKeys });
  ajv.addKeyword({ keyword: 'x-kubernetes-list-type', schemaType: 'string' });
  ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
  ajv.addFormat('int64', { type: 'number', validate: (value: number) => Number.isSafeInteger(value) });
  const version = definition.spec.versions.find((candidate) => candidate.storage);
  if (!version) throw new Error(`${definition.metadata.name} has no storage version`);
  const validate = ajv.compile(strict(version.schema.openAPIV3Schema));
  return (object) => (validate(structuredClone(object)) ? [] : (validate.errors ?? []).map(describe));
}
