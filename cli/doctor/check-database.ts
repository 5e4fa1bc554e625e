/**
 * Check e: each database host resolves from this pod and its port accepts TCP (short timeout). A
 * replica set with some members unreachable is a warning; none reachable is a failure.
 */
import type { Target } from '../../contract/sidecar-config.ts';
import { fail, pass, warn, type CheckOutcome } from './check-result.ts';
import { srvName, staticEndpoints, type HostPort } from './database-endpoints.ts';
import type { DoctorDeps } from './doctor-deps.ts';

export const CONNECT_TIMEOUT_MS = 3_000;

const DNS_FIX =
  'the name does not resolve from this pod: check the host in the token-broker.io annotation, the VPC DNS (a private hosted zone must be associated with the cluster VPC) and CoreDNS';
const TCP_FIX =
  "nothing accepts TCP there from this pod: the database's security group must allow inbound from the pod's (or node's) security group on that port, egress NetworkPolicies must allow it, and the database must be running";

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.message : String(error);
}

interface Probe {
  line: string;
  ok: boolean;
  dnsFailed: boolean;
}

async function probe(deps: DoctorDeps, { host, port }: HostPort): Promise<Probe> {
  let addresses: string[];
  try {
    addresses = await deps.dns.lookup(host);
  } catch (error) {
    return { line: `${host}: does not resolve (${codeOf(error)})`, ok: false, dnsFailed: true };
  }
  const resolved = `${host} resolves to ${addresses.join(', ')}`;
  try {
    await deps.connect(host, port, CONNECT_TIMEOUT_MS);
    return { line: `${resolved}; port ${port} accepts TCP`, ok: true, dnsFailed: false };
  } catch (error) {
    return {
      line: `${resolved}; port ${port} does not accept TCP (${codeOf(error)})`,
      ok: false,
      dnsFailed: false,
    };
  }
}

export async function checkDatabase(deps: DoctorDeps, target: Target): Promise<CheckOutcome> {
  let endpoints = staticEndpoints(target);
  const details: string[] = [];
  if (endpoints === undefined) {
    const host = target.kind === 'mongo' ? (target.hosts[0] ?? '') : '';
    try {
      const records = await deps.dns.resolveSrv(srvName(host));
      endpoints = records.map((r) => ({ host: r.name, port: r.port }));
      details.push(`${srvName(host)} lists ${endpoints.map((e) => `${e.host}:${e.port}`).join(', ')}`);
    } catch (error) {
      return fail(`SRV record ${srvName(host)} does not resolve (${codeOf(error)})`, DNS_FIX);
    }
  }
  const probes = await Promise.all(endpoints.map((e) => probe(deps, e)));
  details.push(...probes.map((p) => p.line));
  const reachable = probes.filter((p) => p.ok).length;
  if (reachable === probes.length) return pass(`${reachable} of ${probes.length} host(s) reachable`, details);
  const fix = probes.some((p) => !p.ok && p.dnsFailed) ? DNS_FIX : TCP_FIX;
  if (reachable > 0) return warn(`${reachable} of ${probes.length} host(s) reachable`, fix, details);
  return fail(`no host of target "${target.name}" is reachable`, fix, details);
}
