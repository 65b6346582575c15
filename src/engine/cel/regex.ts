/**
 * CEL regular expressions with RE2 syntax and linear-time matching (`re2js`), as in Kubernetes:
 * `s.matches(re)` / `matches(s, re)` (unanchored: true when some substring matches),
 * `s.find(re)` and `s.findAll(re[, limit])`.
 *
 * The library's own `string.matches` uses JavaScript's backtracking `RegExp` and cannot be
 * replaced (overloads may not overlap), so the compiler renames every `matches` call in the
 * parsed tree to the internal name registered here before type checking (see `rewrite.ts`).
 */
import { EvaluationError, type Environment } from '@marcbachmann/cel-js';
import { RE2JS } from 're2js';
import { checkCelDeadline } from './deadline.js';
import { RENAMED_METHODS } from './internal-names.js';

const RE2_MATCHES = RENAMED_METHODS.matches.internal;

/** Patterns written literally in expressions: compiled when the policy set loads, kept. */
const literalPatterns = new Map<string, RE2JS>();
/** Patterns computed from request data: a small cache, emptied when full. */
const computedPatterns = new Map<string, RE2JS>();
const COMPUTED_CACHE_SIZE = 256;

/**
 * Compiles a pattern written literally in an expression and keeps it for evaluation.
 * @returns the RE2 syntax error (the pattern is policy text, so it may be quoted), or undefined.
 */
export function compileLiteralPattern(pattern: string): string | undefined {
  if (literalPatterns.has(pattern)) return undefined;
  try {
    literalPatterns.set(pattern, RE2JS.compile(pattern));
    return undefined;
  } catch (error) {
    const detail = error instanceof Error ? error.message.replace(/^error parsing regexp: /, '') : 'unknown error';
    return `invalid regular expression (RE2 syntax): ${detail}`;
  }
}

/**
 * The compiled form of a pattern written literally in an expression, as `matches` evaluates it;
 * undefined when it is not valid RE2 (the library then reports it). For the fast path
 * (./fast-path.ts), which tests with the very object the library would.
 */
export function literalPattern(pattern: string): RE2JS | undefined {
  return compileLiteralPattern(pattern) === undefined ? literalPatterns.get(pattern) : undefined;
}

function patternFor(pattern: string): RE2JS {
  const known = literalPatterns.get(pattern) ?? computedPatterns.get(pattern);
  if (known) return known;
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(pattern);
  } catch {
    // The pattern came from request data: never echo it.
    throw new EvaluationError({ code: 'invalid_regular_expression', message: 'invalid regular expression (RE2 syntax)' });
  }
  if (computedPatterns.size >= COMPUTED_CACHE_SIZE) computedPatterns.clear();
  computedPatterns.set(pattern, compiled);
  return compiled;
}

/** Go's `FindAllString`: successive non-overlapping matches; an empty match right after a match is skipped. */
function findAll(value: string, pattern: string, limit: bigint): string[] {
  const out: string[] = [];
  let previousEnd = -1;
  for (const match of patternFor(pattern).matchAll(value)) {
    // A match costs about 0.5 µs here: a step like a comprehension's for the time bound.
    checkCelDeadline();
    if (limit >= 0n && BigInt(out.length) >= limit) break;
    const text = String(match[0]);
    const start = match.index ?? 0;
    if (text !== '' || start !== previousEnd) out.push(text);
    previousEnd = start + text.length;
  }
  return out;
}

const sync = { async: false } as const;

export function registerRegexFunctions(env: Environment): void {
  env
    .registerFunction(`string.${RE2_MATCHES}(string): bool`, (value: string, pattern: string) => patternFor(pattern).test(value), sync)
    .registerFunction(`${RE2_MATCHES}(string, string): bool`, (value: string, pattern: string) => patternFor(pattern).test(value), sync)
    .registerFunction('string.find(string): string', (value: string, pattern: string) => {
      const match = patternFor(pattern).exec(value);
      return match ? String(match[0]) : '';
    }, sync)
    .registerFunction('string.findAll(string): list<string>', (value: string, pattern: string) => findAll(value, pattern, -1n), sync)
    .registerFunction('string.findAll(string, int): list<string>', findAll, sync);
}
