/**
 * Parsing of incoming AdmissionReviews and building of outgoing ones. Every answer, including
 * the answer to garbage, is an `admission.k8s.io/v1` AdmissionReview with the request uid echoed
 * whenever it could be read (as controller-runtime does).
 */
import { z } from 'zod';
import { ADMISSION_API_VERSION, ADMISSION_KIND, type AdmissionRequest, type AdmissionResponse, type AdmissionReview } from '../api/admission.js';
import { formatPath } from '../policy/problems.js';

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

const reviewSchema = z.looseObject({
  apiVersion: z.literal(ADMISSION_API_VERSION),
  kind: z.literal(ADMISSION_KIND),
  request: requestSchema,
});

export type ParsedReview =
  | { readonly ok: true; readonly request: AdmissionRequest }
  | { readonly ok: false; readonly uid: string; readonly message: string };

/** Parses a request body; a malformed one yields the reason and whatever uid could be read. */
export function parseReview(body: string): ParsedReview {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    return { ok: false, uid: '', message: `request body is not valid JSON: ${(error as Error).message}` };
  }
  const uid = readUid(value);
  const parsed = reviewSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((issue) => `${formatPath(issue.path) || 'body'}: ${issue.message}`);
    return { ok: false, uid, message: `not an ${ADMISSION_API_VERSION} AdmissionReview request: ${issues.join('; ')}` };
  }
  const request = parsed.data.request;
  return { ok: true, request: { ...request, userInfo: request.userInfo ?? {}, object: request.object ?? null, oldObject: request.oldObject ?? null } as AdmissionRequest };
}

function readUid(value: unknown): string {
  const request = typeof value === 'object' && value !== null ? (value as { request?: unknown }).request : undefined;
  const uid = typeof request === 'object' && request !== null ? (request as { uid?: unknown }).uid : undefined;
  return typeof uid === 'string' ? uid : '';
}

export function reviewOf(response: AdmissionResponse): AdmissionReview {
  return { apiVersion: ADMISSION_API_VERSION, kind: ADMISSION_KIND, response };
}

export function allowed(uid: string, options: { patch?: readonly unknown[]; warnings?: readonly string[] } = {}): AdmissionResponse {
  const response: AdmissionResponse = { uid, allowed: true };
  if (options.patch && options.patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(options.patch)).toString('base64');
  }
  if (options.warnings && options.warnings.length > 0) response.warnings = [...options.warnings];
  return response;
}

/** Denied by policy: 403 Forbidden, as kubectl shows it. */
export function denied(uid: string, message: string, warnings: readonly string[] = []): AdmissionResponse {
  const response: AdmissionResponse = { uid, allowed: false, status: { metadata: {}, status: 'Failure', message, reason: 'Forbidden', code: 403 } };
  if (warnings.length > 0) response.warnings = [...warnings];
  return response;
}

const reasons: Record<number, string> = { 400: 'BadRequest', 413: 'RequestEntityTooLarge', 500: 'InternalError' };

/** The request could not be handled normally: bad input (400/413) or an evaluation error (500). */
export function errored(uid: string, code: 400 | 413 | 500, message: string): AdmissionResponse {
  return { uid, allowed: false, status: { metadata: {}, status: 'Failure', message, reason: reasons[code] ?? 'InternalError', code } };
}
