import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { escapeUnsafeCharacters, unsafeCharacter } from '../../contract/safe-text.ts';

describe('unsafeCharacter: the one character rule of webhook and sidecar', () => {
  const unsafe: [string, string][] = [
    ['a\nb', 'a line break (U+000A)'],
    ['a\rb', 'a line break (U+000D)'],
    ['a\u0085', 'a line break (U+0085)'],
    ['a\u2028', 'a line break (U+2028)'],
    ['a\u2029', 'a line break (U+2029)'],
    ['\u0000', 'a NUL character (U+0000)'],
    ['tab\there', 'a control character (U+0009)'],
    ['esc\u001b[31m', 'a control character (U+001B)'],
    ['del\u007f', 'a control character (U+007F)'],
    ['csi\u009b', 'a control character (U+009B)'],
    ['abc\u202edcba', 'a bidirectional-text control (U+202E)'],
    ['\u202a', 'a bidirectional-text control (U+202A)'],
    ['\u2066x\u2069', 'a bidirectional-text control (U+2066)'],
    ['rlm\u200f', 'a bidirectional-text control (U+200F)'],
    ['lrm\u200e', 'a bidirectional-text control (U+200E)'],
    ['alm\u061c', 'a bidirectional-text control (U+061C)'],
    ['lone\ud800', 'a lone surrogate (U+D800, not valid Unicode)'],
    ['\udfffreversed\ud83d', 'a lone surrogate (U+DFFF, not valid Unicode)'],
  ];
  for (const [text, want] of unsafe) {
    it(`refuses ${JSON.stringify(text)} as ${want}`, () => assert.equal(unsafeCharacter(text), want));
  }

  it('accepts ordinary text, any script and emoji', () => {
    for (const text of [
      'invoicing_app',
      'db-1.example',
      'équipe',
      'データ',
      'Ωmega',
      'café 😀',
      'a:b\\c*#',
      '',
    ]) {
      assert.equal(unsafeCharacter(text), undefined, text);
    }
  });
});

describe('escapeUnsafeCharacters', () => {
  it('writes each unusable unit as \\uXXXX and keeps the rest', () => {
    assert.equal(escapeUnsafeCharacters('a\nb\u202ec\ud800d😀'), 'a\\u000ab\\u202ec\\ud800d😀');
    assert.equal(escapeUnsafeCharacters('plain'), 'plain');
  });

  it('always yields text the rule accepts (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (text) => {
        assert.equal(unsafeCharacter(escapeUnsafeCharacters(text)), undefined);
      }),
    );
  });
});
