/**
 * Parsing of incoming AdmissionReviews and building of outgoing ones. Every answer, including
 * the answer to garbage, is an `admission.k8s.io/v1` AdmissionReview with the request uid echoed
 * whenever it could be read (as controller-runtime does).
 */
import { z } from 'zod';
import { ADMISSION_API_VERSION, ADMISSION_KIND, type AdmissionRequest, type AdmissionResponse, type AdmissionReview } from '../api/admission.js';
import { formatPath } from '../engine/object.js';

const objectOrNull = z.union([z.record(z.string(), z.unknown()), z.null()]).optional();

const requestSchema = z.looseObject({
  uid: z.string().min(1),
  kind: z.looseObject({ group: z.string(), version: z.string(), kind: z.string().min(1) }),
  subResource: z.string().optional(),
  name: z.string().optional(),
  namespace: z.string().optional(),
  operation: z.enum(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']),
  userInfo: z.looseObject({ username: z.string().optional(), groups: z.array(z.string()).optional() }).optional(),
  object: objectOrNull,
  oldObject: objectOrNull,
  dryRun: z.boolean().optional(),
});

/** An incoming AdmissionReview as tierguard reads it; unknown fields pass through. */
export const reviewSchema = z.looseObject({
  apiVersion: z.literal(ADMISSION_API_VERSION),
  kind: z.literal(ADMISSION_KIND),
  request: requestSchema,
});

export type ParsedReview =
  | { readonly ok: true; readonly request: AdmissionRequest }
  | { readonly ok: false; readonly uid: string; readonly message: string };

/**
 * V8's reason without the piece of the body it quotes (`Unexpected token 'p', "password=h"... is
 * not valid JSON`): the answer and the log line keep no request data. Its other reasons name only a
 * position (`Expected ',' or '}' after property value in JSON at position 23`).
 */
function jsonErrorText(error: unknown): string {
  const message = error instanceof Error ? error.message : '';
  if (!message.startsWith('Unexpected token')) return message;
  const position = /at position (\d+)/.exec(message)?.[1];
  return position === undefined ? 'unexpected token' : `unexpected token at position ${position}`;
}

/** Parses a request body; a malformed one yields the reason and whatever uid could be read. */
export function parseReview(body: string): ParsedReview {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    return { ok: false, uid: '', message: `request body is not valid JSON: ${jsonErrorText(error)}` };
  }
  const fast = readRequest(value);
  // `fast` is a fresh copy: completed in place, as a spread with these three after it would (which
  // costs V8 in Node 20 about 1 µs per property it adds).
  if (fast) return { ok: true, request: Object.assign(fast, { userInfo: fast.userInfo ?? {}, object: fast.object ?? null, oldObject: fast.oldObject ?? null }) as unknown as AdmissionRequest };
  const uid = readUid(value);
  const parsed = reviewSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((issue) => `${formatPath(issue.path) || 'body'}: ${issue.message}`);
    return { ok: false, uid, message: `not an ${ADMISSION_API_VERSION} AdmissionReview request: ${issues.join('; ')}` };
  }
  const request = parsed.data.request;
  return { ok: true, request: { ...request, userInfo: request.userInfo ?? {}, object: request.object ?? null, oldObject: request.oldObject ?? null } as AdmissionRequest };
}

type Json = Record<string, unknown>;

const OPERATIONS: ReadonlySet<unknown> = new Set(requestSchema.shape.operation.options);
const REQUEST_KEYS = new Set(Object.keys(requestSchema.shape));
const KIND_KEYS = new Set(['group', 'version', 'kind']);
const USER_KEYS = new Set(['username', 'groups']);

/**
 * What `reviewSchema` makes of a well-formed review's request, read by hand: the same keys in the
 * same order (the declared ones, then the others), objects copied without a `__proto__` key. Any
 * doubt returns undefined, and zod judges (and words the refusal). zod cost as much as the
 * `JSON.parse` before it; this costs a few microseconds. `test/admission/review.test.ts` holds
 * the two to the same output.
 */
function readRequest(value: unknown): Json | undefined {
  if (!isJson(value) || value.apiVersion !== ADMISSION_API_VERSION || value.kind !== ADMISSION_KIND) return undefined;
  const request = value.request;
  if (!isJson(request) || !hasRequestShape(request)) return undefined;
  const userInfo = 'userInfo' in request ? readUserInfo(request.userInfo) : undefined;
  if (userInfo === null) return undefined;
  const out: Json = {};
  for (const key of REQUEST_KEYS) {
    if (!(key in request)) continue;
    const field = request[key];
    if (key === 'kind') out.kind = looseCopy(field as Json, KIND_KEYS);
    else if (key === 'userInfo') out.userInfo = userInfo;
    else out[key] = (key === 'object' || key === 'oldObject') && field !== null ? recordCopy(field as Json) : field;
  }
  return extraKeys(request, REQUEST_KEYS, out);
}

/** Whether the schema accepts every declared field of `request` but `userInfo` as it is. */
function hasRequestShape(request: Json): boolean {
  const { uid, kind } = request;
  if (typeof uid !== 'string' || uid.length === 0 || !OPERATIONS.has(request.operation)) return false;
  if (!isJson(kind) || typeof kind.group !== 'string' || typeof kind.version !== 'string' || typeof kind.kind !== 'string' || kind.kind.length === 0) return false;
  for (const key of ['subResource', 'name', 'namespace'] as const) {
    if (key in request && typeof request[key] !== 'string') return false;
  }
  for (const key of ['object', 'oldObject'] as const) {
    if (key in request && request[key] !== null && !isJson(request[key])) return false;
  }
  return !('dryRun' in request) || typeof request.dryRun === 'boolean';
}

/** `userInfo` as zod yields it, or null when zod must judge it. */
function readUserInfo(value: unknown): Json | null {
  if (!isJson(value)) return null;
  if ('username' in value && typeof value.username !== 'string') return null;
  if ('groups' in value && !(Array.isArray(value.groups) && value.groups.every((group) => typeof group === 'string'))) return null;
  const out: Json = {};
  if ('username' in value) out.username = value.username;
  if ('groups' in value) out.groups = [...(value.groups as string[])];
  return extraKeys(value, USER_KEYS, out);
}

function looseCopy(value: Json, declared: ReadonlySet<string>): Json {
  const out: Json = {};
  for (const key of declared) if (key in value) out[key] = value[key];
  return extraKeys(value, declared, out);
}

/** Undeclared keys, in order, as zod's loose objects pass them (never `__proto__`, which would set the prototype). */
function extraKeys(value: Json, declared: ReadonlySet<string>, out: Json): Json {
  for (const key in value) if (!declared.has(key) && key !== '__proto__') out[key] = value[key];
  return out;
}

/** zod's `z.record(z.string(), z.unknown())`: a shallow copy of the own keys but `__proto__`. */
function recordCopy(value: Json): Json {
  const out: Json = {};
  for (const key of Object.keys(value)) if (key !== '__proto__') out[key] = value[key];
  return out;
}

function isJson(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readUid(value: unknown): string {
  const request = typeof value === 'object' && value !== null ? (value as { request?: unknown }).request : undefined;
  const uid = typeof request === 'object' && request !== null ? (request as { uid?: unknown }).uid : undefined;
  return typeof uid === 'string' ? uid : '';
}

/** A response before it is bound to a request: `reviewOf` sets the uid, in this one place. */
export type Response = Omit<AdmissionResponse, 'uid'>;

/** The AdmissionReview answering the request with this uid. */
export function reviewOf(uid: string, response: Response): AdmissionReview {
  return { apiVersion: ADMISSION_API_VERSION, kind: ADMISSION_KIND, response: { uid, ...response } };
}

export function allowed(options: { patch?: readonly unknown[]; warnings?: readonly string[] } = {}): Response {
  const response: Response = { allowed: true };
  if (options.patch && options.patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(options.patch)).toString('base64');
  }
  return withWarnings(response, options.warnings);
}

/** Denied by policy: 403 Forbidden, as kubectl shows it. */
export function denied(message: string, warnings: readonly string[] = []): Response {
  return withWarnings({ allowed: false, status: { metadata: {}, status: 'Failure', message, reason: 'Forbidden', code: 403 } }, warnings);
}

/** A Tier or Guardrail that must not be stored: 422 Invalid, as the API server's own validation says it. */
export function invalid(message: string, warnings: readonly string[] = []): Response {
  return withWarnings({ allowed: false, status: { metadata: {}, status: 'Failure', message, reason: 'Invalid', code: 422 } }, warnings);
}

const reasons: Record<number, string> = { 400: 'BadRequest', 413: 'RequestEntityTooLarge', 500: 'InternalError' };

/** The request could not be handled normally: bad input (400/413) or an evaluation error (500). */
export function errored(code: 400 | 413 | 500, message: string, warnings: readonly string[] = []): Response {
  return withWarnings({ allowed: false, status: { metadata: {}, status: 'Failure', message, reason: reasons[code] ?? 'InternalError', code } }, warnings);
}

function withWarnings(response: Response, warnings: readonly string[] | undefined): Response {
  if (warnings && warnings.length > 0) response.warnings = [...warnings];
  return response;
}
