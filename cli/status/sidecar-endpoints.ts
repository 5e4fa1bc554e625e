/**
 * Where `token-broker status` asks, in order: the flag given; else the unix socket in the shared
 * directory (the sidecar's config in the sidecar container, TOKEN_BROKER_DIR in an app container,
 * else the default), then TOKEN_BROKER_URL, then 127.0.0.1 on the API port of the config.
 */
import {
  DEFAULT_API_PORT,
  DEFAULT_DIRECTORY,
  FILES,
  parseSidecarConfig,
  SIDECAR_CONFIG_ENV,
  type SidecarConfig,
} from '../../contract/sidecar-config.ts';
import type { StatusArgs } from './status-args.ts';

export type Env = Readonly<Record<string, string | undefined>>;

export type SidecarEndpoint = { via: 'socket'; path: string } | { via: 'url'; url: string };

/** The app containers' env var naming the shared directory (webhook/src/injection/app-containers.ts). */
export const DIR_ENV = 'TOKEN_BROKER_DIR';
export const URL_ENV = 'TOKEN_BROKER_URL';

function sidecarConfig(env: Env): SidecarConfig | undefined {
  const json = env[SIDECAR_CONFIG_ENV];
  if (json === undefined) return undefined;
  try {
    return parseSidecarConfig(json);
  } catch {
    // status must work even where the config is broken: the sidecar then says why in its log.
    return undefined;
  }
}

export function sidecarEndpoints(args: Pick<StatusArgs, 'socket' | 'url'>, env: Env): SidecarEndpoint[] {
  if (args.socket !== undefined) return [{ via: 'socket', path: args.socket }];
  if (args.url !== undefined) return [{ via: 'url', url: args.url }];
  const config = sidecarConfig(env);
  const dir = config?.directory ?? env[DIR_ENV] ?? DEFAULT_DIRECTORY;
  const endpoints: SidecarEndpoint[] = [
    { via: 'socket', path: `${dir.replace(/\/+$/, '')}/${FILES.socket}` },
  ];
  const url = env[URL_ENV];
  if (url !== undefined && url !== '') endpoints.push({ via: 'url', url });
  const local = `http://127.0.0.1:${config?.listen.apiPort ?? DEFAULT_API_PORT}`;
  if (url !== local) endpoints.push({ via: 'url', url: local });
  return endpoints;
}

export function describeEndpoint(endpoint: SidecarEndpoint): string {
  return endpoint.via === 'socket' ? `unix socket ${endpoint.path}` : endpoint.url;
}
