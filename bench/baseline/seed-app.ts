/**
 * The seeds' way, what an app carries today without the sidecar: it loads @aws-sdk/rds-signer and the
 * AWS credential providers, resolves the pod's identity through the default chain (IRSA web identity,
 * here against the STS emulator) and signs an RDS token itself. Writes the token to BENCH_TOKEN_FILE
 * (bench/sidecar.ts waits for it), then idles like an app between connections. Run as its own
 * process, transpiled to plain JavaScript (bench/standalone.ts). Env: the AWS_* of IRSA,
 * BENCH_TOKEN_FILE, BENCH_DB_HOST, BENCH_DB_USER.
 */
import { writeFile } from 'node:fs/promises';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { Signer } from '@aws-sdk/rds-signer';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set; bench/sidecar.ts sets it`);
  return value;
}

const signer = new Signer({
  hostname: required('BENCH_DB_HOST'),
  port: 5432,
  username: required('BENCH_DB_USER'),
  region: required('AWS_REGION'),
  credentials: fromNodeProviderChain(),
});
await writeFile(required('BENCH_TOKEN_FILE'), await signer.getAuthToken());
// An app keeps running after it connected.
setInterval(() => undefined, 1 << 30);
