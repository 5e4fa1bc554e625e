/**
 * AdmissionReview `admission.k8s.io/v1` in and out. Pure: decoding checks the shape and says in plain
 * words what is wrong (the server answers 400 with that text), encoding turns a mutation result into the
 * response the API server expects. Nothing here does I/O.
 */
import type { Pod } from '../injection/k8s-types.ts';
import type { JsonPatchOperation } from '../injection/patch.ts';
import type { MutateResult } from '../injection/mutate.ts';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
export const ADMISSION_KIND = 'AdmissionReview';

/**
 * Safety bound per warning. The API server keeps warnings whole until they total 4 KiB (then cuts each
 * to 256 characters); kubectl prints each on one line, so shorter (<= 120) reads best.
 */
export const MAX_WARNING_LENGTH = 1024;
/** Bound on warnings per response, so a pathological pod cannot make a huge response. */
export const MAX_WARNINGS = 20;

export type AdmissionOperation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

/** The fields of `request` the webhook reads. */
export interface AdmissionRequest {
  uid: string;
  operation: AdmissionOperation;
  resource: { group: string; version: string; resource: string };
  subResource?: string;
  namespace?: string;
  name?: string;
  object?: unknown;
  dryRun: boolean;
}

export interface AdmissionStatus {
  code: number;
  reason?: string;
  message: string;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: 'JSONPatch';
  /** Base64 of the JSON-encoded RFC 6902 patch. */
  patch?: string;
  warnings?: string[];
  status?: AdmissionStatus;
}

export interface AdmissionReviewResponse {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: typeof ADMISSION_KIND;
  response: AdmissionResponse;
}

export type ParsedAdmission = { ok: true; request: AdmissionRequest } | { ok: false; error: string };

/** Metric label and log field: what the webhook did with one admission. */
export type AdmissionOutcome = 'injected' | 'reconciled' | 'skipped' | 'denied' | 'error';

const OPERATIONS: readonly string[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A value for an error message, bounded: objects and lists are named, not serialized (a deeply nested
 * one would overflow JSON.stringify's stack), and strings are cut before they are quoted.
 */
function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'string') {
    return value.length > 57 ? `${JSON.stringify(value.slice(0, 54))}...` : JSON.stringify(value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return 'an object';
}

/**
 * Checks that `body` is an AdmissionReview v1 request for a pod (the envelope: what only the API server
 * writes). Anything else yields an error that names the field, what was found and what is expected.
 */
export function parseAdmissionReview(body: unknown): ParsedAdmission {
  const fail = (error: string): ParsedAdmission => ({ ok: false, error });
  if (!isObject(body)) {
    return fail(`request body must be a JSON object (an AdmissionReview), got ${describe(body)}`);
  }
  if (body.apiVersion !== ADMISSION_API_VERSION) {
    return fail(
      `apiVersion is ${describe(body.apiVersion)}; this webhook speaks only "${ADMISSION_API_VERSION}" ` +
        `(set admissionReviewVersions: ["v1"] in the MutatingWebhookConfiguration)`,
    );
  }
  if (body.kind !== ADMISSION_KIND) {
    return fail(`kind is ${describe(body.kind)}; expected "${ADMISSION_KIND}"`);
  }
  const request = body.request;
  if (!isObject(request)) return fail(`request is ${describe(request)}; expected an object`);
  if (typeof request.uid !== 'string' || request.uid.length === 0) {
    return fail(`request.uid is ${describe(request.uid)}; expected a non-empty string to echo back`);
  }
  if (typeof request.operation !== 'string' || !OPERATIONS.includes(request.operation)) {
    return fail(
      `request.operation is ${describe(request.operation)}; expected one of ${OPERATIONS.join(', ')}`,
    );
  }
  const resource = request.resource;
  if (
    !isObject(resource) ||
    typeof resource.resource !== 'string' ||
    typeof resource.version !== 'string' ||
    (resource.group !== undefined && typeof resource.group !== 'string')
  ) {
    return fail(`request.resource is ${describe(resource)}; expected {group, version, resource}`);
  }
  if ((resource.group ?? '') !== '' || resource.resource !== 'pods') {
    const name =
      `${resource.group ? `${String(resource.group)}/` : ''}${resource.version}/${resource.resource}`.slice(
        0,
        120,
      );
    return fail(
      `request.resource is ${name}; this webhook mutates only core v1 pods ` +
        `(register it with rules resources: ["pods"], apiGroups: [""])`,
    );
  }
  for (const key of ['subResource', 'namespace', 'name'] as const) {
    if (request[key] !== undefined && typeof request[key] !== 'string') {
      return fail(`request.${key} is ${describe(request[key])}; expected a string`);
    }
  }
  if (request.dryRun !== undefined && typeof request.dryRun !== 'boolean') {
    return fail(`request.dryRun is ${describe(request.dryRun)}; expected true or false`);
  }
  const operation = request.operation as AdmissionOperation;
  const subResource = request.subResource as string | undefined;
  if (operation === 'CREATE' && !subResource) {
    const object = request.object;
    if (!isObject(object))
      return fail(`request.object is ${describe(object)}; expected the Pod being created`);
    if (object.kind !== undefined && object.kind !== 'Pod') {
      return fail(`request.object.kind is ${describe(object.kind)}; expected "Pod"`);
    }
    // The pod's own fields are checked by pod-shape.ts: a malformed pod is denied when it opted in
    // and let through otherwise, never answered with a 400 that failurePolicy would turn into a block.
  }
  return {
    ok: true,
    request: {
      uid: request.uid,
      operation,
      resource: { group: '', version: resource.version, resource: resource.resource },
      ...(subResource ? { subResource } : {}),
      ...(typeof request.namespace === 'string' ? { namespace: request.namespace } : {}),
      ...(typeof request.name === 'string' ? { name: request.name } : {}),
      object: request.object,
      dryRun: request.dryRun === true,
    },
  };
}

/**
 * The pod to mutate, or why this admission is left alone: only CREATE of the pod itself is mutated
 * (UPDATE cannot change most pod fields; subresources such as ephemeralcontainers are not ours).
 */
export function podToMutate(request: AdmissionRequest): { pod: Pod } | { skip: string } {
  if (request.operation !== 'CREATE') return { skip: `operation ${request.operation} is not mutated` };
  if (request.subResource) return { skip: `subresource pods/${request.subResource} is not mutated` };
  return { pod: request.object as Pod };
}

/** kubectl prints warnings on one line each; keep them printable and bounded. */
export function sanitizeWarnings(warnings: readonly string[]): string[] {
  const cleaned = warnings
    .map((w) => w.replace(/\p{Cc}+/gu, ' ').trim())
    .filter((w) => w.length > 0)
    .map((w) => (w.length > MAX_WARNING_LENGTH ? `${w.slice(0, MAX_WARNING_LENGTH - 3)}...` : w));
  if (cleaned.length <= MAX_WARNINGS) return cleaned;
  const extra = cleaned.length - (MAX_WARNINGS - 1);
  return [...cleaned.slice(0, MAX_WARNINGS - 1), `token-broker: ${extra} more warnings not shown`];
}

function review(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: ADMISSION_API_VERSION, kind: ADMISSION_KIND, response };
}

function withWarnings(response: AdmissionResponse, warnings: readonly string[]): AdmissionResponse {
  const cleaned = sanitizeWarnings(warnings);
  return cleaned.length > 0 ? { ...response, warnings: cleaned } : response;
}

/**
 * The base64 patch each response got from allowResponse. Base64 needs no JSON escaping, so
 * encodeReview writes such a patch into the JSON as it is instead of having JSON.stringify scan
 * every character of it (a visible share of the webhook's CPU profile); any other value of `patch`,
 * one set or changed by a caller, goes through JSON.stringify.
 */
const encodedPatches = new WeakMap<AdmissionResponse, string>();

/** Allowed, and the patch attached only when there is something to change. */
export function allowResponse(
  uid: string,
  patch: readonly JsonPatchOperation[] = [],
  warnings: readonly string[] = [],
): AdmissionReviewResponse {
  const response: AdmissionResponse = { uid, allowed: true };
  if (patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(patch), 'utf8').toString('base64');
  }
  const answer = review(withWarnings(response, warnings));
  if (answer.response.patch !== undefined) encodedPatches.set(answer.response, answer.response.patch);
  return answer;
}

const EMPTY_PATCH = '"patch":""';

/** The response body: exactly `JSON.stringify(review)`, faster when the patch came from allowResponse. */
export function encodeReview(answer: AdmissionReviewResponse): string {
  const { patch } = answer.response;
  if (patch === undefined || encodedPatches.get(answer.response) !== patch) return JSON.stringify(answer);
  const text = JSON.stringify({ ...answer, response: { ...answer.response, patch: '' } });
  // The first match is the key itself: inside a JSON string every quote is escaped.
  const at = text.indexOf(EMPTY_PATCH);
  return `${text.slice(0, at)}"patch":"${patch}"${text.slice(at + EMPTY_PATCH.length)}`;
}

/** Denied with the message the user sees in `kubectl` (it names the annotation, the value and the fix). */
export function denyResponse(
  uid: string,
  message: string,
  warnings: readonly string[] = [],
): AdmissionReviewResponse {
  return review(
    withWarnings({ uid, allowed: false, status: { code: 403, reason: 'Forbidden', message } }, warnings),
  );
}

/** The response for a mutation result, and the outcome to count and log. */
export function responseForResult(
  uid: string,
  result: MutateResult,
): { review: AdmissionReviewResponse; outcome: AdmissionOutcome } {
  switch (result.outcome) {
    case 'skipped':
      return { review: allowResponse(uid), outcome: 'skipped' };
    case 'denied':
      return { review: denyResponse(uid, result.message, result.warnings), outcome: 'denied' };
    case 'injected':
    case 'reconciled':
      return { review: allowResponse(uid, result.patch, result.warnings), outcome: result.outcome };
  }
}
