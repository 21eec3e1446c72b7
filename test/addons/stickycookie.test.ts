import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StickyCookie, domainMatch } from '../../src/addons/stickycookie.js';
import { parseHttpDate, formatHttpDate } from '../../src/addons/util/httpdate.js';
import { Request } from '../../src/http.js';
import { addonMaster, makeFlow } from './helpers.js';

test('HTTP dates are read like email.utils.parsedate_tz', () => {
  // Expected values computed with CPython 3.11 (parsedate_tz + mktime_tz).
  const cases: Array<[string, number | null]> = [
    ['Sun, 06 Nov 1994 08:49:37 GMT', 784111777],
    ['Sunday, 06-Nov-94 08:49:37 GMT', 784111777],
    ['Sun Nov  6 08:49:37 1994 +0000', 784111777],
    ['Thu, 01-Jan-1970 00:00:00 GMT', 0],
    ['Wed, 13-Jan-2021 22:23:01 GMT', 1610576581],
    ['06 Nov 1994 08:49 -0130', 784117140],
    ['Sun, 06 Nov 1994 08:49:37 EST', 784129777],
    ['6 Nov 94 8.49.37 +0200', 784104577],
    ['Sun,06 Nov 1994 08:49:37 GMT', 784111777],
    ['garbage', null],
    ['Sun, 06 Nov 1994', null],
  ];
  for (const [text, expected] of cases) assert.equal(parseHttpDate(text), expected, text);
  assert.equal(formatHttpDate(784111777.9), 'Sun, 06 Nov 1994 08:49:37 GMT');
});

test('domain matching as http.cookiejar', () => {
  assert.equal(domainMatch('www.google.com', '.google.com'), true);
  assert.equal(domainMatch('google.com', '.google.com'), true);
  assert.equal(domainMatch('google.com', 'google.com'), true);
  assert.equal(domainMatch('evil.com', '.google.com'), false);
  assert.equal(domainMatch('host', '.google.com'), false);
  assert.equal(domainMatch('1.2.3.4', '.3.4'), false, 'IP addresses only match exactly');
});

function responseFlow(host: string, setCookie: string | string[], port = 80) {
  const f = makeFlow({ url: `http://${host}:${port}/`, response: {} });
  for (const c of Array.isArray(setCookie) ? setCookie : [setCookie]) f.response!.headers.add('Set-Cookie', c);
  return f;
}

test('configure: filters are checked, None switches off', async () => {
  const sc = new StickyCookie();
  const m = await addonMaster([sc]);
  await assert.rejects(m.options.update({ stickycookie: '~b' }), { name: 'OptionsError', message: /Invalid filter expression/ });
  await m.options.update({ stickycookie: '.*' });
  sc.response(responseFlow('example.com', 'a=1'));
  assert.equal(sc.jar.size, 1);
  await m.options.update({ stickycookie: null });
  const f = makeFlow({ url: 'http://example.com/' });
  sc.request(f);
  assert.equal(f.request.headers.has('cookie'), false, 'off: no cookies added');
});

test('cookies are recorded per (domain, port, path) and sent back to matching requests', async () => {
  const sc = new StickyCookie();
  await addonMaster([sc], { stickycookie: '.*' });
  const c = 'SSID=mooo; domain=.google.com, FOO=bar; Domain=.google.com; Path=/; Expires=Wed, 13-Jan-2021 22:23:01 GMT; Secure; ';
  sc.response(responseFlow('host', c));
  assert.equal(sc.jar.size, 0, 'cookies for another domain are ignored');
  sc.response(responseFlow('www.google.com', c));
  assert.deepEqual([...sc.jar.values()].map((e) => [e.domain, e.port, e.path, [...e.cookies]]), [['.google.com', 80, '/', [['SSID', 'mooo']]]], 'the expired FOO is not kept');
  sc.jar.clear();
  sc.response(responseFlow('www.google.com', ['somecookie=test; Path=/', 'othercookie=hello world; Path=/', 'somecookie=newvalue; Path=/']));
  const entry = [...sc.jar.values()][0]!;
  assert.deepEqual([entry.domain, entry.port, entry.path], ['www.google.com', 80, '/']);
  assert.deepEqual([...entry.cookies], [['somecookie', 'newvalue'], ['othercookie', 'hello world']]);

  const req = makeFlow({ url: 'http://www.google.com/search', headers: { Cookie: 'mine=1' } });
  sc.request(req);
  assert.equal(req.request.headers.get('cookie'), 'somecookie=newvalue; othercookie="hello world"', 'replaces the Cookie header, quoting special values');
  assert.equal(req.metadata['stickycookie'], true);
  const otherPort = makeFlow({ url: 'http://www.google.com:8080/' });
  sc.request(otherPort);
  assert.equal(otherPort.request.headers.has('cookie'), false, 'the port is part of the key');

  sc.response(responseFlow('www.google.com', 'somecookie=; Expires=Thu, 01-Jan-1970 00:00:00 GMT'));
  sc.response(responseFlow('www.google.com', 'othercookie=x; Max-Age=0'));
  assert.equal(sc.jar.size, 0, 'expired cookies are removed, and empty origins with them');
});

test('path scoping and the request filter', async () => {
  const sc = new StickyCookie();
  await addonMaster([sc], { stickycookie: '~d example.com' });
  sc.response(responseFlow('example.com', 'p=1; Path=/app'));
  const inside = makeFlow({ url: 'http://example.com/app/x' });
  sc.request(inside);
  assert.equal(inside.request.headers.get('cookie'), 'p=1');
  const outside = makeFlow({ url: 'http://example.com/other' });
  sc.request(outside);
  assert.equal(outside.request.headers.has('cookie'), false);
  const req = new Request({ host: 'example.com', port: 80, path: '/app/y', headers: { Host: 'example.com' } });
  const viaIp = makeFlow({ url: 'http://10.0.0.1/app/y' });
  viaIp.request = req;
  sc.request(viaIp);
  assert.equal(viaIp.request.headers.get('cookie'), 'p=1');
});
