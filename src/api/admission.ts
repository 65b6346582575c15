/**
 * Wire types of `admission.k8s.io/v1` AdmissionReview, as the API server sends and expects them.
 * Only the fields tierguard reads or writes are typed; everything else passes through untouched.
 */

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
export const ADMISSION_KIND = 'AdmissionReview';

export const Operation = {
  Create: 'CREATE',
  Update: 'UPDATE',
  Delete: 'DELETE',
  Connect: 'CONNECT',
} as const;
export type Operation = (typeof Operation)[keyof typeof Operation];

/** metav1.GroupVersionKind as carried in `request.kind`. */
export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface UserInfo {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource?: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: Operation;
  userInfo: UserInfo;
  object: unknown;
  oldObject: unknown;
  dryRun?: boolean;
  options?: unknown;
}

/** metav1.Status, the type of `response.status`. */
export interface Status {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message: string;
  reason?: string;
  code: number;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: Status;
  patch?: string;
  patchType?: 'JSONPatch';
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
}

export interface AdmissionReview {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: typeof ADMISSION_KIND;
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}
