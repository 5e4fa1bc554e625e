#!/usr/bin/env node
/**
 * The one `token-broker` binary. Each subcommand is imported lazily so `inject` never loads the
 * Kubernetes client, fastify or the AWS SDK.
 */
import { readFileSync, writeSync } from 'node:fs';
import { installProcessGuard } from '../sidecar/src/process-guard.ts';

const USAGE = `Usage: token-broker <command> [options]

Commands:
  inject -f <file|->  [--diff] [--namespace <ns>]
                      Inject the sidecar into the pod templates of Kubernetes YAML, offline.
  webhook             Run the mutating admission webhook (HTTPS).
  sidecar [--once [--once-timeout <s>]]
                      Run the credential broker inside a pod (configured by the webhook);
                      --once fetches every target, retrying up to the timeout (60 s), then exits.
  status [--json]     Ask this pod's sidecar for every target's state, expiry and last error;
                      exit 0 only when every target is fresh.
  doctor [--json]     Check identity, STS, roles, RDS signing, database reachability, the shared
                      directory and clock skew, in order, with the fix for each failure.
  version             Print the version.

The image has no shell: run status and doctor in the sidecar container, e.g.
  kubectl exec -n <namespace> <pod> -c token-broker -- /nodejs/bin/node /app/dist/cli/main.js status

Run 'token-broker <command> --help' for a command's options.
`;

function version(): string {
  // cli/main.ts in a checkout, dist/cli/main.js in the image: package.json is one or two levels up.
  for (const relative of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as {
        version?: string;
      };
      if (pkg.version) return pkg.version;
    } catch {
      // try the next location
    }
  }
  return 'unknown';
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'inject': {
      const { runInject } = await import('../webhook/src/cli/inject-command.ts');
      return runInject(rest, {
        stdin: process.stdin,
        stdout: process.stdout,
        stderr: process.stderr,
      });
    }
    case 'webhook': {
      const { runWebhookServer } = await import('../webhook/src/server/serve-command.ts');
      return runWebhookServer(rest, process.env);
    }
    case 'sidecar': {
      const { runSidecar } = await import('../sidecar/src/main.ts');
      return runSidecar(rest, process.env);
    }
    case 'status': {
      const { runStatus } = await import('./status/status-command.ts');
      return runStatus(rest, {
        env: process.env,
        stdout: process.stdout,
        stderr: process.stderr,
        now: () => Date.now(),
      });
    }
    case 'doctor': {
      const { runDoctor } = await import('./doctor/doctor-command.ts');
      return runDoctor(rest, {
        env: process.env,
        stdout: process.stdout,
        stderr: process.stderr,
        now: () => Date.now(),
      });
    }
    case 'version':
    case '--version':
      process.stdout.write(`token-broker ${version()}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`token-broker: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

const LONG_RUNNING = new Set(['webhook', 'sidecar']);

// An unhandled rejection or uncaught exception: one scrubbed log line and a non-zero exit, never a
// half-dead broker. Servers log JSON on stdout; the other commands keep stdout for their output.
const command = process.argv[2] ?? '';
installProcessGuard(process, {
  component:
    command === 'webhook'
      ? 'token-broker-webhook'
      : command === 'sidecar'
        ? 'token-broker-sidecar'
        : 'token-broker',
  write: (line) => writeSync(LONG_RUNNING.has(command) ? 1 : 2, line),
  exit: (code) => process.exit(code),
});

main(process.argv.slice(2)).then(
  (code) => {
    // Servers resolve once shut down; the AWS SDK may still hold idle keep-alive sockets, so exit now.
    // Other commands only set the code, so piped stdout is flushed before Node exits.
    if (LONG_RUNNING.has(process.argv[2] ?? '')) process.exit(code);
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`token-broker: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
