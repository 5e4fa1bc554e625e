// STS Query API (awsQuery protocol) response bodies, with the element names and namespace the real
// service uses and the SDK's XML deserializer expects (<XResponse><XResult>…</XResult>…).
import type { IssuedCredential } from './sts-registry.ts';

export const STS_NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';
export const STS_VERSION = '2011-06-15';

export function xmlEscape(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function el(name: string, value: string | undefined): string {
  return value === undefined ? '' : `<${name}>${xmlEscape(value)}</${name}>`;
}

/** `2024-01-01T00:00:00Z` (seconds precision, as STS prints it). */
export function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function envelope(action: string, result: string, requestId: string): string {
  return (
    `<${action}Response xmlns="${STS_NAMESPACE}">` +
    `<${action}Result>${result}</${action}Result>` +
    `<ResponseMetadata><RequestId>${xmlEscape(requestId)}</RequestId></ResponseMetadata>` +
    `</${action}Response>\n`
  );
}

function credentialsXml(c: IssuedCredential): string {
  return (
    '<Credentials>' +
    el('AccessKeyId', c.accessKeyId) +
    el('SecretAccessKey', c.secretAccessKey) +
    el('SessionToken', c.sessionToken) +
    el('Expiration', isoSeconds(c.expiration)) +
    '</Credentials>'
  );
}

function assumedRoleUserXml(c: IssuedCredential): string {
  return `<AssumedRoleUser>${el('Arn', c.arn)}${el('AssumedRoleId', c.userId)}</AssumedRoleUser>`;
}

export function assumeRoleXml(c: IssuedCredential, requestId: string, sourceIdentity?: string): string {
  return envelope(
    'AssumeRole',
    `${assumedRoleUserXml(c)}${credentialsXml(c)}${el('SourceIdentity', sourceIdentity)}`,
    requestId,
  );
}

export interface WebIdentityExtras {
  subject: string;
  audience: string;
  provider: string;
}

export function assumeRoleWithWebIdentityXml(
  c: IssuedCredential,
  extras: WebIdentityExtras,
  requestId: string,
): string {
  return envelope(
    'AssumeRoleWithWebIdentity',
    el('SubjectFromWebIdentityToken', extras.subject) +
      el('Audience', extras.audience) +
      assumedRoleUserXml(c) +
      credentialsXml(c) +
      el('Provider', extras.provider),
    requestId,
  );
}

export function getCallerIdentityXml(c: IssuedCredential, requestId: string): string {
  return envelope(
    'GetCallerIdentity',
    `${el('Arn', c.arn)}${el('UserId', c.userId)}${el('Account', c.accountId)}`,
    requestId,
  );
}

export interface StsErrorBody {
  type: 'Sender' | 'Receiver';
  code: string;
  message: string;
}

export function errorXml(error: StsErrorBody, requestId: string): string {
  return (
    `<ErrorResponse xmlns="${STS_NAMESPACE}">` +
    `<Error>${el('Type', error.type)}${el('Code', error.code)}${el('Message', error.message)}</Error>` +
    `${el('RequestId', requestId)}</ErrorResponse>\n`
  );
}
