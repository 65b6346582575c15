/**
 * Library functions whose behaviour differs from Kubernetes and cannot be re-registered (the
 * library refuses overlapping overloads): the compiler renames their calls in the parsed tree
 * (`rewrite.ts`) to tierguard's implementations registered under these internal names.
 */
export const RENAMED_METHODS = {
  /** JavaScript's backtracking RegExp in the library; RE2 (linear time) here. */
  matches: { internal: '__tierguard_re2_matches', arity: 1 },
  /** `toLowerCase()` in the library, which also changes non-ASCII letters; ASCII only here. */
  lowerAscii: { internal: '__tierguard_lower_ascii', arity: 0 },
  upperAscii: { internal: '__tierguard_upper_ascii', arity: 0 },
} as const satisfies Record<string, { internal: string; arity: number }>;

/** Global functions renamed for the same reason. */
export const RENAMED_FUNCTIONS = {
  /**
   * `new Date(text)` in the library for a string, which takes `'registry/TOKEN-123'` as the year 123
   * and refuses nanoseconds with an offset; RFC 3339 as Go's `time.Parse` reads it here.
   */
  timestamp: { internal: '__tierguard_timestamp', arity: 1 },
} as const satisfies Record<string, { internal: string; arity: number }>;

type Renamings = Readonly<Record<string, { readonly internal: string; readonly arity: number }>>;

function renamedIn(table: Renamings, name: string, arity: number): string | undefined {
  const renamed = Object.hasOwn(table, name) ? table[name] : undefined;
  return renamed?.arity === arity ? renamed.internal : undefined;
}

/** The renaming of method `name` called with `arity` arguments, if any. */
export const renamedMethod = (name: string, arity: number): string | undefined => renamedIn(RENAMED_METHODS, name, arity);

/** The renaming of global function `name` called with `arity` arguments, if any. */
export const renamedFunction = (name: string, arity: number): string | undefined => renamedIn(RENAMED_FUNCTIONS, name, arity);

const BACK = [...Object.entries(RENAMED_METHODS), ...Object.entries(RENAMED_FUNCTIONS)].map(([name, { internal }]) => [internal, name] as const);

/** `text` (an error message) with internal names replaced by the names the author wrote. */
export function withAuthorNames(text: string): string {
  return BACK.reduce((out, [internal, name]) => out.replaceAll(internal, name), text);
}
