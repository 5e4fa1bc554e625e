/**
 * What makes a target usable by the sidecar, field by field. parseSidecarConfig refuses a target
 * with any problem, and the webhook runs every target it builds through targetProblems() before it
 * admits a pod, so a target the sidecar would refuse is denied at admission instead.
 */

import { isAcceptedMongoOption } from './mongo-options.ts';
import { OPTION_FILE_VALUE_RULE, optionFileCharacter } from './mysql-option-value.ts';
import { escapeUnsafeCharacters, unsafeCharacter } from './safe-text.ts';
import type { Target } from './target.ts';

/** Lowest proxy port: the sidecar runs unprivileged. */
export const PROXY_PORT_MIN = 1024;
export const TARGET_NAME_PATTERN = /^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$/;
export const REGION_PATTERN = /^[a-z]{2}(?:-[a-z]+){1,3}-\d{1,2}$/;
export const ROLE_ARN_PATTERN =
  /^arn:(aws|aws-cn|aws-us-gov):iam::\d{12}:role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;
export const EXTERNAL_ID_PATTERN = /^[\w+=,.@:/-]{2,1224}$/;
const DNS_LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
export const HOSTNAME_PATTERN = new RegExp(`^(?=.{1,253}$)${DNS_LABEL}(?:\\.${DNS_LABEL})*\\.?$`);
export const IPV4_PATTERN =
  /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** A field of one target (`user`, `hosts[1]`, `options.tls`) and what is wrong with it. */
export interface TargetProblem {
  field: string;
  problem: string;
}

export function isHostName(host: string): boolean {
  const lower = host.toLowerCase();
  return HOSTNAME_PATTERN.test(lower) || IPV4_PATTERN.test(lower);
}

function isPort(text: string): boolean {
  return /^\d{1,5}$/.test(text) && Number(text) >= 1 && Number(text) <= 65535;
}

/** The problem with a free-text field (user, database, option key or value), or undefined. */
export function textProblem(value: string): string | undefined {
  const bad = unsafeCharacter(value);
  return bad === undefined ? undefined : `contains ${bad}, which the sidecar cannot write`;
}

function requiredTextProblem(value: string): string | undefined {
  return value === '' ? 'must not be empty' : textProblem(value);
}

/** A mysql target's user and database also go bare into its option file (mysql-option-value.ts). */
function mysqlTextProblem(value: string): string | undefined {
  const problem = requiredTextProblem(value);
  if (problem !== undefined) return problem;
  const bad = optionFileCharacter(value);
  return bad === undefined
    ? undefined
    : `contains ${bad}, which the sidecar cannot write into the MySQL option file (${OPTION_FILE_VALUE_RULE})`;
}

function hostProblem(scheme: string | undefined, entry: string): string | undefined {
  const colon = entry.lastIndexOf(':');
  const [host, port] = colon >= 0 ? [entry.slice(0, colon), entry.slice(colon + 1)] : [entry, undefined];
  if (scheme === 'mongodb+srv' && port !== undefined) return 'takes no port with mongodb+srv';
  if (port !== undefined && !isPort(port)) return 'has a port that is not a number from 1 to 65535';
  return isHostName(host) ? undefined : 'is not a DNS name or IPv4 address';
}

/** Every problem the sidecar has with this target, in field order; empty when it can use it. */
export function targetProblems(target: Target): TargetProblem[] {
  const problems: TargetProblem[] = [];
  const check = (field: string, problem: string | undefined) => {
    if (problem !== undefined) problems.push({ field, problem });
  };
  check(
    'name',
    TARGET_NAME_PATTERN.test(target.name)
      ? undefined
      : 'must be 1-32 lowercase letters, digits or "-", starting with a letter',
  );
  check('region', REGION_PATTERN.test(target.region) ? undefined : 'is not an AWS region code');
  if (target.roleArn !== undefined && !ROLE_ARN_PATTERN.test(target.roleArn)) {
    check('roleArn', 'is not an IAM role ARN');
  }
  if (target.externalId !== undefined && !EXTERNAL_ID_PATTERN.test(target.externalId)) {
    check('externalId', 'must be 2-1224 characters of letters, digits and +=,.@:/-_');
  }
  if (target.kind === 'rds') {
    const text = target.engine === 'mysql' ? mysqlTextProblem : requiredTextProblem;
    check('host', hostProblem(undefined, target.host));
    check('user', text(target.user));
    check('database', text(target.database));
    if (target.proxy !== undefined) {
      if (target.engine !== 'postgres') {
        check('proxy', 'the proxy speaks PostgreSQL only; use the token file for mysql');
      }
      const { port, caFile } = target.proxy;
      if (!Number.isInteger(port) || port < PROXY_PORT_MIN || port > 65535) {
        check('proxy.port', `must be an integer port from ${PROXY_PORT_MIN} to 65535 (unprivileged)`);
      }
      check(
        'proxy.caFile',
        caFile.startsWith('/') ? textProblem(caFile) : 'must be an absolute path to the CA bundle (PEM)',
      );
    }
    return problems;
  }
  if (target.scheme === 'mongodb+srv' && target.hosts.length !== 1) {
    check('hosts', 'must be exactly one SRV name with mongodb+srv');
  }
  for (const [i, entry] of target.hosts.entries()) check(`hosts[${i}]`, hostProblem(target.scheme, entry));
  check('database', requiredTextProblem(target.database));
  for (const [key, value] of Object.entries(target.options)) {
    // The key is shown escaped: it is user input, and the field name ends up in a log line.
    const field = `options.${escapeUnsafeCharacters(key)}`;
    if (!isAcceptedMongoOption(key)) {
      check(field, 'is not a MongoDB option the sidecar passes through (it may carry a secret)');
    } else {
      check(field, textProblem(value));
    }
  }
  return problems;
}
