import fastJsonPatch from 'fast-json-patch';

export type PatchOperation = fastJsonPatch.Operation;

/**
 * The RFC 6902 JSON Patch that turns `original` into `mutated`, computed by diffing the two
 * (the library escapes `/` in label keys as `~1`). Empty when they are equal.
 */
export function diffPatch(original: unknown, mutated: unknown): PatchOperation[] {
  return fastJsonPatch.compare(original as object, mutated as object);
}
