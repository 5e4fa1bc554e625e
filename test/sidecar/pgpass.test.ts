import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { escapePgpassField, PgpassError, renderPgpass, type PgpassEntry } from '../../sidecar/src/pgpass.ts';
import { lookupPgpass } from './support/libpq-pgpass.ts';

const token =
  'db.abc.eu-west-1.rds.amazonaws.com:5432/?Action=connect&DBUser=app&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIA%2F20300101%2Feu-west-1%2Frds-db%2Faws4_request&X-Amz-Security-Token=IQo%2B%3D&X-Amz-Signature=abc';

const entry = (over: Partial<PgpassEntry> = {}): PgpassEntry => ({
  host: 'db.abc.eu-west-1.rds.amazonaws.com',
  port: 5432,
  database: 'invoicing',
  user: 'app',
  password: token,
  ...over,
});

describe('pgpass', () => {
  it('escapes backslash and colon', () => {
    assert.equal(escapePgpassField('a:b\\c'), 'a\\:b\\\\c');
    assert.equal(escapePgpassField('*'), '\\*');
    assert.equal(escapePgpassField('a*'), 'a*');
  });

  it('renders one line per target, and libpq rules read the token back', () => {
    const content = renderPgpass([
      entry(),
      entry({ host: 'other', database: 'reports', password: 'p:w\\d' }),
    ]);
    assert.equal(content.split('\n').length, 3);
    assert.ok(content.endsWith('\n'));
    assert.equal(
      lookupPgpass(content, 'db.abc.eu-west-1.rds.amazonaws.com', '5432', 'invoicing', 'app'),
      token,
    );
    assert.equal(lookupPgpass(content, 'other', '5432', 'reports', 'app'), 'p:w\\d');
    assert.equal(lookupPgpass(content, 'other', '5433', 'reports', 'app'), undefined);
  });

  it('a database literally named "*" is not a wildcard', () => {
    const content = renderPgpass([entry({ database: '*', password: 'star' })]);
    assert.equal(lookupPgpass(content, entry().host, '5432', '*', 'app'), 'star');
    assert.equal(lookupPgpass(content, entry().host, '5432', 'other', 'app'), undefined);
  });

  it('an entry without a database matches every database', () => {
    const content = renderPgpass([entry({ database: undefined, password: 'any' })]);
    assert.match(content, /:5432:\*:app:/);
    assert.equal(lookupPgpass(content, entry().host, '5432', 'postgres', 'app'), 'any');
    assert.equal(lookupPgpass(content, entry().host, '5432', 'invoicing', 'app'), 'any');
    assert.equal(lookupPgpass(content, entry().host, '5432', 'invoicing', 'other'), undefined);
  });

  it('a line that would start with # is not a comment', () => {
    const content = renderPgpass([entry({ host: '#weird', password: 'x' })]);
    assert.equal(lookupPgpass(content, '#weird', '5432', 'invoicing', 'app'), 'x');
  });

  it('the first matching line wins', () => {
    const content = renderPgpass([entry({ password: 'first' }), entry({ password: 'second' })]);
    assert.equal(lookupPgpass(content, entry().host, '5432', 'invoicing', 'app'), 'first');
  });

  it('refuses line breaks without echoing the value', () => {
    assert.throws(
      () => renderPgpass([entry({ password: 'sec\nret' })]),
      (e: unknown) =>
        e instanceof PgpassError && !e.message.includes('sec') && e.message.includes('password'),
    );
  });

  it('refuses every character the contract refuses, naming the field and the character only', () => {
    const cases: [Partial<PgpassEntry>, string, RegExp][] = [
      [{ user: 'app\u0000x' }, 'user', /NUL/],
      [{ user: 'app\u2028x' }, 'user', /line break/],
      [{ database: 'inv\u202eoicing' }, 'database', /bidirectional-text control/],
      [{ user: 'app\ud800x' }, 'user', /lone surrogate/],
      [{ host: 'db\u001bx' }, 'host', /control character/],
    ];
    for (const [over, field, what] of cases) {
      assert.throws(
        () => renderPgpass([entry(over)]),
        (e: unknown) =>
          e instanceof PgpassError &&
          e.message.startsWith(`pgpass: ${field} contains`) &&
          what.test(e.message) &&
          !e.message.includes('app') &&
          !e.message.includes('inv'),
      );
    }
  });

  it('round-trips any field values without line breaks (property)', () => {
    const field = fc.string({
      unit: fc.constantFrom('a', 'Z', '0', ':', '\\', '*', '#', ' ', '%', '/', '=', '+', 'é'),
      minLength: 1,
      maxLength: 20,
    });
    fc.assert(
      fc.property(
        field,
        field,
        field,
        field,
        fc.integer({ min: 1, max: 65535 }),
        (host, database, user, password, port) => {
          const content = renderPgpass([{ host, port, database, user, password }]);
          assert.equal(lookupPgpass(content, host, String(port), database, user), password);
        },
      ),
    );
  });
});
