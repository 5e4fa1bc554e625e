import { randomUUID } from 'node:crypto';
import { request } from 'node:https';
import fastJsonPatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import type { Pod } from '../../../webhook/src/injection/k8s-types.ts';

/**
 * The API server's side of a mutating admission webhook call: an AdmissionReview v1 for a pod CREATE,
 * POSTed over HTTPS to the webhook (trusting only the CA the webhook configuration would carry in its
 * caBundle), and the returned base64 JSONPatch applied to the pod.
 */

export interface AdmissionResponseBody {
  readonly uid: string;
  readonly allowed: boolean;
  readonly patchType?: string;
  readonly patch?: string;
  readonly warnings?: readonly string[];
  readonly status?: { readonly code?: number; readonly message?: string };
}

export interface WebhookEndpoint {
  readonly host: string;
  readonly port: number;
  /** The name in the certificate (the Service DNS name the API server calls). */
  readonly serverName: string;
  /** The caBundle. */
  readonly ca: Buffer;
  readonly path?: string;
}

export function admissionReview(pod: Pod, namespace: string): Record<string, unknown> {
  const gvk = { group: '', version: 'v1', kind: 'Pod' };
  const gvr = { group: '', version: 'v1', resource: 'pods' };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: randomUUID(),
      kind: gvk,
      resource: gvr,
      requestKind: gvk,
      requestResource: gvr,
      namespace,
      operation: 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:kube-system:replicaset-controller',
        groups: ['system:serviceaccounts', 'system:authenticated'],
      },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}

/** POSTs the review and returns its `response`, checking the envelope and the uid echo. */
export async function callWebhook(
  endpoint: WebhookEndpoint,
  review: Record<string, unknown>,
): Promise<AdmissionResponseBody> {
  const body = JSON.stringify(review);
  const reply = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(
      {
        host: endpoint.host,
        port: endpoint.port,
        path: endpoint.path ?? '/mutate',
        method: 'POST',
        ca: endpoint.ca,
        servername: endpoint.serverName,
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('admission webhook call timed out')));
    req.on('error', reject);
    req.end(body);
  });
  if (reply.status !== 200) throw new Error(`webhook answered HTTP ${reply.status}: ${reply.text}`);
  const parsed = JSON.parse(reply.text) as {
    apiVersion?: string;
    kind?: string;
    response?: AdmissionResponseBody;
  };
  const uid = (review.request as { uid: string }).uid;
  if (parsed.apiVersion !== 'admission.k8s.io/v1' || parsed.kind !== 'AdmissionReview' || !parsed.response) {
    throw new Error(
      `webhook answered something other than an AdmissionReview v1: ${reply.text.slice(0, 300)}`,
    );
  }
  if (parsed.response.uid !== uid)
    throw new Error(`webhook echoed uid ${parsed.response.uid}, expected ${uid}`);
  return parsed.response;
}

/** The pod with the response's JSONPatch applied (a copy; validated like the API server applies it). */
export function applyAdmissionPatch(pod: Pod, response: AdmissionResponseBody): Pod {
  if (!response.allowed) throw new Error(`admission denied: ${response.status?.message ?? '(no message)'}`);
  if (response.patch === undefined) return structuredClone(pod);
  if (response.patchType !== 'JSONPatch')
    throw new Error(`patchType is ${response.patchType}, not JSONPatch`);
  const operations = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as Operation[];
  // validate: every operation must apply to the document as it is (a bad path throws, as in the API server).
  return fastJsonPatch.applyPatch(structuredClone(pod), operations, true, false).newDocument;
}
