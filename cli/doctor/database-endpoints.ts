/** The host:port pairs a target's database is reached at (a mongodb+srv name is looked up first). */
import type { Target } from '../../contract/sidecar-config.ts';

export const DEFAULT_MONGO_PORT = 27017;

export interface HostPort {
  host: string;
  port: number;
}

/** `host:port`, `host`, `[v6]:port` or `[v6]`. */
export function parseHostPort(entry: string, defaultPort: number): HostPort {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed?.[1] !== undefined) {
    return { host: bracketed[1], port: bracketed[2] === undefined ? defaultPort : Number(bracketed[2]) };
  }
  const colon = entry.lastIndexOf(':');
  if (colon > 0 && /^\d+$/.test(entry.slice(colon + 1))) {
    return { host: entry.slice(0, colon), port: Number(entry.slice(colon + 1)) };
  }
  return { host: entry, port: defaultPort };
}

/** Endpoints known without DNS; undefined for mongodb+srv, whose hosts come from an SRV lookup. */
export function staticEndpoints(target: Target): HostPort[] | undefined {
  if (target.kind === 'rds') return [{ host: target.host, port: target.port }];
  if (target.scheme === 'mongodb+srv') return undefined;
  return target.hosts.map((h) => parseHostPort(h, DEFAULT_MONGO_PORT));
}

/** The SRV name a mongodb+srv host stands for. */
export function srvName(host: string): string {
  return `_mongodb._tcp.${host}`;
}
