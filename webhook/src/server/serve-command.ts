/**
 * `token-broker webhook`: options -> TLS pair -> fastify app over HTTPS -> listen, with the certificate
 * reloaded in place on rotation and a graceful stop on SIGTERM (not ready first, then drain).
 */
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { DestinationStream, Logger } from 'pino';
import { buildApp, createWebhookLogger } from './app.ts';
import { createWebhookMetrics, type WebhookMetrics } from './metrics.ts';
import { OptionsError } from '../injection/default-options.ts';
import { WEBHOOK_USAGE, parseWebhookOptions, type WebhookOptions } from './options.ts';
import {
  createCachedServiceAccountLookup,
  createKubernetesServiceAccountFetcher,
  type ServiceAccountLookup,
} from './service-account-lookup.ts';
import type { ServerTimeouts } from './server-timeouts.ts';
import { TlsLoadError, loadTlsPair, startCertificateReloader, type CertificateReloader } from './tls.ts';
import type { FastifyInstance } from 'fastify';

export interface WebhookServer {
  app: FastifyInstance;
  /** The bound port (useful with port 0). */
  port: number;
  metrics: WebhookMetrics;
  reloader: CertificateReloader;
  /**
   * Marks the server not ready, keeps serving for `drainDelayMs` (so the Service stops routing here
   * first), then stops accepting, waits for in-flight admissions and stops the reloader.
   */
  close(drainDelayMs?: number): Promise<void>;
}

export interface StartDeps {
  logger?: Logger;
  /** Where log lines go when no logger is given (tests pass a sink). */
  logDestination?: DestinationStream;
  metrics?: WebhookMetrics;
  serviceAccountLookup?: ServiceAccountLookup | undefined;
  /** Certificate reload tuning (tests shorten the debounce). */
  tlsDebounceMs?: number;
  tlsPollIntervalMs?: number;
  /** Connection timeouts (server-timeouts.ts); tests shorten them. */
  timeouts?: ServerTimeouts;
}

/** Starts the HTTPS webhook with `options`; throws TlsLoadError when the initial pair is unusable. */
export async function startWebhookServer(
  options: Readonly<WebhookOptions>,
  deps: StartDeps = {},
): Promise<WebhookServer> {
  const logger = deps.logger ?? createWebhookLogger(options.logLevel, deps.logDestination);
  const metrics = deps.metrics ?? createWebhookMetrics();
  const initial = loadTlsPair(options.tlsCertFile, options.tlsKeyFile);
  if (initial.notAfter.getTime() < Date.now()) {
    logger.error(
      { notAfter: initial.notAfter.toISOString() },
      'the serving certificate has expired; the API server will refuse it',
    );
  }
  let ready = false;
  const app = buildApp(options, {
    logger,
    metrics,
    serviceAccountLookup: deps.serviceAccountLookup,
    https: { cert: initial.cert, key: initial.key },
    isReady: () => ready,
    ...(deps.timeouts ? { timeouts: deps.timeouts } : {}),
  });
  const server = app.server as HttpsServer;
  const setExpiry = (notAfter: Date): void => metrics.certificateExpiry.set(notAfter.getTime() / 1000);
  setExpiry(initial.notAfter);
  const reloader = startCertificateReloader({
    certFile: options.tlsCertFile,
    keyFile: options.tlsKeyFile,
    initial,
    apply: (pair) => server.setSecureContext({ cert: pair.cert, key: pair.key, minVersion: 'TLSv1.2' }),
    logger,
    onResult: (result, pair) => {
      metrics.tlsReloads.inc({ result });
      setExpiry(pair.notAfter);
    },
    ...(deps.tlsDebounceMs !== undefined ? { debounceMs: deps.tlsDebounceMs } : {}),
    ...(deps.tlsPollIntervalMs !== undefined ? { pollIntervalMs: deps.tlsPollIntervalMs } : {}),
  });

  try {
    await listen(app, options);
  } catch (error) {
    reloader.close();
    await app.close();
    throw error;
  }
  ready = true;
  const port = (server.address() as AddressInfo).port;
  logger.info(
    {
      port,
      certificate: { fingerprint: initial.fingerprint, subject: initial.subject, notAfter: initial.notAfter },
    },
    'webhook listening (HTTPS)',
  );
  return {
    app,
    port,
    metrics,
    reloader,
    close: async (drainDelayMs = 0) => {
      ready = false;
      if (drainDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, drainDelayMs));
      reloader.close();
      await app.close();
    },
  };
}

async function listen(app: FastifyInstance, options: Readonly<WebhookOptions>): Promise<void> {
  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (error) {
    // "::" covers IPv4 too on dual-stack kernels; a node without IPv6 falls back to IPv4 only.
    if (options.host === '::' && (error as NodeJS.ErrnoException).code === 'EAFNOSUPPORT') {
      await app.listen({ host: '0.0.0.0', port: options.port });
      return;
    }
    throw error;
  }
}

export interface ServeIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** Where SIGTERM/SIGINT come from (process in production). */
  signals: Pick<NodeJS.Process, 'once' | 'off'>;
}

/**
 * The `token-broker webhook` subcommand. Resolves with the exit code once the server has stopped
 * (after SIGTERM/SIGINT): 0 on a clean stop, 2 for bad options, 1 when it cannot start.
 */
export async function runWebhookServer(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  io: ServeIo = { stdout: process.stdout, stderr: process.stderr, signals: process },
): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(WEBHOOK_USAGE);
    return 0;
  }
  let options: Readonly<WebhookOptions>;
  try {
    options = parseWebhookOptions(argv, env);
  } catch (error) {
    if (error instanceof OptionsError) {
      io.stderr.write(
        `token-broker webhook: invalid options:\n${error.problems.map((p) => `  ${p}`).join('\n')}\n`,
      );
      return 2;
    }
    throw error;
  }
  const logger = createWebhookLogger(options.logLevel);
  const metrics = createWebhookMetrics();

  let serviceAccountLookup: ServiceAccountLookup | undefined;
  if (options.serviceAccountLookup.enabled) {
    try {
      const fetcher = await createKubernetesServiceAccountFetcher(env);
      if (fetcher) {
        serviceAccountLookup = createCachedServiceAccountLookup(fetcher, {
          ttlMs: options.serviceAccountLookup.cacheTtlMs,
          timeoutMs: options.serviceAccountLookup.timeoutMs,
          logger,
          onResult: (result) => metrics.serviceAccountLookups.inc({ result }),
        });
      } else {
        logger.info('not running in a cluster: ServiceAccount lookup (IRSA warnings) is off');
      }
    } catch (error) {
      logger.warn(
        { err: { message: (error as Error).message } },
        'ServiceAccount lookup unavailable; continuing without it',
      );
    }
  }

  let server: WebhookServer;
  try {
    server = await startWebhookServer(options, { logger, metrics, serviceAccountLookup });
  } catch (error) {
    const message =
      error instanceof TlsLoadError ? error.message : `cannot start: ${(error as Error).message}`;
    io.stderr.write(`token-broker webhook: ${message}\n`);
    return 1;
  }

  const signal = await new Promise<string>((resolve) => {
    const onSignal = (name: string) => () => {
      io.signals.off('SIGTERM', onTerm);
      io.signals.off('SIGINT', onInt);
      resolve(name);
    };
    const onTerm = onSignal('SIGTERM');
    const onInt = onSignal('SIGINT');
    io.signals.once('SIGTERM', onTerm);
    io.signals.once('SIGINT', onInt);
  });
  logger.info({ signal }, 'shutting down');
  await server.close(options.shutdownDelayMs);
  logger.info('stopped');
  return 0;
}
