/**
 * proxyauth=ldap[s]:... against a real OpenLDAP server (test/helpers/slapd.ts), through a real
 * proxy and real curl.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { makeValidator } from '../../src/addons/proxyauth.js';
import { OptionsError } from '../../src/optmanager.js';
import { parseLdapSpec } from '../../src/addons/util/ldap-auth.js';
import { testConfdir, testProxy } from '../helpers/proxy.js';
import { CertStore } from '../../src/certs/index.js';
import { curl } from '../helpers/clients.js';
import { closedPort, echoServer, rawServer, tlsOrigin } from '../helpers/servers.js';
import { BIND_DN, BIND_PASSWORD, PEOPLE, startSlapd, type LdapUser } from '../helpers/slapd.js';

// Alice is added first: a filter matching everyone finds her first.
const ALICE: LdapUser = { cn: 'alice', uid: 'alice1', password: 'alice-pw' };
const BOB: LdapUser = { cn: 'Bob Builder', uid: 'bob', password: 'bob-pw' };
/** A name made of filter syntax: found only when it is compared as it is. */
const ODD: LdapUser = { cn: 'we*ird)(name', uid: 'odd', password: 'odd-pw' };
const USERS = [ALICE, BOB, ODD];

const spec = (port: number, query = '') => `ldap:127.0.0.1:${port}:${BIND_DN}:${BIND_PASSWORD}:${PEOPLE}${query}`;

/** curl through the proxy with Basic proxy credentials `user:pass`. */
const viaProxy = (proxyUrl: string, userPass: string, url: string, extra: string[] = []) => curl(['-x', proxyUrl, '-U', userPass, ...extra, url]);

const warnings = (logs: Array<{ level: string; message: string }>) => logs.filter((l) => l.level === 'warn').map((l) => l.message);

/** Poll `cond` until it holds; fail after `ms`. */
async function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`${what} after ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A TCP relay to the LDAP server that counts connections, so tests see how many the proxy makes. */
async function ldapRelay(t: TestContext, ldapPort: number): Promise<{ port: number; readonly accepted: number; readonly open: number }> {
  let open = 0;
  const relay = await rawServer(t, (s) => {
    open++;
    const up = net.connect(ldapPort, '127.0.0.1');
    s.pipe(up).pipe(s);
    up.on('error', () => s.destroy());
    s.on('close', () => {
      open--;
      up.destroy();
    });
    up.on('close', () => s.destroy());
  });
  return {
    port: relay.port,
    get accepted() {
      return relay.connections;
    },
    get open() {
      return open;
    },
  };
}

test('LDAP specs: a port when there are more than four colons, 389/636 otherwise, cn unless search_filter_key says', () => {
  assert.deepEqual(parseLdapSpec('ldap:ldap.example.com:cn=admin,dc=x:pw:ou=people,dc=x'), {
    secure: false,
    host: 'ldap.example.com',
    port: 389,
    bindDn: 'cn=admin,dc=x',
    bindPassword: 'pw',
    dnSubtree: 'ou=people,dc=x',
    filterKey: 'cn',
  });
  assert.deepEqual(parseLdapSpec('ldaps:10.0.0.1:cn=a:pw:ou=p?search_filter_key=uid'), {
    secure: true,
    host: '10.0.0.1',
    port: 636,
    bindDn: 'cn=a',
    bindPassword: 'pw',
    dnSubtree: 'ou=p',
    filterKey: 'uid',
  });
  const withPort = parseLdapSpec('ldaps:localhost:1636:cn=a::ou=p?search_filter_key=sAMAccountName');
  assert.equal(withPort.port, 1636);
  assert.equal(withPort.bindPassword, '');
  assert.equal(withPort.filterKey, 'sAMAccountName');
  assert.throws(() => parseLdapSpec('ldap:localhost:70000:cn=a:pw:ou=p'), { message: 'Invalid LDAP specification: ldap:localhost:70000:cn=a:********:ou=p' });
});

test('LDAP: the right password passes; a wrong one, an unknown user or an empty password get 407', async (t) => {
  const ldap = await startSlapd(t, USERS);
  const up = await echoServer(t);
  const proxy = await testProxy(t, { options: { proxyauth: spec(ldap.port) } });

  const ok = await viaProxy(proxy.url, 'alice:alice-pw', `${up.url}/ok`);
  assert.equal(ok.status, 200, ok.stderr);
  const names = (JSON.parse(ok.stdout).rawHeaders as string[]).map((h) => h.toLowerCase());
  assert.ok(!names.includes('proxy-authorization'), 'the credentials are not forwarded');
  assert.equal((await viaProxy(proxy.url, 'Bob Builder:bob-pw', `${up.url}/bob`)).status, 200, 'the cn is searched as it is, space and all');

  const before = up.connections;
  for (const creds of ['alice:wrong', 'alice:bob-pw', 'nobody:alice-pw', 'alice:', ':alice-pw']) {
    const r = await viaProxy(proxy.url, creds, `${up.url}/denied`, ['-i']);
    assert.equal(r.status, 407, creds);
    assert.match(r.stdout, /\r\nProxy-Authenticate: Basic realm="mitmproxy"\r\n/);
  }
  assert.equal((await curl(['-x', proxy.url, `${up.url}/none`])).status, 407, 'no credentials at all');
  assert.equal(up.connections, before, 'refused requests never reach the server');

  // A CONNECT authenticates its tunnel.
  const tunnel = await viaProxy(proxy.url, 'alice:alice-pw', `${up.url}/tunnelled`, ['-p']);
  assert.equal(tunnel.status, 200, tunnel.stderr);
  const refused = await viaProxy(proxy.url, 'alice:nope', `${up.url}/t`, ['-p']);
  assert.notEqual(refused.status, 200);
  assert.match(refused.stderr, /407/);
  assert.deepEqual(warnings(proxy.logs), [], 'a wrong password is a refusal, not an error');
});

test('LDAP: search_filter_key picks the attribute the username is compared with; of two entries with that value, the first found counts', async (t) => {
  // Carol shares Bob's uid (a uid need not be unique). As mitmproxy, the proxy binds as the first
  // entry the server returns (which one is the server's choice), and a second entry is no error.
  const CAROL: LdapUser = { cn: 'Carol', uid: 'bob', password: 'carol-pw' };
  const ldap = await startSlapd(t, [...USERS, CAROL]);
  const up = await echoServer(t);
  const proxy = await testProxy(t, { options: { proxyauth: spec(ldap.port, '?search_filter_key=uid') } });
  const statuses = [];
  for (const creds of ['bob:bob-pw', 'bob:carol-pw']) statuses.push((await viaProxy(proxy.url, creds, `${up.url}/uid`)).status);
  assert.deepEqual(statuses.sort(), [200, 407], 'exactly one of the two entries is tried');
  assert.deepEqual(warnings(proxy.logs), [], 'two matching entries are no LDAP failure');
  assert.equal((await viaProxy(proxy.url, 'Bob Builder:bob-pw', `${up.url}/cn`)).status, 407, 'the cn is not the uid');
  assert.equal((await viaProxy(proxy.url, 'bob:wrong', `${up.url}/uid`)).status, 407);
  // The default key is cn.
  await proxy.master.options.update({ proxyauth: spec(ldap.port) });
  assert.equal((await viaProxy(proxy.url, 'bob:bob-pw', `${up.url}/uid`)).status, 407);
  assert.equal((await viaProxy(proxy.url, 'Bob Builder:bob-pw', `${up.url}/cn`)).status, 200);
});

test('LDAP: filter metacharacters in a username match nobody but themselves', async (t) => {
  const ldap = await startSlapd(t, USERS);
  const up = await echoServer(t);
  const proxy = await testProxy(t, { options: { proxyauth: spec(ldap.port) } });
  // Written into a filter string unescaped, "(cn=*)" and "(cn=al*)" would find Alice, and her password would pass.
  for (const user of ['*', 'al*', '*)(cn=*', 'alice)(cn=*', 'alice\\']) {
    assert.equal((await viaProxy(proxy.url, `${user}:alice-pw`, `${up.url}/x`)).status, 407, JSON.stringify(user));
  }
  assert.equal((await viaProxy(proxy.url, `${ODD.cn}:odd-pw`, `${up.url}/odd`)).status, 200, 'a name made of filter syntax is found');
  assert.equal((await viaProxy(proxy.url, `${ODD.cn}:alice-pw`, `${up.url}/odd`)).status, 407);
});

test('LDAP: SOCKS5 user/password and reverse-mode Authorization are checked against the directory', async (t) => {
  const ldap = await startSlapd(t, USERS);
  const up = await echoServer(t);
  const socks = await testProxy(t, { options: { mode: ['socks5'], proxyauth: spec(ldap.port) } });
  const good = await curl(['-x', `socks5h://alice:alice-pw@127.0.0.1:${socks.port}`, `${up.url}/socks`]);
  assert.equal(good.status, 200, good.stderr);
  const connections = up.connections;
  for (const creds of ['alice:wrong', 'nobody:alice-pw']) {
    const bad = await curl(['-x', `socks5h://${creds}@127.0.0.1:${socks.port}`, `${up.url}/socks`]);
    assert.notEqual(bad.code, 0, creds);
    assert.equal(bad.status, 0, creds);
  }
  assert.equal(up.connections, connections, 'a refused SOCKS5 client gets no connection');

  const reverse = await testProxy(t, { options: { mode: [`reverse:http://127.0.0.1:${up.port}`], proxyauth: spec(ldap.port) } });
  assert.equal((await curl(['-u', 'Bob Builder:bob-pw', `${reverse.url}/r`])).status, 200);
  assert.equal((await curl(['-u', 'Bob Builder:alice-pw', `${reverse.url}/r`])).status, 401);
});

test('LDAP: invalid specifications are refused with mitmproxy message, and the setting in force stays', async (t) => {
  const ldap = await startSlapd(t, USERS);
  const up = await echoServer(t);
  const proxy = await testProxy(t, { options: { proxyauth: spec(ldap.port) } });
  const invalid = [
    'ldap',
    'ldap:127.0.0.1:cn=x:pw',
    'ldapx:127.0.0.1:cn=x:pw:ou=people',
    'ldap:127.0.0.1:port:cn=x:pw:ou=people',
    'ldap:127.0.0.1:389:cn=x:pw:ou=people:extra',
    'ldap::cn=x:pw:ou=people',
    'ldap:127.0.0.1:cn=x:pw:ou=people?search_filter_key',
    'ldap:127.0.0.1:cn=x:pw:ou=people?filter=uid',
    'ldap:127.0.0.1:cn=x:pw:ou=people?search_filter_key=uid?x',
    'ldap:127.0.0.1:cn=x:pw:ou=people?search_filter_key=a=b',
  ];
  // mitmproxy's message, without the bind password (or, when the fields cannot be told apart, the expected form).
  const message = (s: string) => {
    const parts = s.split(':');
    if (parts.length !== 5 && parts.length !== 6) return 'Invalid LDAP specification: expected ldap[s]:host[:port]:bind_dn:password:dn_subtree[?search_filter_key=key]';
    parts[parts.length - 2] = '********';
    return `Invalid LDAP specification: ${parts.join(':')}`;
  };
  for (const s of invalid) {
    await assert.rejects(proxy.master.options.update({ proxyauth: s }), (e: Error) => e instanceof OptionsError && e.message === message(s) && !/\bpw\b/.test(e.message), s);
  }
  assert.equal(proxy.master.options.get('proxyauth'), spec(ldap.port));
  assert.equal((await viaProxy(proxy.url, 'alice:alice-pw', `${up.url}/still`)).status, 200);
  assert.equal((await viaProxy(proxy.url, 'alice:wrong', `${up.url}/still`)).status, 407);
});

test('LDAP: a server that cannot be reached, refuses the bind DN or never answers is an option error', async (t) => {
  const ldap = await startSlapd(t, USERS);
  const closed = await closedPort();
  const badSpec = spec(closed);
  await assert.rejects(testProxy(t, { options: { proxyauth: badSpec } }), (e: Error) => e instanceof OptionsError && e.message.startsWith(`Could not bind to LDAP server ldap://127.0.0.1:${closed} as "${BIND_DN}": `) && /ECONNREFUSED/.test(e.message));

  const proxy = await testProxy(t);
  const wrongPassword = `ldap:127.0.0.1:${ldap.port}:${BIND_DN}:not-the-password:${PEOPLE}`;
  await assert.rejects(proxy.master.options.update({ proxyauth: wrongPassword }), (e: Error) => e instanceof OptionsError && /Invalid Credentials/i.test(e.message) && !e.message.includes('not-the-password'));
  const silent = await rawServer(t, () => undefined);
  const start = Date.now();
  await assert.rejects(proxy.master.options.update({ proxyauth: spec(silent.port) }), (e: Error) => e instanceof OptionsError && /no answer|timed out/i.test(e.message));
  assert.ok(Date.now() - start < 15_000, 'given up on within seconds');
  assert.equal(proxy.master.options.get('proxyauth'), null);
});

test('ldaps: TLS from the first byte, and a server certificate no trusted CA signed is refused', async (t) => {
  // Signed by the test CA, which the system does not trust (mitmproxy would not check it).
  const store = await CertStore.open({ confdir: testConfdir() });
  const leaf = await store.getCert({ commonName: 'localhost', sans: ['localhost', '127.0.0.1'] });
  const port = await tlsOrigin(t, { key: leaf.keyPem, cert: leaf.certPem }, '');
  const proxy = await testProxy(t);
  await assert.rejects(
    proxy.master.options.update({ proxyauth: `ldaps:localhost:${port}:${BIND_DN}:${BIND_PASSWORD}:${PEOPLE}` }),
    (e: Error) => e instanceof OptionsError && e.message.startsWith(`Could not bind to LDAP server ldaps://localhost:${port} as`) && /certificate/i.test(e.message),
  );
});

test('LDAP: a server that stops answering fails requests with 407 within seconds, and is used again once back', async (t) => {
  const ldap = await startSlapd(t, USERS);
  const up = await echoServer(t);
  const proxy = await testProxy(t, { options: { proxyauth: spec(ldap.port) } });
  assert.equal((await viaProxy(proxy.url, 'alice:alice-pw', `${up.url}/before`)).status, 200);

  ldap.pause();
  const start = Date.now();
  const [bob, alice] = await Promise.all([viaProxy(proxy.url, 'Bob Builder:bob-pw', `${up.url}/during`), viaProxy(proxy.url, 'alice:alice-pw', `${up.url}/during`)]);
  assert.equal(bob.status, 407);
  assert.equal(alice.status, 407, 'a success on another connection is not reused');
  assert.ok(Date.now() - start < 15_000, `answered after ${Date.now() - start} ms`);
  const failures = warnings(proxy.logs).filter((m) => m.startsWith('proxyauth: checking credentials failed'));
  assert.equal(failures.length, 1, `one warning for the outage, not one per request: ${failures.join('\n')}`);
  assert.match(failures[0]!, /^proxyauth: checking credentials failed: .*(no answer|timed out)/i);

  ldap.resume();
  assert.equal((await viaProxy(proxy.url, 'Bob Builder:bob-pw', `${up.url}/after`)).status, 200, 'the bind connection is made again');
});

test('LDAP: concurrent checks of the same credentials share one round trip; a success is remembered by its connection only', async (t) => {
  const ldap = await startSlapd(t, USERS);
  const relay = await ldapRelay(t, ldap.port);
  const v = await makeValidator(spec(relay.port));
  t.after(() => v.close?.());
  assert.equal(relay.accepted, 1, 'one connection for the bind DN');
  assert.deepEqual(await Promise.all(Array.from({ length: 5 }, () => v('alice', 'alice-pw'))), [true, true, true, true, true]);
  assert.equal(relay.accepted, 2, 'one user bind for five checks');
  assert.deepEqual(await Promise.all([v('alice', 'alice-pw'), v('alice', 'wrong'), v('alice', 'alice-pw')]), [true, false, true]);
  assert.equal(relay.accepted, 4, 'different credentials are not merged; a finished check is not cached');

  const up = await echoServer(t);
  const proxy = await testProxy(t, { options: { proxyauth: spec(relay.port) } });
  let accepted = relay.accepted;
  // curl sends both requests over one keep-alive connection.
  const two = await viaProxy(proxy.url, 'alice:alice-pw', `${up.url}/one`, [`${up.url}/two`]);
  assert.equal(two.stdout.match(/\n200 \d+/g)?.length, 1, two.stdout);
  assert.equal(two.status, 200);
  assert.equal(relay.accepted, accepted + 1, 'the second request on the connection was not checked again');
  accepted = relay.accepted;
  assert.equal((await viaProxy(proxy.url, 'alice:alice-pw', `${up.url}/three`)).status, 200);
  assert.equal(relay.accepted, accepted + 1, 'a new connection is checked again');
  accepted = relay.accepted;
  const wrong = await viaProxy(proxy.url, 'alice:wrong', `${up.url}/one`, [`${up.url}/two`]);
  assert.equal(wrong.status, 407);
  assert.equal(relay.accepted, accepted + 2, 'failures are not remembered');
});

test('LDAP: connections are closed when the option changes and when the proxy stops', async (t) => {
  const ldap = await startSlapd(t, USERS);
  const relay = await ldapRelay(t, ldap.port);
  const proxy = await testProxy(t, { options: { proxyauth: spec(relay.port) } });
  assert.equal(relay.open, 1);
  await proxy.master.options.update({ proxyauth: 'any' });
  await waitFor(() => relay.open === 0, 'the LDAP connection is still open after proxyauth changed');
  await proxy.master.options.update({ proxyauth: spec(relay.port) });
  assert.equal(relay.open, 1);
  await proxy.close();
  await waitFor(() => relay.open === 0, 'the LDAP connection is still open after the proxy stopped');
});

test('LDAP: a proxy stopped while proxyauth is still binding to the server leaves no LDAP connection open', async (t) => {
  const ldap = await startSlapd(t, USERS);
  const relay = await ldapRelay(t, ldap.port);
  const proxy = await testProxy(t);
  // The server holds the bind (it answers nothing while paused), so the option change is still under way when the proxy stops.
  ldap.pause();
  t.after(() => ldap.resume());
  const changing = proxy.master.options.update({ proxyauth: spec(relay.port) }).catch(() => undefined);
  await waitFor(() => relay.accepted === 1, 'the bind to start');
  const stopped = proxy.close();
  ldap.resume();
  await Promise.all([changing, stopped]);
  await waitFor(() => relay.open === 0, 'the LDAP connection opened by the late configure is still open after the proxy stopped');
});

test('LDAP: a search_filter_key given as an OID, which the spec accepts, finds the user', async (t) => {
  const ldap = await startSlapd(t, USERS);
  // 2.5.4.3 is cn.
  const v = await makeValidator(spec(ldap.port, '?search_filter_key=2.5.4.3'));
  t.after(() => v.close?.());
  assert.equal(await v('alice', 'alice-pw'), true);
  assert.equal(await v('alice', 'wrong'), false);
  assert.equal(await v('*', 'alice-pw'), false);
});
