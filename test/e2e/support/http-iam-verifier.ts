import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOOPBACK } from './net.ts';
import { judgeRdsToken } from './ldap-iam-verifier.ts';
import type { BindDecision, LdapIamVerifierOptions, RdsTokenCheck } from './ldap-iam-verifier.ts';

/**
 * RDS's IAM check for MySQL, as a loopback HTTP endpoint. MariaDB's PAM plugin asks the client for the
 * clear-text password (the RDS IAM token) and hands it to the PAM module `rds_iam_pam.py`, which POSTs
 * `{"user","password"}` here; the answer is 200 `{"ok":true}` only when the token is valid for that user
 * and this endpoint, judged by the same checks as the PostgreSQL LDAP gate (`judgeRdsToken`). Every
 * request is recorded with the check that decided it.
 */

/** A request body larger than this is refused unread: a token is a few kB. */
const MAX_BODY_BYTES = 64 * 1024;

export type HttpIamVerifierOptions = LdapIamVerifierOptions;

export interface HttpIamVerifier {
  /** Where the PAM module POSTs (an argument of its line in the PAM service file). */
  readonly url: string;
  readonly decisions: readonly BindDecision[];
  /** Live: add a check to switch it off for the next logins (to prove a refusal is down to it alone). */
  readonly disabledChecks: Set<RdsTokenCheck>;
  close(): Promise<void>;
}

interface LoginRequest {
  readonly user: string;
  readonly password: string;
}

function parseLogin(text: string): LoginRequest | undefined {
  try {
    const body = JSON.parse(text) as Partial<LoginRequest>;
    return typeof body.user === 'string' && typeof body.password === 'string'
      ? { user: body.user, password: body.password }
      : undefined;
  } catch {
    return undefined;
  }
}

export async function startHttpIamVerifier(options: HttpIamVerifierOptions): Promise<HttpIamVerifier> {
  const now = options.now ?? Date.now;
  const decisions: BindDecision[] = [];
  const disabledChecks = new Set(options.disabledChecks ?? []);
  const live: LdapIamVerifierOptions = { ...options, disabledChecks };

  const server = createServer((req, res) => {
    const answer = (status: number, ok: boolean): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ ok }));
    };
    if (req.method !== 'POST' || req.url !== '/verify') {
      answer(404, false);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) req.destroy();
      else chunks.push(chunk);
    });
    req.on('end', () => {
      const login = parseLogin(Buffer.concat(chunks).toString('utf8'));
      if (login === undefined) {
        answer(400, false);
        return;
      }
      const verdict = judgeRdsToken(login.password, login.user, live, now());
      decisions.push(
        verdict.ok
          ? {
              user: login.user,
              ok: true,
              reason: 'accepted',
              passwordLength: login.password.length,
              accessKeyId: verdict.accessKeyId,
            }
          : {
              user: login.user,
              ok: false,
              reason: verdict.reason,
              check: verdict.check,
              passwordLength: login.password.length,
              ...(verdict.accessKeyId ? { accessKeyId: verdict.accessKeyId } : {}),
            },
      );
      answer(verdict.ok ? 200 : 403, verdict.ok);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${LOOPBACK}:${port}/verify`,
    decisions,
    disabledChecks,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
      });
    },
  };
}
