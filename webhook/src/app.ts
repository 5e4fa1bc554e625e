/**
 * The webhook's HTTP surface (fastify), built apart from `listen` so tests drive it with `app.inject()`
 * or over real HTTPS. The handler only decodes, calls the pure mutation and encodes; it never answers
 * 500 for bad input (that is a 400 with the reason) and logs one line per admission without env values.
 */
import fastify, { LogController, type FastifyError, type FastifyInstance } from 'fastify';
import type { DestinationStream, Logger } from 'pino';
import { createJsonLogger } from '../../common/json-logger.ts';
import type { LogLevel } from '../../common/log-levels.ts';
import {
  allowResponse,
  parseAdmissionReview,
  podToMutate,
  responseForResult,
  type AdmissionOutcome,
  type AdmissionReviewResponse,
} from './admission.ts';
import { ANN, parseInject } from './annotations.ts';
import type { WebhookMetrics } from './metrics.ts';
import { mutatePod, type MutateResult } from './mutate.ts';
import type { WebhookOptions } from './options.ts';
import {
  podServiceAccountName,
  type ServiceAccountInfo,
  type ServiceAccountLookup,
} from './service-account-lookup.ts';

/** The API server sends an AdmissionReview with object and oldObject, each up to its 3 MiB limit. */
export const BODY_LIMIT_BYTES = 6 * 1024 * 1024;

/** Paths pino censors wherever they show up in a log line (defence in depth: handlers never log these). */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  '*.password',
  '*.token',
  '*.sessionToken',
  '*.secretAccessKey',
  '*.SecretAccessKey',
  '*.Token',
  '*.env',
];

export function createWebhookLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return createJsonLogger({
    component: 'token-broker-webhook',
    level,
    redactPaths: REDACT_PATHS,
    destination,
  });
}

export interface AppDeps {
  logger: Logger;
  metrics: WebhookMetrics;
  /** Absent: no ServiceAccount warnings (offline, tests, or --service-account-lookup=false). */
  serviceAccountLookup?: ServiceAccountLookup | undefined;
  /** Readiness: false until the server listens and again while shutting down. */
  isReady?: () => boolean;
  /** Serve HTTPS with this pair; absent (tests with app.inject) serves plain HTTP. */
  https?: { cert: Buffer; key: Buffer } | undefined;
  /** The pure mutation; injectable so tests can provoke the internal-error path. */
  mutate?: typeof mutatePod;
}

export type AppOptions = Pick<WebhookOptions, 'defaults'>;

function podLabel(
  pod: { metadata?: { name?: string; generateName?: string } } | undefined,
): string | undefined {
  const metadata = pod?.metadata;
  if (metadata?.name) return metadata.name;
  if (metadata?.generateName) return `${metadata.generateName}*`;
  return undefined;
}

export function buildApp(options: AppOptions, deps: AppDeps): FastifyInstance {
  const { metrics, logger } = deps;
  const mutate = deps.mutate ?? mutatePod;
  const isReady = deps.isReady ?? (() => true);
  const app = fastify({
    loggerInstance: logger,
    // One line per admission is written by the handler; no generic request/response lines.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    ...(deps.https
      ? { https: { cert: deps.https.cert, key: deps.https.key, minVersion: 'TLSv1.2' as const } }
      : {}),
  }) as unknown as FastifyInstance;

  const count = (outcome: AdmissionOutcome, started: bigint): void => {
    metrics.admissions.inc({ outcome });
    metrics.admissionDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
  };

  // An AdmissionReview is JSON; without this, fastify would parse text/plain bodies into strings.
  app.removeContentTypeParser('text/plain');

  app.addHook('onRequest', (request, _reply, done) => {
    (request as unknown as { startedAt: bigint }).startedAt = process.hrtime.bigint();
    done();
  });

  // Body parse failures (not JSON, empty, too large, wrong content type) answer 4xx with the reason.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode < 500 ? error.statusCode : 500;
    // The API server calls `/mutate?timeout=10s`: compare the path only.
    if (request.url.split('?')[0] === '/mutate') {
      count('error', (request as unknown as { startedAt?: bigint }).startedAt ?? process.hrtime.bigint());
    }
    if (status >= 500) {
      request.log.error({ err: error, url: request.url }, 'internal error');
      return reply
        .code(500)
        .send({ statusCode: 500, error: 'Internal Server Error', message: 'see webhook logs' });
    }
    const message =
      error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? 'Content-Type must be application/json (an AdmissionReview)'
        : error.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
          ? `request body is larger than ${BODY_LIMIT_BYTES} bytes`
          : error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
            ? 'request body is empty; expected an AdmissionReview'
            : `request body is not valid JSON: ${error.message}`;
    request.log.warn({ url: request.url, status, reason: message }, 'bad request');
    return reply.code(status).send({ statusCode: status, error: 'Bad Request', message });
  });

  app.post('/mutate', async (request, reply) => {
    const started = (request as unknown as { startedAt?: bigint }).startedAt ?? process.hrtime.bigint();
    const parsed = parseAdmissionReview(request.body);
    if (!parsed.ok) {
      count('error', started);
      request.log.warn({ reason: parsed.error }, 'admission review rejected');
      return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: parsed.error });
    }
    const admission = parsed.request;
    const target = podToMutate(admission);
    const namespace =
      admission.namespace ||
      ('pod' in target && typeof target.pod.metadata?.namespace === 'string'
        ? target.pod.metadata.namespace
        : '') ||
      'default';
    const fields = {
      uid: admission.uid,
      operation: admission.operation,
      namespace,
      pod: 'pod' in target ? podLabel(target.pod) : admission.name,
      dryRun: admission.dryRun,
    };

    let answer: AdmissionReviewResponse;
    let outcome: AdmissionOutcome;
    let result: MutateResult | undefined;
    if ('skip' in target) {
      answer = allowResponse(admission.uid);
      outcome = 'skipped';
    } else {
      const pod = target.pod;
      // Only opted-in pods need the ServiceAccount (for the missing-role warning); it never blocks admission.
      let serviceAccount: ServiceAccountInfo | undefined;
      if (deps.serviceAccountLookup && parseInject(pod.metadata?.annotations?.[ANN.inject])) {
        try {
          serviceAccount = await deps.serviceAccountLookup.get(namespace, podServiceAccountName(pod));
        } catch (error) {
          request.log.warn(
            { ...fields, err: { message: (error as Error).message } },
            'ServiceAccount lookup failed',
          );
        }
      }
      try {
        result = mutate({ pod, namespace, defaults: options.defaults, serviceAccount });
      } catch (error) {
        count('error', started);
        request.log.error({ ...fields, err: error }, 'admission failed with an internal error');
        return reply.code(500).send({
          statusCode: 500,
          error: 'Internal Server Error',
          message: 'pod mutation failed; see webhook logs',
        });
      }
      ({ review: answer, outcome } = responseForResult(admission.uid, result));
    }

    count(outcome, started);
    request.log.info(
      {
        ...fields,
        outcome,
        durationMs: Number(process.hrtime.bigint() - started) / 1e6,
        ...(result?.outcome === 'skipped' ? { reason: result.reason } : {}),
        ...('skip' in target ? { reason: target.skip } : {}),
        ...(result && result.outcome !== 'skipped' ? { warnings: result.warnings.length } : {}),
        ...(result?.outcome === 'injected' || result?.outcome === 'reconciled'
          ? { patchOps: result.patch.length }
          : {}),
        // Codes and keys only: the rendered message is for the user, and the log needs no values.
        ...(result?.outcome === 'denied'
          ? { errors: result.errors.map((e) => `${e.annotation}: ${e.code}`) }
          : {}),
      },
      'admission',
    );
    return answer;
  });

  app.get('/healthz', (_request, reply) => reply.send({ status: 'ok' }));
  app.get('/readyz', (_request, reply) =>
    isReady() ? reply.send({ status: 'ready' }) : reply.code(503).send({ status: 'not ready' }),
  );
  app.get('/metrics', async (_request, reply) => {
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });

  return app;
}
