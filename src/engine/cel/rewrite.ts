/**
 * The compile-time pass over a parsed expression, before type checking:
 * - calls of the library functions listed in `internal-names.ts` (`s.matches(re)`, `matches(s, re)`,
 *   `lowerAscii()`, `upperAscii()`, `timestamp(x)`) are renamed to tierguard's, in the parsed tree itself, so
 *   positions stay those of the source and no text is rewritten;
 * - literal arguments that can be checked now are: regular expressions of `matches`, `find`,
 *   `findAll`, and addresses of `ip()`, `cidr()`, `containsIP()`, `containsCIDR()`.
 *
 * It relies on the library's documented AST shape (`ASTNode.op` / `.args`, see its `index.d.ts`):
 * `call` → `[name, args]`, `rcall` → `[name, receiver, args]`, `value` → the literal.
 */
import { parseCIDR, parseIP } from './network.js';
import { RENAMED_METHODS, renamedFunction, renamedMethod } from './internal-names.js';
import { compileLiteralPattern } from './regex.js';

/** A problem found in the expression, at a UTF-16 offset of the source. */
export interface RewriteIssue {
  readonly message: string;
  readonly offset: number;
}

interface Node {
  readonly op: string;
  readonly args: unknown;
  readonly pos: number;
}

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && typeof (value as Node).op === 'string' && typeof (value as Node).pos === 'number';
}

function stringLiteral(node: unknown): string | undefined {
  return isNode(node) && node.op === 'value' && typeof node.args === 'string' ? node.args : undefined;
}

const PATTERN_METHODS = new Set(['matches', 'find', 'findAll']);

type Check = (text: string) => string | undefined;
const checkIP: Check = (text) => (parseIP(text) ? undefined : `'${text}' is not a valid IP address (IPv4, or IPv6 without zone or IPv4 mapping)`);
const checkCIDR: Check = (text) => (parseCIDR(text) ? undefined : `'${text}' is not a valid CIDR (address/prefix-length)`);

function checkLiteral(check: Check, argument: unknown, what: string): RewriteIssue | undefined {
  const text = stringLiteral(argument);
  const problem = text === undefined ? undefined : check(text);
  return problem === undefined ? undefined : { message: `${what}: ${problem}`, offset: (argument as Node).pos };
}

function visitMethodCall(args: unknown[]): RewriteIssue | undefined {
  const [name, , callArgs] = args as [string, unknown, unknown[]];
  const renamed = renamedMethod(name, callArgs.length);
  if (renamed) args[0] = renamed;
  if (PATTERN_METHODS.has(name) && callArgs.length >= 1) return checkLiteral(compileLiteralPattern, callArgs[0], `${name}()`);
  if (name === 'containsIP' && callArgs.length === 1) return checkLiteral(checkIP, callArgs[0], 'containsIP()');
  if (name === 'containsCIDR' && callArgs.length === 1) return checkLiteral(checkCIDR, callArgs[0], 'containsCIDR()');
  return undefined;
}

function visitFunctionCall(args: unknown[]): RewriteIssue | undefined {
  const [name, callArgs] = args as [string, unknown[]];
  const renamed = renamedFunction(name, callArgs.length);
  if (renamed) args[0] = renamed;
  if (name === 'matches' && callArgs.length === 2) {
    args[0] = RENAMED_METHODS.matches.internal;
    return checkLiteral(compileLiteralPattern, callArgs[1], 'matches()');
  }
  if (name === 'ip' && callArgs.length === 1) return checkLiteral(checkIP, callArgs[0], 'ip()');
  if (name === 'cidr' && callArgs.length === 1) return checkLiteral(checkCIDR, callArgs[0], 'cidr()');
  return undefined;
}

/**
 * Rewrites `ast` in place (see the module comment) and returns the first problem found in
 * source order, or undefined. Iterative: tree depth is bounded by the parse limits anyway.
 */
export function rewriteParsedExpression(ast: unknown): RewriteIssue | undefined {
  const issues: RewriteIssue[] = [];
  const pending: unknown[] = [ast];
  while (pending.length > 0) {
    const item = pending.pop();
    if (Array.isArray(item)) {
      pending.push(...item);
      continue;
    }
    if (!isNode(item) || item.op === 'value') continue;
    const args = item.args;
    if (Array.isArray(args)) {
      const issue = item.op === 'rcall' ? visitMethodCall(args) : item.op === 'call' ? visitFunctionCall(args) : undefined;
      if (issue) issues.push(issue);
    }
    pending.push(args);
  }
  return issues.sort((a, b) => a.offset - b.offset)[0];
}
