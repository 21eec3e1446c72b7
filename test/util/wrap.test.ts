/** wrapWords follows Python's textwrap.wrap (expected lines produced by python3's textwrap). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wrapWords } from '../../src/util/wrap.js';

test('breaks after hyphens between letters, as textwrap does', () => {
  const text =
    "The default content view mode. Valid values are 'auto', 'raw', 'hex', 'graphql', 'json', 'xml/html', 'wbxml', 'javascript', 'css', 'url-encoded', 'multipart form', 'image', 'query', 'protocol buffer', 'msgpack', 'grpc/protocol buffer'.";
  assert.deepEqual(wrapWords(text, 70), [
    "The default content view mode. Valid values are 'auto', 'raw', 'hex',",
    "'graphql', 'json', 'xml/html', 'wbxml', 'javascript', 'css', 'url-",
    "encoded', 'multipart form', 'image', 'query', 'protocol buffer',",
    "'msgpack', 'grpc/protocol buffer'.",
  ]);
});

test('a word longer than the width is cut, keeping the space textwrap keeps', () => {
  const text =
    'Require proxy authentication. Format: "username:pass", "any" to accept any user/pass combination, "@path" to use an Apache htpasswd file, or "ldap[s]:url_server_ldap[:port]:dn_auth:password:dn_subtree[?search_filter_key=...]" for LDAP authentication. Type optional str.';
  assert.deepEqual(wrapWords(text, 70), [
    'Require proxy authentication. Format: "username:pass", "any" to accept',
    'any user/pass combination, "@path" to use an Apache htpasswd file, or ',
    '"ldap[s]:url_server_ldap[:port]:dn_auth:password:dn_subtree[?search_fi',
    'lter_key=...]" for LDAP authentication. Type optional str.',
  ]);
  assert.deepEqual(wrapWords('', 70), []);
  assert.deepEqual(wrapWords('  a   b  ', 70), ['a b']);
  assert.deepEqual(wrapWords('abc', 0), ['a', 'b', 'c'], 'at least one character a line, as textwrap');
});

test('hyphens: after two letters only ("304-not-|modified"), and a long word is cut after a hyphen that fits', () => {
  // Expected lines from python3.11's textwrap.wrap.
  const cases: Array<[string, number, string[]]> = [
    ['respond with 304-not-modified when possible', 12, ['respond with', '304-not-', 'modified', 'when', 'possible']],
    ['a x-y-z b', 3, ['a x', '-y-', 'z b']],
    ['the e-mail re-sent long-term', 6, ['the', 'e-mail', 're-', 'sent', 'long-', 'term']],
    ['ab-cd 1a-bc a1-bc', 4, ['ab-', 'cd 1', 'a-bc', 'a1-', 'bc']],
    ['x-ray co-op', 4, ['x-', 'ray', 'co-', 'op']],
    ['a1-bcdefgh', 5, ['a1-', 'bcdef', 'gh']],
    ['12-345678', 5, ['12-', '34567', '8']],
    ['xx 304-not-modified', 6, ['xx 304', '-not-m', 'odifie', 'd']],
    ['ab--cd efgh', 3, ['ab', '--', 'cd ', 'efg', 'h']],
  ];
  for (const [text, width, lines] of cases) assert.deepEqual(wrapWords(text, width), lines, `${JSON.stringify(text)} at ${width}`);
});
