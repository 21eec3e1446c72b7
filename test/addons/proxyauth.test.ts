import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProxyAuth, basicAuthValue, makeValidator, parseBasicAuth } from '../../src/addons/proxyauth.js';
import { HtpasswdFile, md5Crypt } from '../../src/addons/util/htpasswd.js';
import { bcryptDigest, bcryptHash, parseBcryptHash } from '../../src/addons/util/bcrypt.js';
import { shaCrypt } from '../../src/addons/util/shacrypt.js';
import { Client } from '../../src/connection.js';
import type { HTTPFlow } from '../../src/http.js';
import { addonMaster, makeFlow } from './helpers.js';
import { testProxy } from '../helpers/proxy.js';
import { curl } from '../helpers/clients.js';
import { echoServer } from '../helpers/servers.js';

test('MD5 crypt matches openssl passwd (-apr1 / -1)', () => {
  // Expected values printed by `openssl passwd -apr1 -salt S PW` and `openssl passwd -1 -salt S PW`.
  assert.equal(md5Crypt('secret', 'abcdefgh', '$apr1$'), '$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/');
  assert.equal(md5Crypt('a much longer password of 40+ characters!!', 'Xy.z/123', '$apr1$'), '$apr1$Xy.z/123$BW0kp4Tr9bQaX41UncJH/.');
  assert.equal(md5Crypt('ünïcødé', 's', '$apr1$'), '$apr1$s$B9EPJq9mn87ttWEIVxwQ11');
  assert.equal(md5Crypt('secret', 'abc', '$1$'), '$1$abc$iCQ2D3nhptRYi27fDYv2s1');
  assert.equal(md5Crypt('', '12345678', '$1$'), '$1$12345678$xek.CpjQUVgdf/P2N9KQf/');
});

test('bcrypt matches htpasswd -B', () => {
  // Hashes printed by Apache's `htpasswd -nbB -C <cost> user <password>` (apache2-utils 2.4).
  const cases: Array<[string, string]> = [
    ['secret', '$2y$04$Ne2FHE7oHWU6PBoabHQg6OkOkusCR5Eqznv8vSInvJFw4YON2v2uO'],
    ['a much longer password of 40+ characters!!', '$2y$05$HaHjT137IH8NrwMCXReS6.nIbMeiX8mWFDf9ypx6gUPZ9f/vuH.jm'],
    ['', '$2y$04$sAsrpf/q1zn8cYBdGoVNVO8ulBAjC8XeoHiFV4zVM2jt8XF5nx9Ae'],
    ['ünïcødé', '$2y$04$9KyK5yPY9PpAH/Xab2mIUeJYvl6WcCBtzJkv5U4YMhmxXmDqb6WfK'],
    // The classic OpenBSD test vector.
    ['U*U', '$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW'],
  ];
  for (const [pw, hash] of cases) {
    const p = parseBcryptHash(hash)!;
    assert.equal(bcryptDigest(pw, p.salt, p.cost), p.digest, hash);
  }
  assert.equal(bcryptHash('secret', parseBcryptHash(cases[0]![1])!.salt, 4), cases[0]![1]);
  assert.equal(parseBcryptHash('$2y$03$Ne2FHE7oHWU6PBoabHQg6OkOkusCR5Eqznv8vSInvJFw4YON2v2uO'), null, 'cost below 4');
  assert.equal(parseBcryptHash('$2y$04$short'), null);
});

test('SHA-crypt matches openssl passwd -5/-6 and htpasswd -2/-5', () => {
  // From `openssl passwd -5|-6 -salt S PW` (the first two are the specification's own examples)
  // and `htpasswd -nb5 -r 1000` / `htpasswd -nb2 -r 12345`.
  const cases: Array<[string, string]> = [
    ['Hello world!', '$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5'],
    ['Hello world!', '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1'],
    ['secret', '$5$toolongsaltstrin$37tCxOq5xshRncIKBOJ8buhNCuZ0PBFBUwb3XaEPn08'],
    ['ünï', '$6$rounds=1000$0msstY4KP/CMVNgI$mqe75wgEqQzGtllB3/HYXP.tiWuV8p2NfmCMTtQWPiOd/NrPr8h4gj4XkoRMkAXmWfScDTKwuOcF4AVIJmWvs.'],
    ['a much longer password of 40+ characters!! and even longer than sixty-four bytes....', '$5$rounds=12345$OEdAAMMV.Pz.KD9N$c1fE24W.vgiZmR06potL4uaZaVuNQ7sxaKB1uvOkAT.'],
  ];
  for (const [pw, hash] of cases) assert.equal(shaCrypt(pw, hash), hash);
  assert.equal(shaCrypt('x', '$1$abc$'), null);
});

test('htpasswd files: bcrypt, SHA-crypt, {SHA}, apr1, $1$, plain; other schemes and malformed lines refused', () => {
  const file = new HtpasswdFile(
    ['# comment', '', 'bc:$2y$04$Ne2FHE7oHWU6PBoabHQg6OkOkusCR5Eqznv8vSInvJFw4YON2v2uO', 'sc:$5$toolongsaltstrin$37tCxOq5xshRncIKBOJ8buhNCuZ0PBFBUwb3XaEPn08', 'sha:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=', 'apr:$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/', 'md5:$1$abc$iCQ2D3nhptRYi27fDYv2s1:comment', 'plain:secret'].join('\n'),
  );
  assert.equal(file.size, 6);
  for (const user of ['bc', 'sc', 'sha', 'apr', 'md5', 'plain']) {
    assert.equal(file.checkPassword(user, 'secret'), true, user);
    assert.equal(file.checkPassword(user, 'wrong'), false, user);
  }
  assert.equal(file.checkPassword('nobody', 'secret'), false);
  assert.equal(file.checkPassword('bc', 'secret'), true, 'cached results give the same answer');
  assert.equal(file.checkPassword('bc', 'wrong'), false);
  assert.throws(() => new HtpasswdFile('u:$2y$05$tooshort'), { message: "Malformed bcrypt hash for user 'u'" });
  assert.throws(() => new HtpasswdFile('u:$2x$05$abcdefghijklmnopqrstuuJ5bYcdhtY/PSbrtaSMZ0OMGKuxoW3m'), /\$2x\$ hashes are not supported/);
  assert.throws(() => new HtpasswdFile('u:$7$salt$hash'), /\$7\$ hashes are not supported/);
  assert.throws(() => new HtpasswdFile('nocolon'), { message: "Malformed htpasswd line: 'nocolon'" });
  assert.throws(() => new HtpasswdFile(':pw'), { message: "Malformed htpasswd line: ':pw'" });
});

test('validators from the proxyauth option', async (t) => {
  assert.equal((await makeValidator('any'))('x', 'y'), true);
  const single = await makeValidator('user:pass');
  assert.equal(single('user', 'pass'), true);
  assert.equal(single('user', 'pa'), false);
  await assert.rejects(makeValidator('nocolon'), { name: 'OptionsError', message: 'Invalid proxyauth specification.' });
  // As mitmproxy: exactly one colon (a password cannot contain one).
  await assert.rejects(makeValidator('u:p:q'), { name: 'OptionsError', message: 'Invalid single-user auth specification.' });
  const dir = mkdtempSync(join(tmpdir(), 'proxyauth-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'htpasswd'), 'alice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n');
  const v = await makeValidator(`@${join(dir, 'htpasswd')}`);
  assert.equal(v('alice', 'secret'), true);
  assert.equal(v('alice', 'nope'), false);
  await assert.rejects(makeValidator(`@${join(dir, 'missing')}`), { message: `Could not open htpasswd file: ${join(dir, 'missing')} (Htpasswd file not found: ${join(dir, 'missing')})` });
});

test('Basic header parsing', () => {
  assert.deepEqual(parseBasicAuth(basicAuthValue('user', 'pass')), ['user', 'pass']);
  assert.deepEqual(parseBasicAuth('basic ' + Buffer.from('ü:p:q').toString('base64')), ['ü', 'p:q']);
  assert.equal(parseBasicAuth('Bearer abc'), null);
  assert.equal(parseBasicAuth('Basic'), null);
  assert.equal(parseBasicAuth(''), null);
});

const clientIn = (mode: string) => new Client({ peername: ['127.0.0.1', 40000], sockname: ['127.0.0.1', 8080], timestampStart: 1, proxyMode: mode });

test('regular mode: 407 without credentials, success strips the header and records the user', async () => {
  const pa = new ProxyAuth();
  const m = await addonMaster([pa], { proxyauth: 'user:pass' });
  const f = makeFlow();
  pa.requestheaders(f);
  assert.equal(f.response?.statusCode, 407);
  assert.equal(f.response!.headers.get('proxy-authenticate'), 'Basic realm="mitmproxy"');
  assert.equal(f.response!.text, '<html><head><title>407 Proxy Authentication Required</title></head><body><h1>407 Proxy Authentication Required</h1></body></html>');
  const wrong = makeFlow({ headers: { 'Proxy-Authorization': basicAuthValue('user', 'nope') } });
  pa.requestheaders(wrong);
  assert.equal(wrong.response?.statusCode, 407);
  const good = makeFlow({ headers: { 'Proxy-Authorization': basicAuthValue('user', 'pass') } });
  pa.requestheaders(good);
  assert.equal(good.response, null);
  assert.equal(good.request.headers.has('proxy-authorization'), false);
  assert.deepEqual(good.metadata['proxyauth'], ['user', 'pass']);
  const replay = makeFlow();
  replay.isReplay = 'request';
  pa.requestheaders(replay);
  assert.equal(replay.response, null, 'replays are not asked');
  await m.options.update({ proxyauth: null });
  const off = makeFlow();
  pa.requestheaders(off);
  assert.equal(off.response, null);
});

test('other modes ask with 401 and Authorization', async () => {
  const pa = new ProxyAuth();
  await addonMaster([pa], { proxyauth: 'any' });
  const f = makeFlow({ client: clientIn('reverse:http://example.com') });
  pa.requestheaders(f);
  assert.equal(f.response?.statusCode, 401);
  assert.equal(f.response!.headers.get('www-authenticate'), 'Basic realm="mitmproxy"');
  const ok = makeFlow({ client: clientIn('reverse:http://example.com'), headers: { Authorization: basicAuthValue('a', 'b') } });
  pa.requestheaders(ok);
  assert.equal(ok.response, null);
  assert.equal(ok.request.headers.has('authorization'), false);
  const upstream = makeFlow({ client: clientIn('upstream:http://proxy:3128') });
  pa.requestheaders(upstream);
  assert.equal(upstream.response?.statusCode, 407, 'upstream mode is a proxy mode');
});

test('a CONNECT authenticates its connection; SOCKS5 too', async () => {
  const pa = new ProxyAuth();
  await addonMaster([pa], { proxyauth: 'user:pass' });
  const client = clientIn('regular');
  const connect = makeFlow({ method: 'CONNECT', client, headers: { 'Proxy-Authorization': basicAuthValue('user', 'pass') } });
  pa.http_connect(connect);
  assert.equal(connect.response, null);
  const inside = makeFlow({ client });
  pa.requestheaders(inside);
  assert.equal(inside.response, null, 'not asked again inside the tunnel');
  assert.deepEqual(inside.metadata['proxyauth'], ['user', 'pass']);
  const refused = makeFlow({ method: 'CONNECT', client: clientIn('regular') });
  pa.http_connect(refused);
  assert.equal(refused.response?.statusCode, 407);

  const socksClient = clientIn('socks5');
  const bad = { clientConn: socksClient, username: 'user', password: 'x', valid: false };
  pa.socks5_auth(bad);
  assert.equal(bad.valid, false);
  const good = { clientConn: socksClient, username: 'user', password: 'pass', valid: false };
  pa.socks5_auth(good);
  assert.equal(good.valid, true);
  const later = makeFlow({ client: socksClient });
  pa.requestheaders(later);
  assert.deepEqual(later.metadata['proxyauth'], ['user', 'pass']);
});

test('proxyauth through a real proxy: 407, then credentials, then a CONNECT tunnel', async (t) => {
  const up = await echoServer(t);
  const seen: HTTPFlow[] = [];
  const proxy = await testProxy(t, { addons: [{ name: 'rec', response: (f: HTTPFlow) => void seen.push(f) }], options: { proxyauth: 'alice:s3cret' } });
  const denied = await curl(['-x', proxy.url, '-i', `${up.url}/x`]);
  assert.equal(denied.status, 407);
  assert.match(denied.stdout, /\r\nProxy-Authenticate: Basic realm="mitmproxy"\r\n/);
  assert.equal(up.connections, 0);
  const ok = await curl(['-x', proxy.url, '-U', 'alice:s3cret', `${up.url}/x`]);
  assert.equal(ok.status, 200);
  const names = (JSON.parse(ok.stdout).rawHeaders as string[]).map((h) => h.toLowerCase());
  assert.ok(!names.includes('proxy-authorization'), 'the credentials are not forwarded');
  assert.deepEqual(seen.at(-1)!.metadata['proxyauth'], ['alice', 's3cret']);
  const tunnel = await curl(['-x', proxy.url, '-p', '-U', 'alice:s3cret', `${up.url}/tunnelled`]);
  assert.equal(tunnel.status, 200);
  assert.equal(JSON.parse(tunnel.stdout).url, '/tunnelled');
  const wrongTunnel = await curl(['-x', proxy.url, '-p', '-U', 'alice:wrong', `${up.url}/t`]);
  assert.notEqual(wrongTunnel.status, 200);
  assert.match(wrongTunnel.stderr, /407/);
});

test('reverse proxy: 401 from a real proxy', async (t) => {
  const up = await echoServer(t);
  const proxy = await testProxy(t, { options: { proxyauth: 'bob:pw', mode: [`reverse:http://127.0.0.1:${up.port}`] } });
  const denied = await curl(['-i', `${proxy.url}/r`]);
  assert.equal(denied.status, 401);
  assert.match(denied.stdout, /\r\nWWW-Authenticate: Basic realm="mitmproxy"\r\n/);
  const ok = await curl(['-u', 'bob:pw', `${proxy.url}/r`]);
  assert.equal(ok.status, 200);
  assert.ok(!(JSON.parse(ok.stdout).rawHeaders as string[]).map((h) => h.toLowerCase()).includes('authorization'));
});
