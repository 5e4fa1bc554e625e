/** Runs `token-broker sidecar` in its own process as the CLI will: argv and the real process env. */
import { runSidecar } from '../../../sidecar/src/main.ts';

process.exit(await runSidecar(process.argv.slice(2), process.env));
