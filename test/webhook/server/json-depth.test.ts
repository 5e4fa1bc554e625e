import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonDepth, MAX_BODY_DEPTH } from '../../../webhook/src/server/json-depth.ts';

void describe('JSON nesting depth, before parsing', () => {
  const cases: [string, string, number][] = [
    ['a scalar', '42', 0],
    ['an empty object', '{}', 1],
    ['objects and lists', '{"a":[{"b":[1,2]},{}],"c":{}}', 4],
    ['brackets inside strings', '{"a":"{[{[{[","b":"]]]}}}"}', 1],
    ['an escaped quote inside a string', '{"a":"x\\"{{{{","b":[]}', 2],
    ['an escaped backslash before the closing quote', '{"a":"x\\\\","b":[[]]}', 3],
    ['multibyte text', '{"é":"😀{","b":[]}', 2],
    ['an unterminated string', '{"a":"[[[[', 1],
  ];
  for (const [name, text, depth] of cases) {
    void it(`${name}: depth ${depth}`, () => {
      assert.equal(jsonDepth(text, 10), depth);
    });
  }

  void it('stops counting at the first level past the limit', () => {
    const deep = `${'['.repeat(MAX_BODY_DEPTH + 5)}${']'.repeat(MAX_BODY_DEPTH + 5)}`;
    assert.equal(jsonDepth(deep), MAX_BODY_DEPTH + 1);
    const atLimit = `${'['.repeat(MAX_BODY_DEPTH)}${']'.repeat(MAX_BODY_DEPTH)}`;
    assert.equal(jsonDepth(atLimit), MAX_BODY_DEPTH);
  });
});
