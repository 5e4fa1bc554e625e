/**
 * The in-suite slice of `npm run fuzz`: a few thousand generated AdmissionReviews (test/fuzz/) against
 * the real webhook over HTTPS, every answer judged by the oracle (test/fuzz/oracle.ts). Fixed seed, so
 * a failure here replays with `npm run fuzz -- --seed <SEED> --cases <CASES>` or the printed case.
 * Timing is not judged here (the suite must not depend on machine speed); `npm run fuzz` does.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PROPERTIES } from '../../fuzz/oracle.ts';
import { formatReport, reduce, runFuzz } from '../../fuzz/run.ts';
import { parseWebhookOptions } from '../../../webhook/src/server/options.ts';
import { startWebhookServer, type WebhookServer } from '../../../webhook/src/server/serve-command.ts';
import {
  loopbackServerArgs,
  makeTempCertificates,
  TEST_SERVER_NAME,
  type TestCertificates,
} from './support/certs.ts';

const SEED = 20260701;
const CASES = 2500;

void describe('fuzz: generated AdmissionReviews against the real HTTPS webhook', () => {
  let certs: TestCertificates & { cleanup: () => Promise<void> };
  let server: WebhookServer;

  before(async () => {
    certs = await makeTempCertificates();
    const options = parseWebhookOptions(loopbackServerArgs(certs), {});
    server = await startWebhookServer(options, {
      logDestination: { write: () => undefined },
      tlsPollIntervalMs: 0,
    });
  });

  after(async () => {
    await server?.close();
    await certs?.cleanup();
  });

  void it(`${CASES} cases, seed ${SEED}: ${PROPERTIES.filter((p) => p !== 'within-timeout').join(', ')}`, async () => {
    const target = { port: server.port, ca: certs.ca, servername: TEST_SERVER_NAME };
    const started = performance.now();
    const report = await runFuzz({ ...target, cases: CASES, seed: SEED, concurrency: 4, timing: false });
    const seconds = (performance.now() - started) / 1000;
    const failed = Object.values(report.failures).reduce((a, b) => a + b, 0);
    if (failed > 0) {
      for (const [property, failure] of Object.entries(report.examples)) {
        report.examples[property as keyof typeof report.examples] = await reduce(target, failure, 60);
      }
      assert.fail(formatReport(report, seconds));
    }
    assert.equal(report.cases, CASES);
    // The generators reach every kind of answer, or the properties above would be checked on nothing.
    for (const outcome of ['injected', 'allowed', 'denied', '4xx'] as const) {
      assert.ok(
        (report.outcomes[outcome] ?? 0) > CASES / 100,
        `${outcome}: ${formatReport(report, seconds)}`,
      );
    }
  });
});
