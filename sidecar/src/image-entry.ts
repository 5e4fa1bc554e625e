/**
 * What the injected sidecar container runs: `node <V8 flags> /app/dist/sidecar.cjs [--once ...]`,
 * this file bundled into one tree-shaken file (scripts/sidecar-bundle.ts). Its arguments are the
 * sidecar's own options; it behaves as `token-broker sidecar` does in cli/main.ts (same process guard,
 * same exit codes), without the CLI's other commands, their imports or the per-file module loading.
 */
import { writeSync } from 'node:fs';
import { runSidecar } from './main.ts';
import { installProcessGuard } from './process-guard.ts';

installProcessGuard(process, {
  component: 'token-broker-sidecar',
  // Logs are JSON lines on stdout, the fatal one included.
  write: (line) => writeSync(1, line),
  exit: (code) => process.exit(code),
});

runSidecar(process.argv.slice(2), process.env).then(
  // The AWS SDK may still hold idle keep-alive sockets once the sidecar has stopped: exit now.
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`token-broker: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
