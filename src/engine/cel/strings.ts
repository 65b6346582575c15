/**
 * String functions of the Kubernetes CEL strings library that `@marcbachmann/cel-js` lacks:
 * `charAt(int)`, `replace(old, new)` and `replace(old, new, n)`; and ASCII-only `lowerAscii()` /
 * `upperAscii()` (the library's change every letter; calls are renamed, see `internal-names.ts`).
 * The library already has `contains`, `startsWith`, `endsWith`, `size`, `indexOf`,
 * `lastIndexOf`, `substring`, `trim`, `split` and `join`.
 */
import { EvaluationError, type Environment } from '@marcbachmann/cel-js';
import { RENAMED_METHODS } from './internal-names.js';

/** Code point at `index`; `''` at the end; an error outside (Kubernetes semantics). */
function charAt(value: string, index: bigint): string {
  const chars = Array.from(value);
  if (index < 0n || index > BigInt(chars.length)) {
    throw new EvaluationError({ code: 'index_out_of_range', message: 'charAt(index): index out of range' });
  }
  return chars[Number(index)] ?? '';
}

/**
 * Go's `strings.Replace`: the first `limit` occurrences, all when `limit` < 0. An empty `search`
 * matches before every code point and at the end.
 */
function replace(value: string, search: string, replacement: string, limit: bigint): string {
  const pieces = search === '' ? ['', ...Array.from(value), ''] : value.split(search);
  let out = pieces[0] ?? '';
  for (let i = 1; i < pieces.length; i++) {
    out += (limit < 0n || BigInt(i) <= limit ? replacement : search) + pieces[i];
  }
  return out;
}

const lowerAscii = (value: string): string => value.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
const upperAscii = (value: string): string => value.replace(/[a-z]+/g, (letters) => letters.toUpperCase());

const sync = { async: false } as const;

export function registerStringFunctions(env: Environment): void {
  env
    .registerFunction('string.charAt(int): string', charAt, sync)
    .registerFunction('string.replace(string, string): string', (value: string, search: string, replacement: string) => replace(value, search, replacement, -1n), sync)
    .registerFunction('string.replace(string, string, int): string', replace, sync)
    .registerFunction(`string.${RENAMED_METHODS.lowerAscii.internal}(): string`, lowerAscii, sync)
    .registerFunction(`string.${RENAMED_METHODS.upperAscii.internal}(): string`, upperAscii, sync);
}
