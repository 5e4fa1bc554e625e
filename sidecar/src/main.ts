/**
 * `token-broker sidecar`: wires options, identity, refreshers, files, servers, metrics and logs.
 * Everything with a side effect can be replaced through SidecarDeps (tests pass fakes; the CLI
 * passes nothing).
 */
import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { DestinationStream } from 'pino';
import { FILES, type Target } from '../../contract/sidecar-config.ts';
import { createApiHandler, statusDocument } from './api-server.ts';
import { AssumedRoleCache } from './assumed-role-cache.ts';
import { shareBaseIdentity } from './base-identity.ts';
import { CLOCK_SKEW_THRESHOLD_MS, describeOffset, StsClock } from './clock-skew.ts';
import type { CredentialCachePolicy } from './credential-cache.ts';
import { StepTimeoutError, withDeadline } from './deadline.ts';
import { hintFor } from './error-class.ts';
import { ensureAuthToken, nodeFileOps, removeStaleTempFiles, type FileOps } from './files.ts';
import { createHealthHandler } from './health-server.ts';
import { boundAddress, boundPort, closeServer, listenPublic, listenTcp, listenUnix } from './http.ts';
import {
  createBaseProvider,
  createStsClient,
  roleSessionName,
  type BaseProviderOptions,
  type CredentialFetcher,
} from './identity.ts';
import { createLogger, describeError, type Logger } from './log.ts';
import { createMetrics, type RouteLabel, type SidecarMetrics } from './metrics.ts';
import { createMetricsHandler } from './metrics-server.ts';
import { makeMongoCredentials } from './mongo-credentials.ts';
import { isReservedMongoOption } from './mongo-uri.ts';
import { parseSidecarOptions, type Env, type SidecarOptions } from './options.ts';
import { startProxies, type Proxies, type ProxyOverrides } from './pg-proxy/proxies.ts';
import { FilePublisher } from './publisher.ts';
import { makeRdsToken, sdkRdsSigner, type RdsSigner } from './rds-token.ts';
import { CYCLE_TIMEOUT_MS, PUBLISH_TIMEOUT_MS } from './refresh-policy.ts';
import { readPreviousValues } from './restore.ts';
import { systemTimers, TargetRefresher, type RefreshEvents, type Timers } from './refresher.ts';
import { stsTimingPlugin, type StsRequestObserver } from './sts-timing.ts';
import { targetState } from './target-state.ts';

export interface ListenOverrides {
  /** Host of the credentials API (default 127.0.0.1). */
  apiHost?: string;
  /** Host of the health and metrics ports (default: options.listenHost, `::` dual stack). */
  publicHost?: string;
  /** Ports; 0 picks a free one (tests). Default: from the config. */
  apiPort?: number;
  healthPort?: number;
  metricsPort?: number;
}

export interface SidecarDeps {
  timers?: Timers;
  /**
   * Timers of deadlines on real I/O (refresh steps, `--once`, writes at shutdown); default: real
   * time, also when `timers` is a test's fake clock. A test of a hang passes its fake clock here.
   */
  deadlineTimers?: Timers;
  random?: () => number;
  fileOps?: FileOps;
  signer?: RdsSigner;
  /** Credentials per target; default: SDK default chain, plus AssumeRole when the target has a role. */
  credentialFetcher?: (target: Target) => CredentialFetcher;
  /** Explicit SDK settings (tests); in a pod the SDK reads AWS_* env vars itself. */
  identity?: Partial<BaseProviderOptions>;
  logDestination?: DestinationStream;
  listen?: ListenOverrides;
  /** prom-client process/Node metrics (default true). */
  defaultMetrics?: boolean;
  /** runSidecar installs SIGTERM/SIGINT handlers unless false. */
  handleSignals?: boolean;
  /** PostgreSQL proxies: ports, upstreams, timeouts and drain deadline (tests). */
  proxy?: ProxyOverrides;
}

export interface RunningSidecar {
  readonly ports: { api: number; health: number; metrics: number };
  readonly socketPath: string;
  readonly authToken: string;
  readonly refreshers: ReadonlyMap<string, TargetRefresher>;
  readonly metrics: SidecarMetrics;
  /** Bound port of each target's PostgreSQL proxy. */
  readonly proxyPorts: ReadonlyMap<string, number>;
  readonly logger: Logger;
  /** Resolves with the exit code once the sidecar has stopped (SIGTERM, /quitquitquit, stop()). */
  readonly done: Promise<number>;
  /** Stops timers, waits for queued file writes, closes the servers; resolves with the exit code. */
  stop(reason: string): Promise<number>;
}

const API_HOST = '127.0.0.1';

interface Core {
  logger: Logger;
  publisher: FilePublisher;
  refreshers: Map<string, TargetRefresher>;
  metrics: SidecarMetrics;
  authToken: string;
}

function defaultFetchers(
  options: SidecarOptions,
  env: Env,
  deps: SidecarDeps,
  now: () => number,
  clock: StsClock,
  onStsRequest: StsRequestObserver,
) {
  const first = options.config.targets[0] as Target;
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? first.region;
  // Request durations on a monotonic clock, whatever clock drives the schedule.
  const timing = stsTimingPlugin(onStsRequest, () => performance.now());
  // An IRSA identity is fetched through the sidecar's own STS client: no second client for it.
  const base = createBaseProvider(
    { region, ...deps.identity, stsPlugins: [timing], webIdentitySts: () => stsFor(region) },
    clock,
    undefined,
    env,
  );
  // The pod's identity and each role are fetched once per lifetime, shared by the targets using them.
  const sharing: CredentialCachePolicy = {
    now,
    marginMs: options.config.refresh.marginSeconds * 1000,
    random: deps.random ?? Math.random,
    deadlineTimers: deps.deadlineTimers ?? systemTimers,
  };
  const identity = shareBaseIdentity(base, sharing);
  const clients = new Map<string, ReturnType<typeof createStsClient>>();
  const stsFor = (r: string): ReturnType<typeof createStsClient> => {
    let client = clients.get(r);
    if (!client) {
      client = createStsClient(
        identity.provider,
        r,
        deps.identity?.stsEndpoint,
        deps.identity?.requestTimeoutMs,
        clock,
        [timing],
      );
      clients.set(r, client);
    }
    return client;
  };
  const sessionName = roleSessionName(options.podNamespace, options.podName);
  const roles = new AssumedRoleCache(
    identity.fetch,
    {
      base: identity.provider,
      stsFor,
      // Regional STS next to the pod; the target's region when the pod's is unknown.
      stsRegion: (t) => env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? t.region,
      sessionName,
      now,
      clock,
    },
    sharing,
  );
  return (target: Target) => roles.fetcherFor(target);
}

/** Logs once when the offset to STS's clock crosses the threshold, and once when it is back. */
function stsClockFor(logger: Logger, timers: Timers): StsClock {
  const threshold = `${CLOCK_SKEW_THRESHOLD_MS / 60_000} min`;
  return new StsClock(
    () => timers.now(),
    (skewed, offsetMs) => {
      const fields = { clockSkewSeconds: Math.round(-offsetMs / 1000) };
      if (skewed) {
        logger.error(
          { ...fields, errorClass: 'clock-skew', hint: hintFor('clock-skew') },
          `this node's clock is ${describeOffset(offsetMs)} (from STS's Date header), beyond ${threshold}: lifetimes are read on STS's clock, but RDS tokens carry this clock's time and AWS refuses what is signed this far off`,
        );
      } else {
        logger.info(
          fields,
          `this node's clock is within ${threshold} of STS again (${describeOffset(offsetMs)})`,
        );
      }
    },
  );
}

/** Told after every refresh cycle of a target, once logs and metrics have seen it. */
type CycleListener = (target: Target, ok: boolean) => void;

async function buildCore(
  options: SidecarOptions,
  env: Env,
  deps: SidecarDeps,
  logger: Logger,
  onCycle: CycleListener = () => undefined,
): Promise<Core> {
  const timers = deps.timers ?? systemTimers;
  const random = deps.random ?? Math.random;
  const fileOps = deps.fileOps ?? nodeFileOps;
  const signer = deps.signer ?? sdkRdsSigner;
  const { config } = options;
  const marginMs = config.refresh.marginSeconds * 1000;

  for (const t of config.targets) {
    if (t.kind !== 'mongo') continue;
    for (const key of Object.keys(t.options).filter(isReservedMongoOption)) {
      logger.warn(
        { target: t.name, option: key },
        `target "${t.name}": URI option ${key} is ignored; the sidecar sets authSource, authMechanism and authMechanismProperties for MONGODB-AWS itself`,
      );
    }
  }
  await mkdir(config.directory, { recursive: true }).catch(() => undefined);
  const removed = await removeStaleTempFiles(config.directory, fileOps);
  if (removed > 0) {
    logger.info(
      { removed, directory: config.directory },
      `removed ${removed} temporary file(s) a previous run left behind (it stopped between a write and its rename)`,
    );
  }
  const authToken = await ensureAuthToken(config.directory, FILES.authToken, fileOps);

  const stsClock = stsClockFor(logger, timers);
  const publisher = new FilePublisher(config, fileOps);
  const refreshers = new Map<string, TargetRefresher>();
  const metrics = createMetrics({
    clockSkewSeconds: () => {
      const offset = stsClock.offsetMs();
      return offset === undefined ? undefined : -offset / 1000;
    },
    isReady: () => [...refreshers.values()].every((r) => r.isFresh()),
    targets: () =>
      [...refreshers.values()].map((r) => {
        const s = r.status();
        return { ...s, target: r.target, state: targetState(s, timers.now()) };
      }),
    defaultMetrics: deps.defaultMetrics,
  });
  const fetcherFor =
    deps.credentialFetcher ??
    defaultFetchers(
      options,
      env,
      deps,
      () => timers.now(),
      stsClock,
      (action, outcome, ms) => metrics.stsRequest(action, outcome, ms),
    );
  const events = refreshEvents(metrics, logger, timers, stsClock, onCycle);
  for (const target of config.targets) {
    refreshers.set(
      target.name,
      new TargetRefresher({
        target,
        fetchCredentials: fetcherFor(target),
        build: (credentials, now) =>
          target.kind === 'rds'
            ? makeRdsToken(target, credentials, now, signer, stsClock)
            : Promise.resolve(makeMongoCredentials(credentials)),
        publish: (value) => publisher.publish(target, value),
        timers,
        random,
        marginMs,
        events,
        clock: stsClock,
        deadlineTimers: deps.deadlineTimers ?? systemTimers,
      }),
    );
  }
  // Counters exist from the start (zero) once the refreshers are known.
  metrics.initTargets(config.targets);
  await restorePrevious(options, publisher, refreshers, logger, timers.now(), fileOps);
  return { logger, publisher, refreshers, metrics, authToken };
}

/** A restart in place: still-valid files of the previous run stay served until refreshed. */
async function restorePrevious(
  options: SidecarOptions,
  publisher: FilePublisher,
  refreshers: Map<string, TargetRefresher>,
  logger: Logger,
  now: number,
  fileOps: FileOps,
): Promise<void> {
  const outcomes = await readPreviousValues(options.config, now, fileOps);
  const restored = outcomes.flatMap((o) => ('value' in o ? [o] : []));
  for (const o of outcomes) {
    if ('skipped' in o) {
      if (o.skipped !== 'absent') {
        logger.info(
          { target: o.target.name, reason: o.skipped },
          `files of target "${o.target.name}" from a previous run are not reused (${o.skipped}); the first refresh replaces them`,
        );
      }
      continue;
    }
    refreshers.get(o.target.name)?.restore(o.value);
  }
  if (restored.length === 0) return;
  await publisher.restore(restored);
  logger.info(
    {
      targets: restored.map((o) => ({
        target: o.target.name,
        expiresAt: new Date(o.value.expiresAt).toISOString(),
      })),
    },
    'serving still-valid credentials from a previous run until they are refreshed',
  );
}

function refreshEvents(
  metrics: SidecarMetrics,
  logger: Logger,
  timers: Timers,
  clock: StsClock,
  onCycle: CycleListener,
): RefreshEvents {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    attempt: (target) => metrics.refreshAttempt(target),
    success: (target, info) => {
      metrics.refreshSuccess(target, info.durationMs);
      const fields = {
        target: target.name,
        kind: target.kind,
        expiresAt: iso(info.expiresAt),
        nextRefreshAt: iso(info.nextRefreshAt),
        durationMs: info.durationMs,
      };
      if (info.credentialsFetched) logger.info(fields, `refreshed credentials for target "${target.name}"`);
      else logger.debug(fields, `re-signed token for target "${target.name}" from cached credentials`);
      onCycle(target, true);
    },
    failure: (target, info) => {
      metrics.refreshFailure(target, info.errorClass, info.durationMs);
      const serving = info.servingUntil;
      const fields = {
        target: target.name,
        kind: target.kind,
        errorClass: info.errorClass,
        hint: hintFor(info.errorClass),
        error: describeError(info.error),
        consecutiveFailures: info.consecutiveFailures,
        retryAt: iso(info.retryAt),
        servingUntil: serving === undefined ? null : iso(serving),
        ...(info.errorClass === 'clock-skew' && clock.offsetMs() !== undefined
          ? { clockSkewSeconds: Math.round(-(clock.offsetMs() ?? 0) / 1000) }
          : {}),
      };
      const msg =
        serving === undefined
          ? `refresh of target "${target.name}" failed (${info.errorClass}) and no valid credentials are held; retrying`
          : `refresh of target "${target.name}" failed (${info.errorClass}); serving last-known-good until ${iso(serving)}`;
      if (serving === undefined || serving - timers.now() < 5 * 60_000) logger.error(fields, msg);
      else logger.warn(fields, msg);
      onCycle(target, false);
    },
  };
}

/** What `--once` is doing, for the message when it has to give up at its deadline. */
interface OnceProgress {
  phase: string;
  core: Core | undefined;
  written: Set<string>;
}

/**
 * `--once`: every target fetched and written, or a non-zero exit naming what failed. A failed target
 * is retried with the refresher's own backoff until `onceTimeoutMs` after the start (one STS throttle
 * at pod start must not fail a Job); a retry that would start later is not made. A value restored
 * from a previous run does not count: each target needs a refresh of its own in this run. Whatever
 * hangs (a file system, a credentials endpoint), it returns by `onceTimeoutMs` + CYCLE_TIMEOUT_MS:
 * the last attempt may start just before the timeout and gets one cycle's deadline.
 */
export async function runOnce(options: SidecarOptions, env: Env, deps: SidecarDeps = {}): Promise<number> {
  const logger = createLogger(options.logLevel, deps.logDestination);
  const timers = deps.timers ?? systemTimers;
  const deadlineTimers = deps.deadlineTimers ?? systemTimers;
  const limitMs = options.onceTimeoutMs + CYCLE_TIMEOUT_MS;
  const step = 'token-broker sidecar --once';
  const progress: OnceProgress = { phase: 'starting', core: undefined, written: new Set() };
  try {
    return await withDeadline(
      once(options, env, deps, logger, timers, progress),
      limitMs,
      deadlineTimers,
      step,
    );
  } catch (error) {
    if (!(error instanceof StepTimeoutError) || error.step !== step) throw error;
    const refreshers = [...(progress.core?.refreshers.values() ?? [])];
    for (const r of refreshers) r.stop();
    const pending = refreshers.map((r) => r.target.name).filter((n) => !progress.written.has(n));
    logger.fatal(
      { phase: progress.phase, pending, errorClass: 'timeout', hint: hintFor('timeout') },
      `${step}: gave up after ${Math.round(limitMs / 1000)} s (--once-timeout plus one refresh cycle) while ${progress.phase}${pending.length > 0 ? `; no credentials written for ${pending.map((n) => `"${n}"`).join(', ')}` : ''}: ${hintFor('timeout')}`,
    );
    return 1;
  }
}

async function once(
  options: SidecarOptions,
  env: Env,
  deps: SidecarDeps,
  logger: Logger,
  timers: Timers,
  progress: OnceProgress,
): Promise<number> {
  const written = progress.written;
  let onCycle: CycleListener = () => undefined;
  let core: Core;
  progress.phase = 'starting (auth token, files of a previous run)';
  try {
    core = await buildCore(options, env, deps, logger, (target, ok) => onCycle(target, ok));
  } catch (error) {
    logger.fatal(
      { error: describeError(error) },
      `token-broker sidecar --once: ${describeError(error).message}`,
    );
    return 1;
  }
  progress.core = core;
  progress.phase = 'refreshing';
  const refreshers = [...core.refreshers.values()];
  const deadline = timers.now() + options.onceTimeoutMs;
  await new Promise<void>((resolve) => {
    const settled = new Set<string>();
    onCycle = (target, ok) => {
      const r = core.refreshers.get(target.name);
      if (r === undefined) return;
      if (ok) written.add(target.name);
      // The refresher has already scheduled its next attempt: keep it only for a failure, in time.
      if (ok || (r.status().nextRefreshAt ?? Infinity) > deadline) {
        r.stop();
        settled.add(target.name);
      }
      if (settled.size === refreshers.length) resolve();
    };
    if (refreshers.length === 0) resolve();
    // The first attempt at once; retries come from each refresher's own timer.
    for (const r of refreshers) void r.refreshNow();
  });
  progress.phase = 'waiting for file writes';
  await core.publisher.idle();
  const failed = refreshers.filter((r) => !written.has(r.target.name));
  if (failed.length === 0) {
    logger.info(
      { targets: refreshers.length },
      'token-broker sidecar --once: credentials written for every target',
    );
    return 0;
  }
  const waited = `${Math.round(options.onceTimeoutMs / 1000)} s`;
  for (const r of failed) {
    const s = r.status();
    const errorClass = s.lastErrorClass ?? 'other';
    logger.error(
      {
        target: r.target.name,
        kind: r.target.kind,
        errorClass,
        hint: hintFor(errorClass),
        attempts: s.consecutiveFailures,
      },
      `token-broker sidecar --once: no credentials for target "${r.target.name}" after ${s.consecutiveFailures} attempt(s) in ${waited} (${errorClass}): ${hintFor(errorClass)}`,
    );
  }
  return 1;
}

/** Starts the long-running sidecar: servers up, refreshers started. */
export async function startSidecar(
  options: SidecarOptions,
  env: Env,
  deps: SidecarDeps = {},
): Promise<RunningSidecar> {
  const logger = createLogger(options.logLevel, deps.logDestination);
  const deadlineTimers = deps.deadlineTimers ?? systemTimers;
  const core = await buildCore(options, env, deps, logger);
  const { config } = options;
  const listen = deps.listen ?? {};
  const onRequest = (route: RouteLabel, code: number) => core.metrics.httpRequest(route, code);
  const refreshers = core.refreshers;
  const socketPath = join(config.directory, FILES.socket);

  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((resolve) => (resolveDone = resolve));
  const servers: Server[] = [];
  let stopping: Promise<number> | undefined;
  let proxies: Proxies | undefined;
  const stop = (reason: string): Promise<number> => {
    stopping ??= (async () => {
      logger.info({ reason }, 'token-broker sidecar stopping');
      // The proxies stop accepting at once; their open connections get the drain deadline.
      const draining = proxies?.drain();
      for (const r of refreshers.values()) r.stop();
      // A write already queued finishes, unless the file system hangs: then stop anyway.
      await withDeadline(
        core.publisher.idle(),
        PUBLISH_TIMEOUT_MS,
        deadlineTimers,
        'file writes at shutdown',
      ).catch((error: unknown) => logger.warn({ error: describeError(error) }, describeError(error).message));
      await draining;
      await Promise.all(servers.map((s) => closeServer(s)));
      logger.info('token-broker sidecar stopped');
      resolveDone(0);
      return 0;
    })();
    return stopping;
  };

  const api = createApiHandler({
    authToken: core.authToken,
    lookup: (name) => {
      const r = refreshers.get(name);
      return r === undefined ? undefined : { target: r.target, value: r.current() };
    },
    status: () => statusDocument([...refreshers.values()].map((r) => r.status())),
    quit: () => void stop('POST /quitquitquit'),
    onRequest,
  });
  const health = createHealthHandler({
    notReady: () => [...refreshers.values()].filter((r) => !r.isFresh()).map((r) => r.target.name),
    onRequest,
  });
  const metricsHandler = createMetricsHandler(core.metrics.registry, onRequest);

  try {
    const apiServer = await listenTcp(
      api,
      listen.apiHost ?? API_HOST,
      listen.apiPort ?? config.listen.apiPort,
    );
    servers.push(apiServer);
    servers.push(await listenUnix(api, socketPath));
    const healthServer = await listenPublic(
      health,
      listen.publicHost ?? options.listenHost,
      listen.healthPort ?? config.listen.healthPort,
    );
    servers.push(healthServer);
    const metricsServer = await listenPublic(
      metricsHandler,
      listen.publicHost ?? options.listenHost,
      listen.metricsPort ?? config.listen.metricsPort,
    );
    servers.push(metricsServer);
    proxies = await startProxies({
      targets: config.targets,
      holders: refreshers,
      registry: core.metrics.registry,
      logger,
      refreshMarginMs: config.refresh.marginSeconds * 1000,
      now: () => (deps.timers ?? systemTimers).now(),
      ...(deps.proxy === undefined ? {} : { overrides: deps.proxy }),
    });
    const ports = {
      api: boundPort(apiServer),
      health: boundPort(healthServer),
      metrics: boundPort(metricsServer),
    };
    logger.info(
      {
        targets: config.targets.map((t) => t.name),
        ports,
        publicHost: boundAddress(healthServer),
        directory: config.directory,
      },
      'token-broker sidecar started',
    );
    for (const r of refreshers.values()) r.start();
    return {
      ports,
      socketPath,
      authToken: core.authToken,
      refreshers,
      metrics: core.metrics,
      proxyPorts: proxies.ports,
      logger,
      done,
      stop,
    };
  } catch (error) {
    await proxies?.drain();
    await Promise.all(servers.map((s) => closeServer(s)));
    throw error;
  }
}

/**
 * The CLI entry: `token-broker sidecar [--once] [--log-level <level>]`. Resolves with the exit code;
 * the caller should `process.exit(code)` (the SDK may keep idle sockets open).
 */
export async function runSidecar(argv: readonly string[], env: Env, deps: SidecarDeps = {}): Promise<number> {
  let options: SidecarOptions;
  try {
    options = parseSidecarOptions(argv, env);
  } catch (error) {
    const logger = createLogger('info', deps.logDestination);
    logger.fatal({ error: describeError(error) }, `token-broker sidecar: ${(error as Error).message}`);
    return 2;
  }
  if (options.once) return runOnce(options, env, deps);
  let running: RunningSidecar;
  try {
    running = await startSidecar(options, env, deps);
  } catch (error) {
    const logger = createLogger(options.logLevel, deps.logDestination);
    logger.fatal(
      { error: describeError(error) },
      `token-broker sidecar could not start: ${describeError(error).message}`,
    );
    return 1;
  }
  if (deps.handleSignals !== false) {
    const onSignal = (signal: NodeJS.Signals) => void running.stop(signal);
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    void running.done.then(() => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    });
  }
  return running.done;
}
