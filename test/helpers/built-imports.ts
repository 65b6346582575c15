/** What a module built by esbuild (the client-node and command-line bundles of `npm run build`) imports. */
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';

export interface BuiltImports {
  /** `import … from "x"`, a bare `import "x"`, `export … from "x"`: loaded with the module. */
  readonly static: readonly string[];
  /** `import("x")`, `require("x")` or esbuild's `__require("x")` in the code: loaded when it runs. */
  readonly lazy: readonly string[];
}

/** Every way an ES module built by esbuild can name another, by when it is loaded. */
export function builtImports(file: string): BuiltImports {
  const text = readFileSync(file, 'utf8');
  const all = (forms: RegExp[]) => forms.flatMap((form) => [...text.matchAll(form)].map((match) => match[1]!));
  return {
    static: all([/^import\s[^;]*?from\s*"([^"]+)";?$/gm, /^import\s*"([^"]+)";?$/gm, /^export\s[^;]*?from\s*"([^"]+)";?$/gm]),
    lazy: all([/\b(?:import|require|__require)\(\s*"([^"]+)"\s*\)/g]),
  };
}

/** A module name's package: `@scope/name` or `name`. */
export function packageOf(name: string): string {
  return name.split('/').slice(0, name.startsWith('@') ? 2 : 1).join('/');
}

/** One of Node's own modules (`node:fs`, `fs`). */
export function isNodeModule(name: string): boolean {
  return name.startsWith('node:') || builtinModules.includes(name);
}
