/**
 * `token-broker status`: asks the local sidecar for /v1/status and prints one row per target.
 * Exit codes: 0 every target fresh, 1 any target not fresh, 2 usage error, 3 the sidecar could not
 * be reached (or answered with something that is not its status).
 */
import { kubectlExecLine } from '../kubectl-exec.ts';
import { describeAttempts, fetchStatus, type FetchOutcome } from './fetch-status.ts';
import { renderStatusJson, renderStatusText, statusExitCode } from './render-status.ts';
import { parseStatusArgs, StatusUsageError, type StatusArgs } from './status-args.ts';
import { DIR_ENV, sidecarEndpoints, URL_ENV, type Env, type SidecarEndpoint } from './sidecar-endpoints.ts';

export const EXIT_UNREACHABLE = 3;

export const STATUS_HELP = `Usage: token-broker status [--json] [--socket <path>] [--url <url>]

Asks the token-broker sidecar of this pod for the state of every target and prints one row per
target: kind, state (fresh, failing (refreshing after failures), expired, pending), the expiry
countdown, the last success, the last error class and its usual fix.

The image has no shell; from your terminal run:
  ${kubectlExecLine('status')}

Where it asks, in order: the unix socket <dir>/broker.sock (dir from the sidecar's config, else
$${DIR_ENV}, else /var/run/token-broker), then $${URL_ENV}, then http://127.0.0.1:<api port>.

Options:
  --json            print a machine-readable document (apiVersion token-broker.io/status/v1)
  --socket <path>   ask only this unix socket
  --url <url>       ask only this URL, e.g. http://127.0.0.1:9901

Exit codes: 0 every target fresh, 1 a target is not fresh, 2 usage error, 3 the sidecar could not be
reached.
`;

export interface StatusIo {
  env: Env;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  now: () => number;
  fetch?: (endpoints: readonly SidecarEndpoint[]) => Promise<FetchOutcome>;
}

function unreachableMessage(outcome: Extract<FetchOutcome, { ok: false }>): string {
  return (
    `token-broker status: could not get the status from the token-broker sidecar; tried ${describeAttempts(outcome.attempts)}.\n` +
    `Fix: run it inside the sidecar container of the pod (${kubectlExecLine('status')}); ` +
    'check that the sidecar is running (kubectl get pod, kubectl logs -c token-broker); ' +
    'or point it at the API with --socket <path> or --url http://127.0.0.1:<port>.\n'
  );
}

export async function runStatus(argv: readonly string[], io: StatusIo): Promise<number> {
  let args: StatusArgs;
  try {
    args = parseStatusArgs(argv);
  } catch (error) {
    if (!(error instanceof StatusUsageError)) throw error;
    io.stderr.write(`token-broker status: ${error.message}\n\n${STATUS_HELP}`);
    return 2;
  }
  if (args.help) {
    io.stdout.write(STATUS_HELP);
    return 0;
  }
  const outcome = await (io.fetch ?? fetchStatus)(sidecarEndpoints(args, io.env));
  if (!outcome.ok) {
    io.stderr.write(unreachableMessage(outcome));
    return EXIT_UNREACHABLE;
  }
  const now = io.now();
  io.stdout.write(args.json ? renderStatusJson(outcome.doc, now) : renderStatusText(outcome.doc, now));
  return statusExitCode(outcome.doc, now);
}
