/**
 * THE annotation table: every `token-broker.io/` key the webhook understands, with its value syntax,
 * default, description and parser. docs/design.md and the README render the same table
 * (renderAnnotationTableMarkdown), and a test keeps them in step with this file.
 */

import { TARGET_NAME_PATTERN } from '../../../contract/sidecar-config.ts';
import { configError, type ConfigError } from './config-error.ts';

export const ANNOTATION_DOMAIN = 'token-broker.io/';

export const ANN = {
  inject: 'token-broker.io/inject',
  awsCredentials: 'token-broker.io/aws-credentials',
  containers: 'token-broker.io/containers',
  sidecarMode: 'token-broker.io/sidecar-mode',
  runAsUser: 'token-broker.io/run-as-user',
  refreshMargin: 'token-broker.io/refresh-margin',
  cpuRequest: 'token-broker.io/sidecar-cpu-request',
  cpuLimit: 'token-broker.io/sidecar-cpu-limit',
  memoryRequest: 'token-broker.io/sidecar-memory-request',
  memoryLimit: 'token-broker.io/sidecar-memory-limit',
  status: 'token-broker.io/status',
  rdsCaConfigMap: 'token-broker.io/rds-ca-configmap',
} as const;

export const RDS_PREFIX = 'token-broker.io/rds-';
export const MONGO_PREFIX = 'token-broker.io/mongo-';

/** The only value of `token-broker.io/inject` that opts a pod in. */
export const INJECT_TRUE = 'true';
/** What the webhook stamps into `token-broker.io/status`. */
export const STATUS_INJECTED = 'injected';

export type SidecarMode = 'native' | 'legacy';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: ConfigError };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = (error: ConfigError): Parsed<never> => ({ ok: false, error });

/** Anything but exactly "true" leaves the pod alone (design.md); never an error. */
export function parseInject(value: string | undefined): boolean {
  return value === INJECT_TRUE;
}

export function parseSidecarMode(value: string, key: string = ANN.sidecarMode): Parsed<SidecarMode> {
  if (value === 'native' || value === 'legacy') return ok(value);
  return fail(
    configError(
      'invalid-value',
      key,
      value,
      'sidecar mode must be "native" or "legacy"',
      'use "native" (Kubernetes >= 1.29) or "legacy" (init container plus regular sidecar container)',
    ),
  );
}

const MAX_UID = 2147483647;

export function parseRunAsUser(value: string, key: string = ANN.runAsUser): Parsed<number> {
  if (!/^\d{1,10}$/.test(value) || Number(value) > MAX_UID) {
    return fail(
      configError(
        'invalid-value',
        key,
        value,
        'must be a numeric UID',
        `set it to the UID your app runs as, e.g. "1000" (1..${MAX_UID})`,
      ),
    );
  }
  const uid = Number(value);
  if (uid === 0) {
    return fail(
      configError(
        'invalid-value',
        key,
        value,
        'the sidecar never runs as root (runAsNonRoot)',
        'remove the annotation (a root app can read the sidecar files anyway) or set the non-root UID your app runs as',
      ),
    );
  }
  return ok(uid);
}

const MAX_REFRESH_MARGIN = 600;

/** `120`, `90s`, `2m`, `1m30s` -> seconds, 0..600. */
export function parseRefreshMargin(value: string, key: string = ANN.refreshMargin): Parsed<number> {
  const match = /^(?:(\d{1,4})|(?:(\d{1,3})m)?(?:(\d{1,4})s)?)$/.exec(value);
  let seconds: number | undefined;
  if (match && value !== '') {
    seconds =
      match[1] !== undefined ? Number(match[1]) : Number(match[2] ?? '0') * 60 + Number(match[3] ?? '0');
  }
  if (seconds === undefined) {
    return fail(
      configError(
        'invalid-value',
        key,
        value,
        'must be seconds ("120") or a duration in minutes and seconds ("2m", "90s", "1m30s")',
        'write e.g. "120" or "2m"',
      ),
    );
  }
  if (seconds > MAX_REFRESH_MARGIN) {
    return fail(
      configError(
        'invalid-value',
        key,
        value,
        `is ${seconds} s; the refresh margin must be between 0 and ${MAX_REFRESH_MARGIN} seconds (RDS tokens live 15 minutes)`,
        'use at most "10m"; the default "2m" suits most apps',
      ),
    );
  }
  return ok(seconds);
}

const QUANTITY_PATTERN = /^(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;
const QUANTITY_FACTORS: Record<string, number> = {
  '': 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A Kubernetes resource quantity as a number (cores or bytes), or undefined when not one. */
export function quantityValue(quantity: string): number | undefined {
  const match = QUANTITY_PATTERN.exec(quantity);
  if (!match) return undefined;
  const [, digits = '', suffix = ''] = match;
  if (/^[eE]/.test(suffix)) return Number(digits) * 10 ** Number(suffix.slice(1));
  const factor = QUANTITY_FACTORS[suffix];
  return factor === undefined ? undefined : Number(digits) * factor;
}

export function parseQuantity(value: string, key: string): Parsed<string> {
  if (quantityValue(value) !== undefined) return ok(value);
  const isMemory = key.includes('memory');
  return fail(
    configError(
      'invalid-quantity',
      key,
      value,
      'is not a Kubernetes quantity',
      isMemory
        ? 'write memory as e.g. "48Mi" or "64M" (binary suffixes Ki/Mi/Gi, decimal k/M/G)'
        : 'write CPU as e.g. "10m" (millicores) or "0.5"',
    ),
  );
}

const CONTAINER_NAME_PATTERN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Comma-separated container names; whitespace around names is ignored, duplicates collapse. */
export function parseContainerList(value: string, key: string = ANN.containers): Parsed<string[]> {
  const names = value.split(',').map((n) => n.trim());
  const bad = names.filter((n) => !CONTAINER_NAME_PATTERN.test(n));
  if (bad.length > 0) {
    return fail(
      configError(
        'invalid-value',
        key,
        value,
        `${bad.map((n) => JSON.stringify(n)).join(', ')} ${bad.length === 1 ? 'is not a container name' : 'are not container names'}`,
        'list container names separated by commas, e.g. "app,migrate"',
      ),
    );
  }
  return ok([...new Set(names)]);
}

export function parseTargetRef(value: string, key: string = ANN.awsCredentials): Parsed<string> {
  if (TARGET_NAME_PATTERN.test(value)) return ok(value);
  return fail(
    configError(
      'invalid-value',
      key,
      value,
      'must be the <name> of a token-broker.io/mongo-<name> annotation',
      'set it to the name of a mongo target of this pod, e.g. "orders" for token-broker.io/mongo-orders',
    ),
  );
}

export function parseStatus(value: string, key: string = ANN.status): Parsed<string> {
  if (value === STATUS_INJECTED) return ok(value);
  return fail(
    configError(
      'invalid-value',
      key,
      value,
      `is written by the webhook and may only be "${STATUS_INJECTED}"`,
      'remove the annotation from the pod template',
    ),
  );
}

/** A ConfigMap key and the file the CA bundle is when none is named (AWS's file name). */
export const DEFAULT_RDS_CA_KEY = 'global-bundle.pem';

export interface ConfigMapRef {
  name: string;
  key: string;
}

const CONFIGMAP_NAME_PATTERN =
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const CONFIGMAP_KEY_PATTERN = /^[-._a-zA-Z0-9]{1,253}$/;

/** The commands that create the ConfigMap the README documents, for the fix of every CA denial. */
export const RDS_CA_HOWTO =
  'curl -o global-bundle.pem https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem && kubectl create configmap rds-ca --from-file=global-bundle.pem';

/** `<configmap>[/<key>]`: the ConfigMap holding the RDS CA bundle for the PostgreSQL proxy. */
export function parseConfigMapRef(value: string, key: string = ANN.rdsCaConfigMap): Parsed<ConfigMapRef> {
  const slash = value.indexOf('/');
  const name = slash >= 0 ? value.slice(0, slash) : value;
  const item = slash >= 0 ? value.slice(slash + 1) : DEFAULT_RDS_CA_KEY;
  if (
    CONFIGMAP_NAME_PATTERN.test(name) &&
    CONFIGMAP_KEY_PATTERN.test(item) &&
    item !== '.' &&
    item !== '..' &&
    !item.startsWith('..')
  ) {
    return ok({ name, key: item });
  }
  return fail(
    configError(
      'invalid-value',
      key,
      value,
      'must be "<configmap>" or "<configmap>/<key>" (a ConfigMap of this namespace and one of its keys)',
      `create the ConfigMap with the RDS CA bundle and name it, e.g. "rds-ca" for key ${DEFAULT_RDS_CA_KEY}: ${RDS_CA_HOWTO}`,
    ),
  );
}

export interface AnnotationDoc {
  /** The key cell as rendered in the Markdown table. */
  key: string;
  /** Exact keys, or for prefix rows the key prefixes. */
  keys: readonly string[];
  match: 'exact' | 'prefix';
  /** Value syntax and meaning, as in docs/design.md. */
  value: string;
  /** Default, as in docs/design.md. */
  default: string;
  /** One-line plain-text description. */
  description: string;
}

export const ANNOTATIONS: readonly AnnotationDoc[] = [
  {
    key: '`token-broker.io/inject`',
    keys: [ANN.inject],
    match: 'exact',
    value: '`"true"` opts the pod in; anything else (or absent) leaves it untouched',
    default: 'absent',
    description: 'Opts the pod in to sidecar injection.',
  },
  {
    key: '`token-broker.io/rds-<name>`',
    keys: [RDS_PREFIX],
    match: 'prefix',
    value:
      '`postgres://<dbuser>@<host>[:<port>]/<dbname>?region=<region>[&role=<roleArn>][&externalId=<id>][&proxy=<port>]`; also `postgresql://` and `mysql://`; `proxy=<port>` (postgres only, 1024-65535) opens the PostgreSQL proxy on `127.0.0.1:<port>`',
    default: 'port 5432 / 3306; region inferred from `*.<region>.rds.amazonaws.com` hosts; no proxy',
    description: 'An RDS database the sidecar keeps an IAM auth token for.',
  },
  {
    key: '`token-broker.io/rds-ca-configmap`',
    keys: [ANN.rdsCaConfigMap],
    match: 'exact',
    value:
      '`<configmap>[/<key>]`: ConfigMap with the RDS CA bundle the PostgreSQL proxy verifies the database against; mounted read-only into the sidecar only',
    default: 'key `global-bundle.pem`; required when a target has `proxy=`',
    description: "The CA bundle for the PostgreSQL proxy's TLS to RDS.",
  },
  {
    key: '`token-broker.io/mongo-<name>`',
    keys: [MONGO_PREFIX],
    match: 'prefix',
    value:
      '`mongodb+srv://<host>/<db>?region=<region>[&role=<roleArn>][&externalId=<id>][&<allowed driver options>]` or `mongodb://h1:p1,h2:p2/<db>?...`',
    default: '`<db>` is required',
    description: 'A MongoDB deployment the sidecar keeps MONGODB-AWS temporary credentials for.',
  },
  {
    key: '`token-broker.io/aws-credentials`',
    keys: [ANN.awsCredentials],
    match: 'exact',
    value:
      "`<mongo-name>`: app containers' default AWS credentials come from the sidecar's container-credentials endpoint for that target",
    default: 'absent',
    description: "Points the app's AWS SDK at the sidecar's credentials for one mongo target.",
  },
  {
    key: '`token-broker.io/containers`',
    keys: [ANN.containers],
    match: 'exact',
    value: 'comma-separated allow-list of app container (and init container) names that get mounts and env',
    default: 'all app containers and init containers, except known mesh proxies (istio, linkerd)',
    description: 'Which containers get the credentials mount and env.',
  },
  {
    key: '`token-broker.io/sidecar-mode`',
    keys: [ANN.sidecarMode],
    match: 'exact',
    value:
      '`native` (init container with `restartPolicy: Always`, k8s >= 1.29) or `legacy` (init container `--once` + regular sidecar container)',
    default: 'webhook flag, then `native`',
    description: 'How the sidecar is added to the pod.',
  },
  {
    key: '`token-broker.io/run-as-user`',
    keys: [ANN.runAsUser],
    match: 'exact',
    value: "UID the sidecar runs as (must equal the app's UID so libpq accepts the 0600 pgpass)",
    default: "pod/container `runAsUser`, else the webhook's default + a warning",
    description: 'UID of the sidecar, which owns the credential files.',
  },
  {
    key: '`token-broker.io/refresh-margin`',
    keys: [ANN.refreshMargin],
    match: 'exact',
    value: 'seconds (`120`) or duration (`2m`, `90s`), 0..600',
    default: 'webhook flag, then 120 s',
    description: 'Credentials closer than this to expiry are refreshed at once.',
  },
  {
    key: '`token-broker.io/sidecar-cpu-request`, `-cpu-limit`, `-memory-request`, `-memory-limit`',
    keys: [ANN.cpuRequest, ANN.cpuLimit, ANN.memoryRequest, ANN.memoryLimit],
    match: 'exact',
    value: 'Kubernetes quantities',
    default: 'webhook flags, then 10m / none / 64Mi / 128Mi',
    description: "The sidecar container's resource requests and limits.",
  },
  {
    key: '`token-broker.io/status`',
    keys: [ANN.status],
    match: 'exact',
    value:
      'stamped `injected` by the webhook; a pod carrying it gets only the idempotent identity fix-ups (see reinvocation)',
    default: '-',
    description: 'Marks a pod the webhook already injected.',
  },
];

/** The table as it appears in docs/design.md and the README. */
export function renderAnnotationTableMarkdown(): string {
  const rows = ANNOTATIONS.map((a) => `| ${a.key} | ${a.value} | ${a.default} |`);
  return ['| key | value | default |', '| --- | --- | --- |', ...rows].join('\n') + '\n';
}

export type AnnotationMatch =
  { kind: 'exact'; key: string } | { kind: 'rds' | 'mongo'; name: string } | { kind: 'unknown' };

/** Classifies a `token-broker.io/` key; keys outside the domain are not ours and never reach here. */
export function classifyAnnotation(key: string): AnnotationMatch {
  for (const doc of ANNOTATIONS) {
    if (doc.match === 'exact' && doc.keys.includes(key)) return { kind: 'exact', key };
  }
  if (key.startsWith(RDS_PREFIX)) return { kind: 'rds', name: key.slice(RDS_PREFIX.length) };
  if (key.startsWith(MONGO_PREFIX)) return { kind: 'mongo', name: key.slice(MONGO_PREFIX.length) };
  return { kind: 'unknown' };
}

export function isOurAnnotation(key: string): boolean {
  return key.startsWith(ANNOTATION_DOMAIN);
}

/** The closest known key to a misspelt one, or undefined when nothing is close enough. */
export function suggestAnnotation(key: string): string | undefined {
  const local = key.slice(ANNOTATION_DOMAIN.length);
  // "rds_orders" and "rds-orders" share the tail "orders".
  const sep = local.search(/[-_]/);
  const tail = sep >= 0 ? local.slice(sep + 1) : '<name>';
  const candidates = [
    ...ANNOTATIONS.filter((a) => a.match === 'exact').flatMap((a) => a.keys),
    `${RDS_PREFIX}${tail}`,
    `${MONGO_PREFIX}${tail}`,
  ];
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(local, candidate.slice(ANNOTATION_DOMAIN.length));
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(local.length / 3)) ? best : undefined;
}

/** Levenshtein distance; keys are short so the quadratic table is fine. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
