/**
 * The sidecar's proxies: one per RDS PostgreSQL target with `proxy` in its config, each taking its
 * tokens from that target's refresher, all reporting on the sidecar's registry, drained together.
 */
import type { Registry } from 'prom-client';
import type { RdsTarget, Target } from '../../../contract/sidecar-config.ts';
import type { Logger } from '../log.ts';
import { DEFAULT_DRAIN_MS } from './drain.ts';
import { createProxyMetrics } from './metrics.ts';
import { startProxyServer, type ProxyServer } from './server.ts';
import type { ProxyTimeouts } from './session.ts';
import { freshTokenSource, PROXY_TOKEN_MARGIN_MS, type TokenHolder } from './token-source.ts';

export { DEFAULT_DRAIN_MS };

/** Test and tuning knobs of the proxies (SidecarDeps.proxy). */
export interface ProxyOverrides {
  /** Per target name; 0 picks a free port. Default: the target's proxy port. */
  ports?: Readonly<Record<string, number>>;
  /** Per target name: where its database is instead of the target's host and port. */
  upstreams?: Readonly<Record<string, { host: string; port: number }>>;
  timeouts?: Partial<ProxyTimeouts>;
  /** Drain deadline at shutdown (default DEFAULT_DRAIN_MS). */
  drainMs?: number;
}

export interface Proxies {
  /** Bound port per target name. */
  readonly ports: ReadonlyMap<string, number>;
  /** Stops accepting on every proxy now; resolves once their connections are closed or cut. */
  drain(): Promise<void>;
}

export function proxiedTargets(targets: readonly Target[]): (RdsTarget & { proxy: object })[] {
  return targets.filter(
    (t): t is RdsTarget & { proxy: NonNullable<RdsTarget['proxy']> } =>
      t.kind === 'rds' && t.proxy !== undefined,
  );
}

export async function startProxies(options: {
  targets: readonly Target[];
  holders: ReadonlyMap<string, TokenHolder>;
  registry: Registry;
  logger: Logger;
  /** The refresh margin: a held token is never refreshed later than this before its expiry. */
  refreshMarginMs: number;
  now: () => number;
  overrides?: ProxyOverrides;
}): Promise<Proxies> {
  const { logger, overrides = {} } = options;
  const targets = proxiedTargets(options.targets);
  const metrics = createProxyMetrics(
    options.registry,
    targets.map((t) => t.name),
  );
  const servers: ProxyServer[] = [];
  const drainMs = overrides.drainMs ?? DEFAULT_DRAIN_MS;
  // Never more than the refresher keeps (short-lived test credentials and a small margin).
  const tokenMargin = Math.min(PROXY_TOKEN_MARGIN_MS, options.refreshMarginMs);
  const drain = async () => {
    const outcomes = await Promise.all(servers.map(async (s) => ({ s, ...(await s.drain(drainMs)) })));
    for (const { s, cut } of outcomes) {
      if (cut > 0) {
        logger.warn(
          { target: s.target, cut, drainSeconds: drainMs / 1000 },
          `closed ${cut} connection(s) still open through the proxy of target "${s.target}" at the drain deadline`,
        );
      }
    }
  };
  try {
    for (const target of targets) {
      const holder = options.holders.get(target.name);
      if (holder === undefined) throw new Error(`no refresher for proxied target "${target.name}"`);
      servers.push(
        await startProxyServer({
          target,
          token: freshTokenSource(holder, options.now, tokenMargin),
          metrics: metrics.forTarget(target.name),
          logger,
          ...(overrides.ports?.[target.name] === undefined ? {} : { port: overrides.ports[target.name] }),
          ...(overrides.upstreams?.[target.name] === undefined
            ? {}
            : { upstream: overrides.upstreams[target.name] }),
          ...(overrides.timeouts === undefined ? {} : { timeouts: overrides.timeouts }),
          now: options.now,
        }),
      );
    }
  } catch (error) {
    await Promise.all(servers.map((s) => s.drain(0)));
    throw error;
  }
  for (const s of servers) {
    logger.info(
      { target: s.target, port: s.port },
      `PostgreSQL proxy of target "${s.target}" listening on 127.0.0.1:${s.port}`,
    );
  }
  return { ports: new Map(servers.map((s) => [s.target, s.port])), drain };
}
