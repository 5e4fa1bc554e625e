/**
 * Kubelet probes on [::]:healthPort (dual-stack; 0.0.0.0 without IPv6): `/healthz` answers while the process runs; `/readyz` is 200
 * only when every target holds a value fresh beyond the refresh margin (the native sidecar's
 * startupProbe, so the app starts with credentials in place).
 */
import type { Handler } from './http.ts';
import { requestPath, sendError, sendJson, shownPath } from './http.ts';
import type { RouteLabel } from './metrics.ts';

export interface HealthDeps {
  /** Names of targets not fresh right now (empty: ready). */
  notReady(): string[];
  onRequest?: (route: RouteLabel, code: number) => void;
}

export function createHealthHandler(deps: HealthDeps): Handler {
  return (req, res) => {
    const path = requestPath(req);
    let route: RouteLabel = 'other';
    res.on('finish', () => deps.onRequest?.(route, res.statusCode));
    if (path !== '/healthz' && path !== '/readyz') {
      sendError(res, 404, `no route ${shownPath(path)}; this port serves /healthz and /readyz`);
      return;
    }
    route = path;
    if (req.method !== 'GET') {
      sendError(res, 405, `${path} accepts GET only`, { Allow: 'GET' });
      return;
    }
    if (path === '/healthz') {
      sendJson(res, 200, { alive: true });
      return;
    }
    const waiting = deps.notReady();
    sendJson(res, waiting.length === 0 ? 200 : 503, { ready: waiting.length === 0, notReady: waiting });
  };
}
