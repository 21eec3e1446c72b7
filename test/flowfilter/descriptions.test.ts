/** spec/filters.md §6: readable descriptions, and the help list served by /filter-help. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, parseWithOptions, FILTER_HELP } from '../../src/flowfilter/index.js';

const DESCRIPTIONS: Array<[string, string]> = [
  ['~a', 'is asset'],
  ['~marked', 'is marked'],
  ['~http', 'is an HTTP Flow'],
  ['~websocket', 'is a Websocket Flow'],
  ['~tcp', 'is a TCP Flow'],
  ['~udp', 'is a UDP Flow'],
  ['~dns', 'is a DNS Flow'],
  ['~all', 'all flows'],
  ['~q', 'has no response'],
  ['~s', 'has response'],
  ['~e', 'has error'],
  ['~t x', 'content type matches /x/i'],
  ['~tq x', 'req. content type matches /x/i'],
  ['~ts x', 'resp. content type matches /x/i'],
  ['~h x', 'header matches /x/im'],
  ['~hq x', 'req. header matches /x/im'],
  ['~hs x', 'resp. header matches /x/im'],
  ['~b x', 'body matches /x/is'],
  ['~bq x', 'body request matches /x/is'],
  ['~bs x', 'body response matches /x/is'],
  ['~m get', 'method matches /get/i'],
  ['~d example.com', 'domain matches /example.com/i'],
  ['~u foo', 'url matches /foo/i'],
  ['foo', 'url matches /foo/i'],
  ['~src x', 'source address matches /x/i'],
  ['~dst x', 'destination address matches /x/i'],
  ['~replay', 'flow has been replayed'],
  ['~replayq', 'request has been replayed'],
  ['~replays', 'response has been replayed'],
  ['~meta foo', 'flow metadata matches /foo/im'],
  ['~marker red', 'marker matches /red/i'],
  ['~comment note', 'comment matches /note/im'],
  ['~c 404', 'response code is 404'],
  ['~c 00404', 'response code is 404'],
  ['~c 99999999999999999999', 'response code is 99999999999999999999'],
  ['~q & ~s', 'has no response and has response'],
  ['~q | ~s', 'has no response or has response'],
  ['!(~u foo | ~c 200)', 'not (url matches /foo/i or response code is 200)'],
  ['!~q', 'not has no response'],
  ['!!~q', 'not not has no response'],
  ['~q & (~s | ~e ) & !~a', 'has no response and (has response or has error) and not is asset'],
  ['~q & & ~s', '(has no response and url matches /&/i) and has response'],
  ['a | b c', '(url matches /a/i or url matches /b/i) and url matches /c/i'],
  // Global inline flags show up in the flag letters, as Python's compiled flags do.
  ['~u "(?s)x"', 'url matches /(?s)x/is'],
  ['~b "(?m)x"', 'body matches /(?m)x/ims'],
  ['~u "a\\\\d"', 'url matches /a\\d/i'],
];

for (const [text, description] of DESCRIPTIONS) {
  test(`description of ${JSON.stringify(text)}`, () => {
    assert.equal(String(parse(text)), description);
  });
}

test('descriptions drop the i when matching is case-sensitive', () => {
  const opts = { ignoreCase: false };
  assert.equal(String(parseWithOptions('~h x', opts)), 'header matches /x/m');
  assert.equal(String(parseWithOptions('~b x', opts)), 'body matches /x/s');
  assert.equal(String(parseWithOptions('~u x', opts)), 'url matches /x/');
  assert.equal(String(parseWithOptions('~u "(?i)x"', opts)), 'url matches /(?i)x/i');
});

test('the filter keeps its source text in pattern', () => {
  assert.equal(parse(' ~q  &  ~s ').pattern, ' ~q  &  ~s ');
});

test('FILTER_HELP has mitmproxy entries, sorted, then the logical operators', () => {
  assert.deepEqual(FILTER_HELP, [
    ['~a', 'Match asset in response: CSS, JavaScript, images, fonts.'],
    ['~all', 'Match all flows'],
    ['~b regex', 'Body'],
    ['~bq regex', 'Request body'],
    ['~bs regex', 'Response body'],
    ['~c int', 'HTTP response code'],
    ['~comment regex', 'Flow comment'],
    ['~d regex', 'Domain'],
    ['~dns', 'Match DNS flows'],
    ['~dst regex', 'Match destination address'],
    ['~e', 'Match error'],
    ['~h regex', 'Header'],
    ['~hq regex', 'Request header'],
    ['~hs regex', 'Response header'],
    ['~http', 'Match HTTP flows'],
    ['~m regex', 'Method'],
    ['~marked', 'Match marked flows'],
    ['~marker regex', 'Match marked flows with specified marker'],
    ['~meta regex', 'Flow metadata'],
    ['~q', 'Match request with no response'],
    ['~replay', 'Match replayed flows'],
    ['~replayq', 'Match replayed client request'],
    ['~replays', 'Match replayed server response'],
    ['~s', 'Match response'],
    ['~src regex', 'Match source address'],
    ['~t regex', 'Content-type header'],
    ['~tcp', 'Match TCP flows'],
    ['~tq regex', 'Request Content-Type header'],
    ['~ts regex', 'Response Content-Type header'],
    ['~u regex', 'URL'],
    ['~udp', 'Match UDP flows'],
    ['~websocket', 'Match WebSocket flows'],
    ['!', 'unary not'],
    ['&', 'and'],
    ['|', 'or'],
    ['(...)', 'grouping'],
  ]);
  assert.ok(Object.isFrozen(FILTER_HELP));
  assert.equal(JSON.stringify({ commands: FILTER_HELP }).startsWith('{"commands":[["~a","Match asset'), true);
});
