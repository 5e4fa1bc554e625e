/** Short human durations for a terminal: `42s`, `12m04s`, `3h07m`, `2d04h`. */

export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const pad = (n: number) => String(n).padStart(2, '0');
  if (total < 60) return `${total}s`;
  const minutes = Math.floor(total / 60);
  if (minutes < 60) return `${minutes}m${pad(total % 60)}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h${pad(minutes % 60)}m`;
  return `${Math.floor(hours / 24)}d${pad(hours % 24)}h`;
}

/** Time left until `expiresAt`, or how long ago it passed; `-` when there is none. */
export function formatCountdown(expiresAt: number | undefined, now: number): string {
  if (expiresAt === undefined) return '-';
  const left = expiresAt - now;
  return left > 0 ? formatDuration(left) : `expired ${formatDuration(-left)} ago`;
}

/** How long ago `at` was; `never` when it never happened. */
export function formatAge(at: number | undefined, now: number): string {
  return at === undefined ? 'never' : `${formatDuration(now - at)} ago`;
}
