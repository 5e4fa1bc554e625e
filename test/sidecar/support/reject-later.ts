/**
 * Preloaded (`--import`) into a CLI process by process-guard.test.ts: once the command has started,
 * a promise rejects with nobody listening, its message quoting a secret.
 */
const delayMs = Number(process.env.TB_TEST_REJECT_AFTER_MS ?? '1000');
const secret = process.env.TB_TEST_SECRET ?? 'missing-secret';

setTimeout(() => {
  void Promise.reject(new Error(`lost a refresh for postgres://app:${secret}@db.example/app`));
}, delayMs);
