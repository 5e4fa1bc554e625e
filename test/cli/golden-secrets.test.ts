/**
 * The golden files are committed and pasted into docs: none may carry anything shaped like a secret
 * (AWS key ids, session tokens, presigned RDS token parts, JWTs, long encoded runs).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { it } from 'node:test';

const GOLDEN = new URL('./golden/', import.meta.url);

const SECRET_SHAPES: [string, RegExp][] = [
  ['an AWS access key id', /\b(?:AKIA|ASIA)[A-Z0-9]{12,}\b/],
  ['a session token', /IQoJb3JpZ2luX2Vj/],
  ['a presigned URL part', /X-Amz-(?:Signature|Security-Token|Credential)/i],
  ['a JWT', /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/],
  // Long base64 runs as scrub.ts sees them, with lower case and digits (env var names have neither mix).
  ['a long encoded run', /(?<![\w/])(?=[\w+=%-]*[a-z])(?=[\w+=%-]*\d)[A-Za-z0-9+=_%-]{32,}/],
];

it('no golden file holds anything shaped like a secret', () => {
  const files = readdirSync(GOLDEN);
  assert.ok(files.length >= 10, `golden files found: ${files.join(', ')}`);
  for (const file of files) {
    const text = readFileSync(new URL(file, GOLDEN), 'utf8');
    for (const [what, shape] of SECRET_SHAPES) {
      assert.doesNotMatch(text, shape, `${file} holds ${what}`);
    }
  }
});
