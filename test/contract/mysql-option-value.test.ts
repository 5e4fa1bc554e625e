import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { optionFileCharacter } from '../../contract/mysql-option-value.ts';
import { parseSidecarConfig, serializeSidecarConfig } from '../../contract/sidecar-config.ts';
import { targetProblems } from '../../contract/target-rules.ts';
import { rdsTarget, sidecarConfig } from '../fakes/sidecar-config.ts';

const mysql = (over: { user?: string; database?: string }) =>
  rdsTarget({ name: 'ledger', engine: 'mysql', port: 3306, user: 'ledger_app', database: 'ledger', ...over });

describe('a mysql target holds only what its option file can hold bare', () => {
  it('names the character an option-file value may not hold, and accepts the rest', () => {
    const cases: [string, string | undefined][] = [
      ['ledger_app', undefined],
      ['ledger-app.v2@x=y%2F:?&!', undefined],
      ['contabilità2', undefined],
      ['データ', undefined],
      ['ledger app', 'a space (U+0020)'],
      ['ledger\u00a0app', 'whitespace (U+00A0)'],
      ['ledger\u2003app', 'whitespace (U+2003)'],
      ['ledger\u0000', 'a NUL character (U+0000)'],
      ['a"b', 'a double quote'],
      ["a'b", 'a single quote'],
      ['a\\b', 'a backslash'],
      ['a#b', 'a "#"'],
      ['a;b', 'a ";"'],
      [
        'contabilità',
        'a final character (U+00E0) whose UTF-8 form ends in byte A0, which MySQL clients trim as a no-break space',
      ],
      [
        '\u4e20',
        'a final character (U+4E20) whose UTF-8 form ends in byte A0, which MySQL clients trim as a no-break space',
      ],
    ];
    for (const [value, want] of cases) assert.equal(optionFileCharacter(value), want, JSON.stringify(value));
  });

  it('denies such a user or database for mysql targets, naming the field; postgres targets keep them', () => {
    assert.deepEqual(targetProblems(mysql({ user: 'ledger app', database: 'led#ger' })), [
      {
        field: 'user',
        problem:
          'contains a space (U+0020), which the sidecar cannot write into the MySQL option file (an option-file value holds no whitespace, quote, "\\", "#" or ";" and does not end in byte A0)',
      },
      {
        field: 'database',
        problem:
          'contains a "#", which the sidecar cannot write into the MySQL option file (an option-file value holds no whitespace, quote, "\\", "#" or ";" and does not end in byte A0)',
      },
    ]);
    assert.deepEqual(targetProblems(mysql({})), []);
    assert.deepEqual(
      targetProblems(rdsTarget({ engine: 'postgres', user: 'ledger app', database: 'led#ger' })),
      [],
    );
    // One problem per field: an empty user is empty, not also unwritable.
    assert.deepEqual(targetProblems(mysql({ user: '' })), [{ field: 'user', problem: 'must not be empty' }]);
  });

  it('the sidecar refuses such a config at start, as the webhook denies the pod', () => {
    const json = serializeSidecarConfig(sidecarConfig({ targets: [mysql({ database: 'ledger;x' })] }));
    assert.throws(() => parseSidecarConfig(json), {
      name: 'SidecarConfigError',
      message:
        /^TOKEN_BROKER_CONFIG: targets\[0\]\.database: contains a ";", which the sidecar cannot write into the MySQL option file/,
    });
  });
});
