/** `/metrics` on 0.0.0.0:metricsPort, and nothing else on that port. */
import type { Registry } from 'prom-client';
import type { Handler } from './http.ts';
import { requestPath, send, sendError, shownPath } from './http.ts';
import type { RouteLabel } from './metrics.ts';

export function createMetricsHandler(
  registry: Registry,
  onRequest?: (route: RouteLabel, code: number) => void,
): Handler {
  return (req, res) => {
    const path = requestPath(req);
    const route: RouteLabel = path === '/metrics' ? '/metrics' : 'other';
    res.on('finish', () => onRequest?.(route, res.statusCode));
    if (path !== '/metrics') {
      sendError(res, 404, `no route ${shownPath(path)}; this port serves /metrics only`);
      return;
    }
    if (req.method !== 'GET') {
      sendError(res, 405, '/metrics accepts GET only', { Allow: 'GET' });
      return;
    }
    registry.metrics().then(
      (body) => send(res, 200, body, registry.contentType),
      () => sendError(res, 500, 'could not collect metrics'),
    );
  };
}
