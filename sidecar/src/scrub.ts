/**
 * Scrubbing of free text (error messages from libraries may quote a presigned URL, a URI with
 * credentials or a token) before it is logged. Apart from log.ts so the process guard can use it
 * without loading pino.
 */

type Scrubber = [RegExp, string | ((match: string, offset: number, text: string) => string)];

/** A lowercase absolute path (a file in the token-broker directory): kept, it is the useful part. */
const PLAIN_PATH = /^\/[a-z0-9._/-]+$/;
/** Text ending in an ARN's prefix: the resource that follows (a role or session) is what an operator needs. */
const ARN_PREFIX = /arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:$/;

const SCRUBBERS: Scrubber[] = [
  // User info of a URI (a Mongo URI carries the key id and the secret there).
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^/?#@\s"']*@/gi, '$1[redacted]@'],
  // Named secret parameters of presigned URLs, URIs and query strings, encoded or not.
  [
    /((?:X-Amz-(?:Signature|Security-Token|Credential)|AWS_SESSION_TOKEN|SessionToken|SecretAccessKey|Token|password)[=:])[^&\s"',;]+/gi,
    '$1[redacted]',
  ],
  [/\b(?:AKIA|ASIA)[A-Z0-9]{12,}\b/g, '[redacted-key-id]'],
  // Long base64/hex/percent-encoded runs: secret keys, session tokens, signatures, JWTs.
  [
    /[A-Za-z0-9+/=_%-]{32,}(?:\.[A-Za-z0-9+/=_%-]{8,})*/g,
    (run, offset, text) =>
      PLAIN_PATH.test(run) || ARN_PREFIX.test(text.slice(Math.max(0, offset - 64), offset))
        ? run
        : '[redacted]',
  ],
];

const MAX_MESSAGE = 400;

/** Removes anything that looks like a secret from free text (error messages from libraries). */
export function scrubText(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SCRUBBERS) {
    out =
      typeof replacement === 'string'
        ? out.replace(pattern, replacement)
        : out.replace(pattern, (m: string, ...rest: unknown[]) => {
            // replace() passes capture groups first, then the offset and the whole text.
            const offset = rest.at(-2) as number;
            const whole = rest.at(-1) as string;
            return replacement(m, offset, whole);
          });
  }
  return out.length > MAX_MESSAGE ? `${out.slice(0, MAX_MESSAGE)}...` : out;
}

/** A loggable summary of an error: name, code and scrubbed message only (no stack, no fields). */
export function describeError(error: unknown): { name: string; code?: string; message: string } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      name: error.name,
      ...(typeof code === 'string' ? { code } : {}),
      message: scrubText(error.message),
    };
  }
  return { name: typeof error, message: scrubText(String(error)) };
}
