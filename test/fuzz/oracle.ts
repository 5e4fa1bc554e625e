/**
 * What every answer of the webhook must satisfy, checked from the outside: the oracle reads only the
 * case, the request it became and the HTTP answer, and uses independent code (fast-json-patch) or the
 * sidecar's own parsers, never the webhook's logic.
 *
 * Properties (each failure is counted under its name):
 * - `no-5xx`: never a 5xx.
 * - `answer-kind`: a valid v1 pod review gets 200 and an AdmissionReview; anything else a 4xx, and so
 *   does a body over the size or nesting bound (an oversized body may also be cut off by the server).
 * - `review-shape`: the AdmissionReview is v1, echoes the request's uid, and its fields are typed.
 * - `untouched-when-not-ours`: a pod that did not opt in, or a request that is not a pod CREATE, is
 *   allowed without a patch.
 * - `malformed-denied`: an opted-in pod with a field broken by the case is denied, naming the field.
 * - `patch-applies`: an allowed patch applies (RFC 6902, fast-json-patch) to the pod as sent.
 * - `patch-scope`: the patch changes only the sidecar it adds, app containers the allow-list permits,
 *   the pod's volumes (adding ours) and annotations (status, default container); nothing else.
 * - `sidecar-accepts`: the injected sidecar's TOKEN_BROKER_CONFIG passes the contract parser, and the
 *   sidecar's real renderers (pgpass, Mongo URI) accept every target.
 * - `no-secret-echo`: no planted secret, in any spelling, anywhere in the answer (patch decoded).
 * - `within-timeout`: answered within the chart's 5 s timeoutSeconds (full runs only).
 */
import jsonpatch from 'fast-json-patch';
import { parseSidecarConfig, SIDECAR_CONFIG_ENV, type Target } from '../../contract/sidecar-config.ts';
import { renderMongoUri } from '../../sidecar/src/mongo-uri.ts';
import { renderPgpass } from '../../sidecar/src/pgpass.ts';
import { BODY_LIMIT_BYTES } from '../../webhook/src/server/app.ts';
import { MAX_BODY_DEPTH } from '../../webhook/src/server/json-depth.ts';
import { INFRASTRUCTURE_CONTAINER_NAMES } from '../../webhook/src/injection/names.ts';
import type { FuzzCase, Materialized } from './case.ts';
import { UID } from './case.ts';

export const PROPERTIES = [
  'no-5xx',
  'answer-kind',
  'review-shape',
  'untouched-when-not-ours',
  'malformed-denied',
  'patch-applies',
  'patch-scope',
  'sidecar-accepts',
  'no-secret-echo',
  'within-timeout',
] as const;
export type Property = (typeof PROPERTIES)[number];

export interface Violation {
  property: Property;
  detail: string;
}

/** What came back: an HTTP answer, or a transport error (connection reset, ...). */
export interface Answer {
  status?: number;
  body?: string;
  error?: string;
  ms: number;
}

export type Outcome = 'injected' | 'allowed' | 'denied' | '4xx' | '5xx' | 'cut-off' | 'invalid-answer';

export interface Verdict {
  outcome: Outcome;
  violations: Violation[];
}

/** Our own containers (design.md, fixed names); not imported, so a rename shows up here. */
const OWN_CONTAINERS = ['token-broker', 'token-broker-init'];
/** Volumes injection adds are named `token-broker...` (design.md "What injection adds"). */
const OWN_PREFIX = 'token-broker';
const ADDED_ANNOTATIONS = ['token-broker.io/status', 'kubectl.kubernetes.io/default-container'];
const FAKE_RDS_TOKEN = 'h.rds.amazonaws.com:5432/?Action=connect&DBUser=u&X-Amz-Signature=ab:cd\\ef';
const FAKE_CREDENTIALS = {
  accessKeyId: 'ASIAFAKEFUZZ000000',
  secretAccessKey: 'fake/secret+key=',
  sessionToken: 'fake-session/token+=',
  expiresAt: Date.now() + 3_600_000,
};
/** Answers slower than this would be cut off by an API server with the chart's timeoutSeconds. */
export const ANSWER_WITHIN_MS = 5_000;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** JSON equality (key order ignored), iterative: values may be deep. */
function jsonEqual(a: unknown, b: unknown): boolean {
  const stack: [unknown, unknown][] = [[a, b]];
  while (stack.length > 0) {
    const [x, y] = stack.pop() as [unknown, unknown];
    if (x === y) continue;
    if (Array.isArray(x) && Array.isArray(y)) {
      if (x.length !== y.length) return false;
      x.forEach((v, i) => stack.push([v, y[i]]));
      continue;
    }
    if (isObject(x) && isObject(y)) {
      const kx = Object.keys(x).filter((k) => x[k] !== undefined);
      const ky = Object.keys(y).filter((k) => y[k] !== undefined);
      if (kx.length !== ky.length) return false;
      for (const k of kx) stack.push([x[k], y[k]]);
      continue;
    }
    return false;
  }
  return true;
}

function without(obj: unknown, keys: string[]): Json {
  return isObject(obj) ? Object.fromEntries(Object.entries(obj).filter(([k]) => !keys.includes(k))) : {};
}

function optedIn(pod: unknown): boolean {
  return (
    isObject(pod) &&
    isObject(pod.metadata) &&
    isObject(pod.metadata.annotations) &&
    pod.metadata.annotations['token-broker.io/inject'] === 'true'
  );
}

/** The app containers the pod allows to be edited: the allow-list annotation, else all but mesh and ours. */
function allowedContainer(pod: Json, name: unknown): boolean {
  if (typeof name !== 'string' || OWN_CONTAINERS.includes(name)) return false;
  const list =
    isObject(pod.metadata) && isObject(pod.metadata.annotations)
      ? pod.metadata.annotations['token-broker.io/containers']
      : undefined;
  if (typeof list === 'string')
    return list
      .split(',')
      .map((n) => n.trim())
      .includes(name);
  return !INFRASTRUCTURE_CONTAINER_NAMES.includes(name);
}

function containers(pod: Json, list: string): Json[] {
  const spec = isObject(pod.spec) ? pod.spec : {};
  return Array.isArray(spec[list]) ? (spec[list] as Json[]) : [];
}

/** Every way a secret may be written: as is, percent-encoded, decoded, JSON-escaped. */
function spellings(secret: string): string[] {
  const forms = new Set([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)]);
  try {
    forms.add(decodeURIComponent(secret));
  } catch {
    // not percent-encoded
  }
  return [...forms].filter((f) => f.length >= 8);
}

function patchScope(before: Json, after: Json): string[] {
  const problems: string[] = [];
  if (!jsonEqual(without(before, ['metadata', 'spec']), without(after, ['metadata', 'spec'])))
    problems.push('top-level fields changed');
  if (!jsonEqual(without(before.metadata, ['annotations']), without(after.metadata, ['annotations'])))
    problems.push('metadata changed');
  const b =
    isObject(before.metadata) && isObject(before.metadata.annotations) ? before.metadata.annotations : {};
  const a =
    isObject(after.metadata) && isObject(after.metadata.annotations) ? after.metadata.annotations : {};
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (b[key] === a[key]) continue;
    if (!(ADDED_ANNOTATIONS.includes(key) && b[key] === undefined && typeof a[key] === 'string')) {
      problems.push(`annotation ${JSON.stringify(key)} changed`);
    }
  }
  if (
    !jsonEqual(
      without(before.spec, ['containers', 'initContainers', 'volumes']),
      without(after.spec, ['containers', 'initContainers', 'volumes']),
    )
  ) {
    problems.push('spec fields other than containers and volumes changed');
  }
  const volumes = (pod: Json) => containers(pod, 'volumes');
  // Ours: new volumes named token-broker...; every other volume stays as it was, in order.
  const ours = (v: Json) =>
    typeof v.name === 'string' &&
    v.name.startsWith(OWN_PREFIX) &&
    !volumes(before).some((x) => x.name === v.name);
  const kept = volumes(after).filter((v) => !ours(v));
  if (!jsonEqual(kept, volumes(before))) problems.push('volumes other than ours changed');
  for (const list of ['initContainers', 'containers']) {
    const own = (c: Json) => typeof c.name === 'string' && OWN_CONTAINERS.includes(c.name);
    const beforeApps = containers(before, list).filter((c) => !own(c));
    const afterApps = containers(after, list).filter((c) => !own(c));
    if (beforeApps.length !== afterApps.length || beforeApps.some((c, i) => c.name !== afterApps[i]?.name)) {
      problems.push(`${list}: app containers added, removed or reordered`);
      continue;
    }
    beforeApps.forEach((c, i) => {
      const changed = afterApps[i] as Json;
      if (!allowedContainer(before, c.name)) {
        if (!jsonEqual(c, changed)) problems.push(`${list} "${String(c.name)}" is not allowed but changed`);
      } else if (!jsonEqual(without(c, ['env', 'volumeMounts']), without(changed, ['env', 'volumeMounts']))) {
        problems.push(`${list} "${String(c.name)}": fields other than env and volumeMounts changed`);
      }
    });
  }
  return problems;
}

/** Runs the new sidecar's config through the contract parser and the sidecar's renderers. */
function sidecarAccepts(before: Json, after: Json): string[] {
  const problems: string[] = [];
  const existing = [...containers(before, 'initContainers'), ...containers(before, 'containers')];
  const configOf = (c: Json | undefined) =>
    (Array.isArray(c?.env) ? (c.env as Json[]) : []).find((e) => e.name === SIDECAR_CONFIG_ENV)?.value;
  // Added sidecars must carry a config; on reinvocation, one already there keeps (or never had) its own.
  const checked = [...containers(after, 'initContainers'), ...containers(after, 'containers')].filter((c) => {
    if (typeof c.name !== 'string' || !OWN_CONTAINERS.includes(c.name)) return false;
    const was = existing.find((e) => e.name === c.name);
    return was === undefined || !jsonEqual(configOf(was), configOf(c));
  });
  for (const c of checked) {
    const config = configOf(c);
    if (typeof config !== 'string') {
      problems.push(`${String(c.name)} has no ${SIDECAR_CONFIG_ENV}`);
      continue;
    }
    let targets: readonly Target[];
    try {
      targets = parseSidecarConfig(config).targets;
    } catch (error) {
      problems.push(`parseSidecarConfig: ${(error as Error).message}`);
      continue;
    }
    try {
      const pgpass = [];
      for (const t of targets) {
        if (t.kind === 'mongo') renderMongoUri(t, FAKE_CREDENTIALS);
        else if (t.engine === 'postgres') {
          pgpass.push({
            host: t.host,
            port: t.port,
            database: undefined,
            user: t.user,
            password: FAKE_RDS_TOKEN,
          });
        }
      }
      renderPgpass(pgpass);
    } catch (error) {
      problems.push(`sidecar renderer: ${(error as Error).message}`);
    }
  }
  return problems;
}

function expectsReview(c: FuzzCase, m: Materialized): boolean {
  if (c.kind === 'raw' || m.review === undefined) return false;
  if (m.body.length > BODY_LIMIT_BYTES || m.depth > MAX_BODY_DEPTH) return false;
  if (!/^application\/json(;|$)/.test(m.contentType)) return false;
  return c.envelope === undefined || c.envelopeValid === true;
}

/** Checks one answer against every property. */
export function judge(c: FuzzCase, m: Materialized, answer: Answer, options: { timing: boolean }): Verdict {
  const violations: Violation[] = [];
  const fail = (property: Property, detail: string) => violations.push({ property, detail });
  if (options.timing && answer.ms > ANSWER_WITHIN_MS)
    fail('within-timeout', `answered after ${answer.ms} ms`);

  const text = answer.body ?? '';
  const secrets = (c.secrets ?? []).flatMap(spellings);
  const echoed = (where: string, haystack: string) => {
    const found = secrets.find((s) => haystack.includes(s));
    if (found) fail('no-secret-echo', `a planted secret (${found.slice(0, 10)}...) is in the ${where}`);
  };
  echoed('response body', text);

  if (answer.status === undefined) {
    if (expectsReview(c, m) || m.body.length <= BODY_LIMIT_BYTES)
      fail('answer-kind', `no answer: ${answer.error ?? '?'}`);
    return { outcome: 'cut-off', violations };
  }
  if (answer.status >= 500) {
    fail('no-5xx', `${answer.status}: ${text.slice(0, 200)}`);
    return { outcome: '5xx', violations };
  }
  if (!expectsReview(c, m)) {
    if (answer.status < 400) fail('answer-kind', `expected a 4xx, got ${answer.status}`);
    return { outcome: '4xx', violations };
  }
  if (answer.status !== 200) {
    fail('answer-kind', `expected 200 with a review, got ${answer.status}: ${text.slice(0, 300)}`);
    return { outcome: answer.status >= 400 ? '4xx' : 'invalid-answer', violations };
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    fail('review-shape', 'the body is not JSON');
    return { outcome: 'invalid-answer', violations };
  }
  const response = isObject(parsed) ? parsed.response : undefined;
  if (
    !isObject(parsed) ||
    parsed.apiVersion !== 'admission.k8s.io/v1' ||
    parsed.kind !== 'AdmissionReview' ||
    !isObject(response)
  ) {
    fail('review-shape', `not an AdmissionReview v1: ${text.slice(0, 200)}`);
    return { outcome: 'invalid-answer', violations };
  }
  if (response.uid !== UID) fail('review-shape', `uid ${JSON.stringify(response.uid)} is not the request's`);
  if (typeof response.allowed !== 'boolean') fail('review-shape', 'allowed is not a boolean');
  if (
    response.warnings !== undefined &&
    (!Array.isArray(response.warnings) || !response.warnings.every((w) => typeof w === 'string'))
  ) {
    fail('review-shape', 'warnings is not a list of strings');
  }
  const status = response.status;
  const message = isObject(status) && typeof status.message === 'string' ? status.message : '';
  if (response.allowed === false && message === '') fail('review-shape', 'a denial without a message');

  let patch: unknown[] | undefined;
  if (response.patch !== undefined) {
    if (response.patchType !== 'JSONPatch' || typeof response.patch !== 'string') {
      fail('review-shape', 'patch without patchType JSONPatch');
    } else {
      const decoded = Buffer.from(response.patch, 'base64').toString('utf8');
      echoed('patch', decoded);
      try {
        const ops = JSON.parse(decoded) as unknown;
        if (Array.isArray(ops)) patch = ops;
        else fail('review-shape', 'the patch is not a list');
      } catch {
        fail('review-shape', 'the patch is not JSON');
      }
    }
  }

  const review = m.review as Json;
  const request = isObject(review.request) ? review.request : {};
  const pod = request.object;
  const mutable = request.operation === 'CREATE' && !request.subResource;
  if (!mutable || !optedIn(pod)) {
    if (response.allowed !== true || patch !== undefined) {
      fail('untouched-when-not-ours', `allowed=${String(response.allowed)}, patch=${patch ? 'yes' : 'no'}`);
    }
  } else if (m.broken.length > 0) {
    if (response.allowed !== false) fail('malformed-denied', `malformed ${m.broken.join(', ')} was allowed`);
    else if (!m.broken.some((f) => message.includes(f)))
      fail('malformed-denied', `the denial does not name ${m.broken.join(' or ')}: ${message.slice(0, 300)}`);
  }
  const outcome: Outcome =
    response.allowed === false ? 'denied' : patch && patch.length > 0 ? 'injected' : 'allowed';
  if (response.allowed !== true || patch === undefined || !isObject(pod)) return { outcome, violations };

  let after: Json;
  try {
    const ops = patch as jsonpatch.Operation[];
    const error = jsonpatch.validate(ops, structuredClone(pod));
    if (error) throw error;
    after = jsonpatch.applyPatch(structuredClone(pod), ops, true, false).newDocument;
  } catch (error) {
    fail('patch-applies', (error as Error).message.split('\n')[0] ?? 'does not apply');
    return { outcome, violations };
  }
  for (const p of patchScope(pod, after)) fail('patch-scope', p);
  for (const p of sidecarAccepts(pod, after)) fail('sidecar-accepts', p);
  return { outcome, violations };
}
