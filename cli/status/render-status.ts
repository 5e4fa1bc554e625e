/**
 * What `token-broker status` prints: a pure function of the sidecar's status document and the time.
 * The table for people, a versioned JSON document for scripts, and the exit code both share.
 */
import type { StatusDocument, TargetStatusDocument } from '../../sidecar/src/api-server.ts';
import { ERROR_CLASSES, hintFor, type ErrorClass } from '../../sidecar/src/error-class.ts';
import { formatAge, formatCountdown } from './durations.ts';
import { targetState, timeOf, type TargetState } from './target-state.ts';

export const STATUS_JSON_VERSION = 'token-broker.io/status/v1';

/** The usual fix of a known error class; undefined for none or a class this CLI does not know. */
export function fixFor(errorClass: string | null): string | undefined {
  return errorClass !== null && (ERROR_CLASSES as readonly string[]).includes(errorClass)
    ? hintFor(errorClass as ErrorClass)
    : undefined;
}

/** 0 when every target is fresh, 1 when any is not. */
export function statusExitCode(doc: StatusDocument, now: number): 0 | 1 {
  return doc.targets.every((t) => targetState(t, now) === 'fresh') ? 0 : 1;
}

const STATE_LABEL: Readonly<Record<TargetState, string>> = {
  fresh: 'fresh',
  failing: 'failing (refreshing after failures)',
  expired: 'expired',
  pending: 'pending',
};

function row(t: TargetStatusDocument, now: number): string[] {
  const failures = t.consecutiveFailures > 0 ? ` (${t.consecutiveFailures}x)` : '';
  return [
    t.name,
    t.kind,
    STATE_LABEL[targetState(t, now)],
    formatCountdown(timeOf(t.expiration), now),
    formatAge(timeOf(t.lastSuccess), now),
    t.lastErrorClass === null ? '-' : `${t.lastErrorClass}${failures}`,
  ];
}

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length))) ?? [];
  return rows.map((r) =>
    r
      .map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

/** The table, then one `fix` line per target that is not fresh and has an error class. */
export function renderStatusText(doc: StatusDocument, now: number): string {
  const notFresh = doc.targets.filter((t) => targetState(t, now) !== 'fresh');
  const summary =
    notFresh.length === 0
      ? `all ${doc.targets.length} target(s) fresh`
      : `${notFresh.length} of ${doc.targets.length} target(s) not fresh: ${notFresh.map((t) => t.name).join(', ')}`;
  const lines = [
    `token-broker status at ${new Date(now).toISOString()}: ${summary}`,
    '',
    ...table([
      ['TARGET', 'KIND', 'STATE', 'EXPIRES IN', 'LAST SUCCESS', 'LAST ERROR'],
      ...doc.targets.map((t) => row(t, now)),
    ]),
  ];
  const fixes = notFresh.flatMap((t) => {
    const fix = fixFor(t.lastErrorClass);
    return fix === undefined ? [] : [`${t.name} (${t.lastErrorClass}): ${fix}`];
  });
  if (fixes.length > 0) lines.push('', 'Usual fix:', ...fixes.map((f) => `  ${f}`));
  return `${lines.join('\n')}\n`;
}

export interface StatusJsonTarget {
  name: string;
  kind: TargetStatusDocument['kind'];
  state: TargetState;
  expiration: string | null;
  /** Negative once expired. */
  expiresInSeconds: number | null;
  lastSuccess: string | null;
  lastSuccessAgeSeconds: number | null;
  lastFailure: string | null;
  lastErrorClass: string | null;
  fix: string | null;
  consecutiveFailures: number;
  nextRefresh: string | null;
}

export interface StatusJson {
  apiVersion: typeof STATUS_JSON_VERSION;
  checkedAt: string;
  /** true only when every target is fresh (the exit code is 0). */
  ok: boolean;
  targets: StatusJsonTarget[];
}

const seconds = (ms: number | undefined) => (ms === undefined ? null : Math.round(ms / 1000));

export function statusJson(doc: StatusDocument, now: number): StatusJson {
  return {
    apiVersion: STATUS_JSON_VERSION,
    checkedAt: new Date(now).toISOString(),
    ok: statusExitCode(doc, now) === 0,
    targets: doc.targets.map((t) => {
      const expiresAt = timeOf(t.expiration);
      const lastSuccessAt = timeOf(t.lastSuccess);
      return {
        name: t.name,
        kind: t.kind,
        state: targetState(t, now),
        expiration: t.expiration,
        expiresInSeconds: seconds(expiresAt === undefined ? undefined : expiresAt - now),
        lastSuccess: t.lastSuccess,
        lastSuccessAgeSeconds: seconds(lastSuccessAt === undefined ? undefined : now - lastSuccessAt),
        lastFailure: t.lastFailure,
        lastErrorClass: t.lastErrorClass,
        fix: fixFor(t.lastErrorClass) ?? null,
        consecutiveFailures: t.consecutiveFailures,
        nextRefresh: t.nextRefresh,
      };
    }),
  };
}

export function renderStatusJson(doc: StatusDocument, now: number): string {
  return `${JSON.stringify(statusJson(doc, now), null, 2)}\n`;
}
