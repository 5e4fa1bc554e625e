/**
 * The I/O shell of `token-broker status`: GET /v1/status over the unix socket or loopback HTTP, with
 * a short timeout, trying each endpoint in turn. Nothing here decides what is shown.
 */
import { request } from 'node:http';
import type { StatusDocument } from '../../sidecar/src/api-server.ts';
import { ROUTES } from '../../contract/sidecar-config.ts';
import { describeEndpoint, type SidecarEndpoint } from './sidecar-endpoints.ts';
import { parseStatusDocument } from './status-document.ts';

export const STATUS_TIMEOUT_MS = 3_000;

export interface Attempt {
  endpoint: SidecarEndpoint;
  /** Why it gave no status: an error code (ENOENT, ECONNREFUSED), `HTTP 421`, `timeout`, ... */
  problem: string;
}

export type FetchOutcome =
  { ok: true; doc: StatusDocument; endpoint: SidecarEndpoint } | { ok: false; attempts: Attempt[] };

function statusPath(endpoint: SidecarEndpoint): string {
  if (endpoint.via === 'socket') return ROUTES.status;
  return `${new URL(endpoint.url).pathname.replace(/\/+$/, '')}${ROUTES.status}`;
}

function getOnce(endpoint: SidecarEndpoint, timeoutMs: number): Promise<StatusDocument> {
  return new Promise((resolve, reject) => {
    const target =
      endpoint.via === 'socket'
        ? { socketPath: endpoint.path }
        : {
            host: new URL(endpoint.url).hostname.replace(/^\[|\]$/g, ''),
            port: Number(new URL(endpoint.url).port || 80),
          };
    const req = request(
      { ...target, method: 'GET', path: statusPath(endpoint), agent: false, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          if (res.statusCode !== 200) {
            reject(new Error(`HTTP ${res.statusCode ?? 0}`));
            return;
          }
          try {
            resolve(parseStatusDocument(Buffer.concat(chunks).toString('utf8')));
          } catch (error) {
            reject(error instanceof Error ? error : new Error(String(error)));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

function problemOf(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.message : String(error);
}

export async function fetchStatus(
  endpoints: readonly SidecarEndpoint[],
  timeoutMs = STATUS_TIMEOUT_MS,
): Promise<FetchOutcome> {
  const attempts: Attempt[] = [];
  for (const endpoint of endpoints) {
    try {
      return { ok: true, doc: await getOnce(endpoint, timeoutMs), endpoint };
    } catch (error) {
      attempts.push({ endpoint, problem: problemOf(error) });
    }
  }
  return { ok: false, attempts };
}

export function describeAttempts(attempts: readonly Attempt[]): string {
  return attempts.map((a) => `${describeEndpoint(a.endpoint)} (${a.problem})`).join(', ');
}
