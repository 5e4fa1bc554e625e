/**
 * The webhook's floor: bare fastify over HTTPS with the webhook's certificate, parsing the same
 * AdmissionReview body with fastify's JSON parser and answering a fixed AdmissionReview (the
 * webhook's own answer to that body), with no logging, metrics or mutation. Run by bench/webhook.ts as
 * its own process, transpiled to plain JavaScript (bench/standalone.ts), so nothing but fastify loads.
 * Env: BENCH_PORT, BENCH_TLS_CERT_FILE, BENCH_TLS_KEY_FILE, BENCH_ANSWER_FILE.
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set; bench/webhook.ts sets it`);
  return value;
}

const answer = readFileSync(required('BENCH_ANSWER_FILE'), 'utf8');
const app = Fastify({
  https: {
    cert: readFileSync(required('BENCH_TLS_CERT_FILE')),
    key: readFileSync(required('BENCH_TLS_KEY_FILE')),
  },
});
app.post('/mutate', (request, reply) => {
  if (typeof request.body !== 'object' || request.body === null) return reply.code(400).send();
  return reply.type('application/json').send(answer);
});
app.get('/readyz', (_request, reply) => reply.send('ok'));
await app.listen({ host: '127.0.0.1', port: Number(required('BENCH_PORT')) });
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
