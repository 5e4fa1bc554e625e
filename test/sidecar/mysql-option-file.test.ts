import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  MAX_OPTION_FILE_LINE_BYTES,
  MysqlOptionFileError,
  renderMysqlOptionFile,
  type MysqlOptionFileEntry,
} from '../../sidecar/src/mysql-option-file.ts';
import { readOptionFile } from './support/mysql-option-reader.ts';

const token =
  'ledger.abc.eu-west-1.rds.amazonaws.com:3306/?Action=connect&DBUser=ledger_app&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIA%2F20300101%2Feu-west-1%2Frds-db%2Faws4_request&X-Amz-Security-Token=IQo%2B%3D&X-Amz-Signature=abc';

const entry = (over: Partial<MysqlOptionFileEntry> = {}): MysqlOptionFileEntry => ({
  host: 'ledger.abc.eu-west-1.rds.amazonaws.com',
  port: 3306,
  user: 'ledger_app',
  database: 'ledger',
  password: token,
  ...over,
});

/** What the clients take from the file: `[client]` for every tool, `[mysql]` for the CLI alone. */
function read(content: string): Record<string, Record<string, string>> {
  return Object.fromEntries(
    [...readOptionFile(content)].map(([group, options]) => [group, Object.fromEntries(options)]),
  );
}

describe('the MySQL option file (<name>.my.cnf)', () => {
  it('holds user, token, host and port under [client] and the database under [mysql], nothing else', () => {
    const content = renderMysqlOptionFile(entry());
    assert.equal(
      content,
      '[client]\nuser=ledger_app\n' +
        `password=${token}\n` +
        'host=ledger.abc.eu-west-1.rds.amazonaws.com\nport=3306\n[mysql]\ndatabase=ledger\n',
    );
    assert.deepEqual(read(content), {
      client: {
        user: 'ledger_app',
        password: token,
        host: 'ledger.abc.eu-west-1.rds.amazonaws.com',
        port: '3306',
      },
      mysql: { database: 'ledger' },
    });
  });

  it('refuses a value the clients would read changed, naming the field and the character, never the value', () => {
    const cases: [Partial<MysqlOptionFileEntry>, string, string][] = [
      [{ user: 'ledger app' }, 'user', 'a space (U+0020)'],
      [{ user: 'ledger\u00a0app' }, 'user', 'whitespace (U+00A0)'],
      [{ user: 'ledger\u3000app' }, 'user', 'whitespace (U+3000)'],
      [{ user: 'ledger\tapp' }, 'user', 'a control character (U+0009)'],
      [{ user: 'ledger\napp' }, 'user', 'a line break (U+000A)'],
      [{ database: 'ledger#2' }, 'database', 'a "#"'],
      [{ database: 'ledger;2' }, 'database', 'a ";"'],
      [{ database: 'led"ger' }, 'database', 'a double quote'],
      [{ database: "led'ger" }, 'database', 'a single quote'],
      [{ database: 'led\\ger' }, 'database', 'a backslash'],
      [{ database: 'contabilità' }, 'database', 'a final character (U+00E0)'],
      [{ user: 'ledger\u202eapp' }, 'user', 'a bidirectional-text control (U+202E)'],
      [{ password: `${token} ` }, 'password', 'a space (U+0020)'],
    ];
    for (const [over, field, character] of cases) {
      const value = Object.values(over)[0] as string;
      assert.throws(
        () => renderMysqlOptionFile(entry(over)),
        (e: unknown) => {
          assert.ok(e instanceof MysqlOptionFileError);
          assert.equal(e.field, field);
          assert.ok(e.message.startsWith(`MySQL option file: ${field} contains ${character}`), e.message);
          assert.ok(!e.message.includes(value.slice(0, 6)), e.message);
          return true;
        },
        JSON.stringify(over),
      );
    }
  });

  it('refuses an empty user or database', () => {
    for (const field of ['user', 'database'] as const) {
      assert.throws(() => renderMysqlOptionFile(entry({ [field]: '' })), {
        name: 'MysqlOptionFileError',
        message: new RegExp(`^MySQL option file: ${field} is empty; fix the target's ${field}`),
      });
    }
  });

  it('takes a token whose line is 4,095 bytes and refuses one byte more, as the clients would split that line', () => {
    const fits = 'a'.repeat(MAX_OPTION_FILE_LINE_BYTES - 'password=\n'.length);
    const content = renderMysqlOptionFile(entry({ password: fits }));
    assert.equal(read(content).client?.password, fits);

    const longer = `${fits}b`;
    // Written anyway, the clients would read a cut token and a stray option.
    assert.deepEqual(read(`[client]\npassword=${longer}\n`).client, { password: fits, b: '' });
    assert.throws(
      () => renderMysqlOptionFile(entry({ password: longer })),
      (e: unknown) => {
        assert.ok(e instanceof MysqlOptionFileError);
        assert.equal(e.field, 'password');
        assert.match(
          e.message,
          /password would be a line of 4096 bytes, and MySQL clients read at most 4095/,
        );
        assert.match(e.message, /session tags, a session policy or role chaining/);
        assert.ok(!e.message.includes('aaaaaa'));
        return true;
      },
    );
  });

  it('counts the line in bytes, not characters', () => {
    const user = 'é'.repeat(2044); // 4,088 bytes: a 4,094-byte line
    assert.equal(read(renderMysqlOptionFile(entry({ user }))).client?.user, user);
    assert.throws(
      () => renderMysqlOptionFile(entry({ user: `${user}é` })),
      /user would be a line of 4096 bytes/,
    );
  });

  it('every value the rule accepts is read back unchanged (property)', () => {
    const value = fc.string({
      unit: fc.constantFrom(
        'a',
        'Z',
        '0',
        '_',
        '-',
        '.',
        ':',
        '/',
        '?',
        '&',
        '=',
        '%',
        '+',
        '@',
        '!',
        '[',
        'é',
        'à',
        'データ',
      ),
      minLength: 1,
      maxLength: 24,
    });
    fc.assert(
      fc.property(
        value,
        value,
        value,
        fc.integer({ min: 1, max: 65535 }),
        (user, database, password, port) => {
          let content: string;
          try {
            content = renderMysqlOptionFile(entry({ user, database, password, port }));
          } catch (error) {
            // Only the final-character rule refuses this alphabet.
            assert.ok(/à$/.test(user) || /à$/.test(database) || /à$/.test(password), String(error));
            return;
          }
          const back = read(content);
          assert.deepEqual(
            [back.client?.user, back.client?.password, back.client?.port, back.mysql?.database],
            [user, password, String(port), database],
          );
        },
      ),
    );
  });

  it('control: each kind of value the rule refuses would reach the client changed if written bare', () => {
    for (const value of [
      ' ledger',
      'ledger ',
      'led#ger',
      'led\\sger',
      '"ledger"',
      "'ledger'",
      'contabilità',
    ]) {
      assert.notEqual(read(`[client]\nuser=${value}\n`).client?.user, value, value);
    }
  });
});
