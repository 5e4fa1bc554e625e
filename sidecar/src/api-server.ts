/**
 * The credentials API, served on 127.0.0.1:apiPort and on `<dir>/broker.sock`:
 *
 * | route | auth | answer |
 * | --- | --- | --- |
 * | GET /v1/token/<name> | yes | the RDS token as text/plain (expiry in X-Token-Expiration) |
 * | GET /v1/credentials/<name> | yes | AWS container-credentials JSON (AWS_CONTAINER_CREDENTIALS_FULL_URI) |
 * | GET /v1/status | no | per target: expiry, freshness, last success, last error class; never a secret |
 * | POST /quitquitquit | yes | shuts the sidecar down (legacy mode: lets a Job's pod finish) |
 *
 * `Authorization` must carry the token from `<dir>/auth-token` (as the AWS SDKs send it, or as
 * `Bearer <token>`). It is checked before the target name, so without it nothing, not even which
 * targets exist, can be learned: code in the app tricked into fetching a URL (SSRF) gets a 401.
 *
 * Over TCP every route first needs a loopback `Host` (127.0.0.1, localhost or [::1], any port), or
 * gets a 421: a browser page whose DNS name was rebound to 127.0.0.1 sends its own name as `Host`,
 * and cannot set `Authorization` across origins either. That check is what keeps /v1/status (target
 * names, error classes: what /metrics shows too) from such pages, so status needs no token and stays
 * usable from any local tool. The unix socket (0600, the app's UID) accepts any `Host`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Target } from '../../contract/sidecar-config.ts';
import { isoSeconds, toContainerCredentials } from './credentials-json.ts';
import type { Handler } from './http.ts';
import { requestPath, send, sendError, sendJson, shownPath, viaUnixSocket } from './http.ts';
import type { RouteLabel } from './metrics.ts';
import type { TargetValue } from './publisher.ts';
import type { TargetStatus } from './refresher.ts';

export interface ApiDeps {
  authToken: string;
  /** The target and the value to serve now (undefined before the first success or after expiry). */
  lookup(name: string): { target: Target; value: TargetValue | undefined } | undefined;
  status(): StatusDocument;
  quit(): void;
  onRequest?: (route: RouteLabel, code: number) => void;
}

export interface TargetStatusDocument {
  name: string;
  kind: Target['kind'];
  fresh: boolean;
  expiration: string | null;
  lastSuccess: string | null;
  lastFailure: string | null;
  lastErrorClass: string | null;
  consecutiveFailures: number;
  nextRefresh: string | null;
}

export interface StatusDocument {
  ready: boolean;
  targets: TargetStatusDocument[];
}

const iso = (ms: number | undefined) => (ms === undefined ? null : isoSeconds(ms));

export function statusDocument(statuses: readonly TargetStatus[]): StatusDocument {
  return {
    ready: statuses.every((s) => s.fresh),
    targets: statuses.map((s) => ({
      name: s.name,
      kind: s.kind,
      fresh: s.fresh,
      expiration: iso(s.expiresAt),
      lastSuccess: iso(s.lastSuccessAt),
      lastFailure: iso(s.lastFailureAt),
      lastErrorClass: s.lastErrorClass ?? null,
      consecutiveFailures: s.consecutiveFailures,
      nextRefresh: iso(s.nextRefreshAt),
    })),
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant-time comparison (hashing first makes the lengths equal). */
export function authorized(header: string | undefined, authToken: string): boolean {
  if (header === undefined) return false;
  const presented = header.trim().replace(/^Bearer\s+/i, '');
  return timingSafeEqual(digest(presented), digest(authToken));
}

/** 127.0.0.1, localhost or [::1], with any port: what SDKs, curl and kubectl port-forward send. */
const LOOPBACK_HOST = /^(?:127\.0\.0\.1|localhost|\[::1\])(?::\d{1,5})?$/i;

/** Whether a `Host` header names this machine's loopback (never a DNS name that resolves to it). */
export function isLoopbackHost(host: string | undefined): boolean {
  return host !== undefined && LOOPBACK_HOST.test(host);
}

const TOKEN_PREFIX = '/v1/token/';
const CREDENTIALS_PREFIX = '/v1/credentials/';
const STATUS_PATH = '/v1/status';
const QUIT_PATH = '/quitquitquit';

function routeOf(path: string): RouteLabel {
  if (path === STATUS_PATH) return '/v1/status';
  if (path === QUIT_PATH) return '/quitquitquit';
  if (path.startsWith(TOKEN_PREFIX)) return '/v1/token/:name';
  if (path.startsWith(CREDENTIALS_PREFIX)) return '/v1/credentials/:name';
  return 'other';
}

export function createApiHandler(deps: ApiDeps): Handler {
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = requestPath(req);
    const route = routeOf(path);
    res.on('finish', () => deps.onRequest?.(route, res.statusCode));
    if (!viaUnixSocket(req) && !isLoopbackHost(req.headers.host)) {
      sendError(
        res,
        421,
        'the Host header must be 127.0.0.1, localhost or [::1] (with any port): this API serves only its own pod; use $TOKEN_BROKER_URL',
      );
      return;
    }
    const method = req.method ?? '';
    const allow = (expected: string): boolean => {
      if (method === expected) return true;
      // The route's template, never the raw path.
      sendError(res, 405, `${route.replace(':name', '<name>')} accepts ${expected} only`, {
        Allow: expected,
      });
      return false;
    };
    const authorize = (): boolean => {
      if (authorized(req.headers.authorization, deps.authToken)) return true;
      sendError(
        res,
        401,
        'missing or wrong Authorization header: send the content of the file named by TOKEN_BROKER_AUTH_TOKEN_FILE',
      );
      return false;
    };

    if (route === '/v1/status') {
      if (allow('GET')) sendJson(res, 200, deps.status());
      return;
    }
    if (route === '/quitquitquit') {
      if (!allow('POST') || !authorize()) return;
      res.once('finish', () => deps.quit());
      sendJson(res, 200, { stopping: true });
      return;
    }
    if (route === 'other') {
      sendError(
        res,
        404,
        `no route ${shownPath(path)}; routes: /v1/token/<name>, /v1/credentials/<name>, /v1/status, /quitquitquit`,
      );
      return;
    }
    const isToken = route === '/v1/token/:name';
    if (!allow('GET') || !authorize()) return;
    const name = path.slice(isToken ? TOKEN_PREFIX.length : CREDENTIALS_PREFIX.length);
    const found = deps.lookup(name);
    if (found === undefined) {
      sendError(res, 404, `no target named "${shownPath(name)}" in this pod's token-broker annotations`);
      return;
    }
    const wanted = isToken ? 'rds' : 'mongo';
    if (found.target.kind !== wanted) {
      const other = isToken ? '/v1/credentials/' : '/v1/token/';
      sendError(res, 404, `target "${name}" is a ${found.target.kind} target; use ${other}${name}`);
      return;
    }
    const value = found.value;
    if (value === undefined) {
      sendError(res, 503, `no valid credentials for "${name}" yet; see /v1/status for the last error`, {
        'Retry-After': '1',
      });
      return;
    }
    if (value.kind === 'rds') {
      send(res, 200, value.token, 'text/plain; charset=utf-8', {
        'X-Token-Expiration': isoSeconds(value.expiresAt),
      });
    } else {
      sendJson(res, 200, toContainerCredentials(value.credentials));
    }
  };
}
