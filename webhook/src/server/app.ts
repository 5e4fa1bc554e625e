/**
 * The webhook's HTTP surface (fastify), built apart from `listen` so tests drive it with `app.inject()`
 * or over real HTTPS. The handler only decodes, calls the pure mutation and encodes; it never answers
 * 500 for bad input and logs one line per admission without env values. Bad input is answered so:
 * - not an AdmissionReview v1 for a pod (the envelope only the API server writes): 400 with the reason;
 * - a well-formed review whose pod is malformed (pod-shape.ts): if the pod opted in, a denial naming
 *   the field and the fix; if not, allowed unchanged. A pod we do not inject is never blocked by us:
 *   the API server validates it anyway, and our denial would only add a failure where none is due.
 */
import fastify, {
  LogController,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { DestinationStream, Logger } from 'pino';
import { createJsonLogger } from '../../../common/json-logger.ts';
import type { LogLevel } from '../../../common/log-levels.ts';
import {
  allowResponse,
  denyResponse,
  encodeReview,
  parseAdmissionReview,
  podToMutate,
  responseForResult,
  type AdmissionOutcome,
  type AdmissionReviewResponse,
} from './admission.ts';
import { ANN, parseInject } from '../injection/annotations.ts';
import { jsonDepth, MAX_BODY_DEPTH } from './json-depth.ts';
import { createGate, LARGE_BODY_CONCURRENCY, needsGate, type Gate } from './large-body-gate.ts';
import type { WebhookMetrics } from './metrics.ts';
import type { Pod } from '../injection/k8s-types.ts';
import { mutatePod, type MutateResult } from '../injection/mutate.ts';
import type { WebhookOptions } from './options.ts';
import { checkPodShape, renderShapeDenial } from '../injection/pod-shape.ts';
import {
  SERVER_TIMEOUTS,
  fastifyTimeoutOptions,
  nodeServerOptions,
  type ServerTimeouts,
} from './server-timeouts.ts';
import {
  podServiceAccountName,
  type ServiceAccountInfo,
  type ServiceAccountLookup,
} from './service-account-lookup.ts';

/**
 * The API server refuses request bodies over 3 MiB, so a pod being created is at most 3 MiB of JSON
 * as its client sent it (and etcd stores at most 1.5 MiB). The webhook is called for CREATE only
 * (oldObject is null); defaulting, earlier webhooks and the envelope (userInfo, options) add far less
 * than the 512 KiB on top. A bigger body is not from the API server, and each one in flight costs
 * its size several times over once parsed, so it is refused before parsing (413).
 */
export const BODY_LIMIT_BYTES = 3 * 1024 * 1024 + 512 * 1024;

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
  /** Connection timeouts; SERVER_TIMEOUTS unless a test shortens them. */
  timeouts?: ServerTimeouts;
  /** The large-body gate; injectable so tests can watch it. */
  largeBodyGate?: Gate;
}

export type AppOptions = Pick<WebhookOptions, 'defaults'>;

/** The pod's name for the log line; only strings, cut to a DNS name's length (the pod may be malformed). */
function podLabel(pod: unknown): string | undefined {
  const metadata = (pod as { metadata?: unknown } | null | undefined)?.metadata as
    { name?: unknown; generateName?: unknown } | null | undefined;
  if (typeof metadata?.name === 'string' && metadata.name) return metadata.name.slice(0, 253);
  if (typeof metadata?.generateName === 'string' && metadata.generateName)
    return `${metadata.generateName.slice(0, 253)}*`;
  return undefined;
}

const BODY_TOO_DEEP = 'TB_BODY_TOO_DEEP';

type CountAdmission = (outcome: AdmissionOutcome, started: bigint) => void;
type AdmissionRequestItem = Extract<ReturnType<typeof parseAdmissionReview>, { ok: true }>['request'];
type PodTarget = ReturnType<typeof podToMutate>;
/** What every admission log line says about the request. */
type AdmissionLogFields = Record<string, unknown>;

/**
 * The webhook's routes and hooks, registered in this order: the server, the JSON parser, the request
 * clock, the large-body gate, the error answers, `/mutate`, then health and metrics.
 */
export function buildApp(options: AppOptions, deps: AppDeps): FastifyInstance {
  const timeouts = deps.timeouts ?? SERVER_TIMEOUTS;
  const app = createServer(deps.logger, timeouts, deps.https);
  const count = admissionCounter(deps.metrics);
  acceptJsonOnly(app);
  app.addHook('onRequest', (request, _reply, done) => {
    (request as unknown as { startedAt: bigint }).startedAt = process.hrtime.bigint();
    done();
  });
  gateLargeBodies(app, deps.largeBodyGate ?? createGate(LARGE_BODY_CONCURRENCY));
  answerBadRequests(app, count);
  app.post('/mutate', mutateHandler(options, deps, count));
  serveHealthAndMetrics(app, deps.metrics, deps.isReady ?? (() => true));
  return app;
}

function createServer(logger: Logger, timeouts: ServerTimeouts, https: AppDeps['https']): FastifyInstance {
  return fastify({
    loggerInstance: logger,
    // One line per admission is written by the handler; no generic request/response lines.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    ...fastifyTimeoutOptions(timeouts),
    ...(https
      ? {
          https: {
            cert: https.cert,
            key: https.key,
            minVersion: 'TLSv1.2' as const,
            ...nodeServerOptions(timeouts),
          },
        }
      : { http: nodeServerOptions(timeouts) }),
  }) as unknown as FastifyInstance;
}

function admissionCounter(metrics: WebhookMetrics): CountAdmission {
  return (outcome, started) => {
    metrics.admissions.inc({ outcome });
    metrics.admissionDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
  };
}

function startedAt(request: FastifyRequest): bigint {
  return (request as unknown as { startedAt?: bigint }).startedAt ?? process.hrtime.bigint();
}

function acceptJsonOnly(app: FastifyInstance): void {
  // An AdmissionReview is JSON; without this, fastify would parse text/plain bodies into strings.
  app.removeContentTypeParser('text/plain');
  // fastify's own JSON parser (prototype-poisoning checks included), after a depth check on the text:
  // a body nested past MAX_BODY_DEPTH is refused before it is parsed (json-depth.ts).
  // A `__proto__` or `constructor.prototype` key is dropped, not a 400: the API server itself would
  // drop such an unknown field, and every request must get an AdmissionReview.
  const parseJson = app.getDefaultJsonParser('remove', 'remove');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (jsonDepth(body as string) > MAX_BODY_DEPTH) {
      const error = new Error(
        `request body nests deeper than ${MAX_BODY_DEPTH} levels; an AdmissionReview from the API server never does`,
      );
      done(Object.assign(error, { statusCode: 400, code: BODY_TOO_DEEP }), undefined);
      return;
    }
    // Calls done itself (it returns nothing to await).
    void parseJson(request, body as string, done);
  });
}

function gateLargeBodies(app: FastifyInstance, gate: Gate): void {
  // Large bodies wait for a slot before they are read (large-body-gate.ts): memory stays bounded.
  // Callback-style hooks: a request that needs no waiting goes on without a promise and a microtask.
  app.addHook('preParsing', (request, reply, payload, done) => {
    if (!needsGate(request.headers, BODY_LIMIT_BYTES)) return done(null, payload);
    gate.acquire().then(
      (release) => {
        // 'close' comes once the answer is sent or the connection is gone, whichever is first.
        if (reply.raw.closed || request.raw.destroyed) release();
        else reply.raw.once('close', release);
        done(null, payload);
      },
      (error: Error) => done(error),
    );
  });
  // An answer sent before the body was read (415, 404, a refused body) closes the connection: the
  // unread rest would otherwise stall the next request on it until the request timeout.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (!request.raw.complete) void reply.header('connection', 'close');
    done(null, payload);
  });
}

function badRequestMessage(error: FastifyError): string {
  return error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
    ? 'Content-Type must be application/json (an AdmissionReview)'
    : error.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
      ? `request body is larger than ${BODY_LIMIT_BYTES} bytes`
      : error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
        ? 'request body is empty; expected an AdmissionReview'
        : error.code === BODY_TOO_DEEP
          ? error.message
          : `request body is not valid JSON: ${error.message}`;
}

/** Body parse failures (not JSON, empty, too large, wrong content type) answer 4xx with the reason. */
function answerBadRequests(app: FastifyInstance, count: CountAdmission): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode < 500 ? error.statusCode : 500;
    // The API server calls `/mutate?timeout=10s`: compare the path only.
    if (request.url.split('?')[0] === '/mutate') count('error', startedAt(request));
    if (status >= 500) {
      request.log.error({ err: error, url: request.url }, 'internal error');
      return reply
        .code(500)
        .send({ statusCode: 500, error: 'Internal Server Error', message: 'see webhook logs' });
    }
    const message = badRequestMessage(error);
    request.log.warn({ url: request.url, status, reason: message }, 'bad request');
    return reply.code(status).send({ statusCode: status, error: 'Bad Request', message });
  });
}

/** The admission's namespace (the request's, else the pod's, else `default`) and its log fields. */
function describeAdmission(
  admission: AdmissionRequestItem,
  target: PodTarget,
): { namespace: string; fields: AdmissionLogFields } {
  const podNamespace =
    'pod' in target ? (target.pod as { metadata?: { namespace?: unknown } | null }).metadata?.namespace : '';
  const namespace =
    admission.namespace || (typeof podNamespace === 'string' ? podNamespace : '') || 'default';
  const fields = {
    uid: admission.uid,
    operation: admission.operation,
    namespace,
    pod: 'pod' in target ? podLabel(target.pod) : admission.name,
    dryRun: admission.dryRun,
  };
  return { namespace, fields };
}

/** Only opted-in pods need the ServiceAccount (for the missing-role warning); it never blocks admission. */
async function lookUpServiceAccount(
  lookup: ServiceAccountLookup | undefined,
  pod: Pod,
  namespace: string,
  fields: AdmissionLogFields,
  request: FastifyRequest,
): Promise<ServiceAccountInfo | undefined> {
  if (!lookup || !parseInject(pod.metadata?.annotations?.[ANN.inject])) return undefined;
  try {
    return await lookup.get(namespace, podServiceAccountName(pod));
  } catch (error) {
    request.log.warn(
      { ...fields, err: { message: (error as Error).message } },
      'ServiceAccount lookup failed',
    );
    return undefined;
  }
}

/** The admission log line's outcome details: counts, codes and keys only, never values. */
function resultLogFields(result: MutateResult | undefined, target: PodTarget): AdmissionLogFields {
  return {
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
  };
}

/** POST /mutate: decode, check the pod's shape, mutate, encode; one log line per admission. */
function mutateHandler(options: AppOptions, deps: AppDeps, count: CountAdmission) {
  const mutate = deps.mutate ?? mutatePod;
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const started = startedAt(request);
    const parsed = parseAdmissionReview(request.body);
    if (!parsed.ok) {
      count('error', started);
      request.log.warn({ reason: parsed.error }, 'admission review rejected');
      return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: parsed.error });
    }
    const admission = parsed.request;
    const target = podToMutate(admission);
    const { namespace, fields } = describeAdmission(admission, target);

    const shape = 'pod' in target ? checkPodShape(target.pod) : undefined;
    if (shape && !shape.ok) {
      const allowed = !shape.optedIn;
      const answer = allowed
        ? allowResponse(admission.uid)
        : denyResponse(admission.uid, renderShapeDenial(shape.problems, shape.total));
      const outcome: AdmissionOutcome = allowed ? 'skipped' : 'denied';
      count(outcome, started);
      // Field paths only, never values: a malformed field may hold anything.
      request.log.info(
        { ...fields, outcome, reason: 'malformed pod', malformed: shape.problems.map((p) => p.field) },
        'admission',
      );
      return reply.type('application/json; charset=utf-8').send(encodeReview(answer));
    }

    let answer: AdmissionReviewResponse;
    let outcome: AdmissionOutcome;
    let result: MutateResult | undefined;
    if ('skip' in target) {
      answer = allowResponse(admission.uid);
      outcome = 'skipped';
    } else {
      const pod = target.pod;
      const serviceAccount = await lookUpServiceAccount(
        deps.serviceAccountLookup,
        pod,
        namespace,
        fields,
        request,
      );
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
        ...resultLogFields(result, target),
      },
      'admission',
    );
    // Sent as text: encodeReview writes the same bytes fastify's JSON.stringify would, faster.
    return reply.type('application/json; charset=utf-8').send(encodeReview(answer));
  };
}

function serveHealthAndMetrics(app: FastifyInstance, metrics: WebhookMetrics, isReady: () => boolean): void {
  app.get('/healthz', (_request, reply) => reply.send({ status: 'ok' }));
  app.get('/readyz', (_request, reply) =>
    isReady() ? reply.send({ status: 'ready' }) : reply.code(503).send({ status: 'not ready' }),
  );
  app.get('/metrics', async (_request, reply) => {
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });
}
