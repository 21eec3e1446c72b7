/**
 * A real OpenLDAP server for a test: its own slapd.conf and mdb database in a temporary
 * directory, on 127.0.0.1 and a free port, stopped and removed when the test ends (pass or fail).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';
import { Client } from 'ldapts';
import { closedPort } from './servers.js';

export const SUFFIX = 'dc=example,dc=test';
export const PEOPLE = `ou=people,${SUFFIX}`;
/** The DN the proxy binds as to search, and its password. */
export const BIND_DN = `cn=proxy,${SUFFIX}`;
export const BIND_PASSWORD = 'bind-secret';

export interface LdapUser {
  cn: string;
  uid: string;
  password: string;
}

export interface Slapd {
  port: number;
  /** Stop answering (SIGSTOP): connections are still accepted by the kernel, nothing is answered. */
  pause(): void;
  resume(): void;
}

/** slapd lives in /usr/sbin, which is not on every user's PATH. */
function findSlapd(): string {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/libexec', '/usr/libexec'];
  for (const d of dirs) if (d && existsSync(join(d, 'slapd'))) return join(d, 'slapd');
  throw new Error('slapd (the OpenLDAP server) is not installed; the LDAP proxyauth tests need it: apt-get install slapd (Debian/Ubuntu), dnf install openldap-servers (Fedora), brew install openldap (macOS)');
}

/** The first of `candidates` that exists. */
function firstExisting(candidates: string[], what: string): string {
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error(`${what} not found in ${candidates.join(', ')}`);
  return found;
}

/** slapd's {SSHA} password scheme: base64(SHA-1(password + salt) + salt). */
function ssha(password: string): string {
  const salt = randomBytes(8);
  return `{SSHA}${Buffer.concat([createHash('sha1').update(password).update(salt).digest(), salt]).toString('base64')}`;
}

function slapdConf(dir: string): string {
  const schema = firstExisting(['/etc/ldap/schema', '/etc/openldap/schema', '/usr/local/etc/openldap/schema', '/opt/homebrew/etc/openldap/schema'], 'OpenLDAP schema directory');
  // Debian builds the backends as modules; other builds may have mdb built in.
  const modules = ['/usr/lib/ldap', '/usr/lib64/openldap', '/usr/lib/openldap', '/usr/local/libexec/openldap'].find((d) => existsSync(join(d, 'back_mdb.la')) || existsSync(join(d, 'back_mdb.so')));
  return [
    ...['core', 'cosine', 'inetorgperson'].map((s) => `include ${join(schema, `${s}.schema`)}`),
    `pidfile ${join(dir, 'slapd.pid')}`,
    ...(modules ? [`modulepath ${modules}`, 'moduleload back_mdb'] : []),
    // As Active Directory does, accept a bind with a DN and an empty password (as anonymous):
    // the proxy must refuse empty passwords itself.
    'allow bind_anon_dn',
    'database mdb',
    'maxsize 10485760',
    `suffix "${SUFFIX}"`,
    `directory ${join(dir, 'db')}`,
    // Only a bound user may search; anyone may bind (what the proxy's user check does).
    'access to attrs=userPassword by anonymous auth by * none',
    'access to * by users read by anonymous auth',
    '',
  ].join('\n');
}

function ldif(users: LdapUser[]): string {
  const entries = [
    [`dn: ${SUFFIX}`, 'objectClass: dcObject', 'objectClass: organization', 'dc: example', 'o: Example'],
    [`dn: ${PEOPLE}`, 'objectClass: organizationalUnit', 'ou: people'],
    [`dn: ${BIND_DN}`, 'objectClass: organizationalRole', 'objectClass: simpleSecurityObject', 'cn: proxy', `userPassword: ${ssha(BIND_PASSWORD)}`],
    // In this order, so that a search matching everyone finds the first user first.
    ...users.map((u) => [
      // The cn is base64 (::) in the LDIF so that any character may be in it.
      `dn:: ${Buffer.from(`cn=${u.cn.replace(/[\\,+"<>;=#]/g, (c) => `\\${c}`)},${PEOPLE}`).toString('base64')}`,
      'objectClass: inetOrgPerson',
      `cn:: ${Buffer.from(u.cn).toString('base64')}`,
      'sn: User',
      `uid: ${u.uid}`,
      `userPassword: ${ssha(u.password)}`,
    ]),
  ];
  return entries.map((e) => e.join('\n')).join('\n\n') + '\n';
}

function run(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(file, args, (err, stdout, stderr) => (err ? reject(new Error(`${file} ${args.join(' ')} failed: ${stderr || stdout || err.message}`)) : resolve()));
  });
}

/** Resolves once a bind as BIND_DN succeeds; rejects when slapd exits or 10 s pass. */
async function waitUntilAnswering(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`slapd exited (${child.exitCode ?? child.signalCode}): ${output()}`);
    const c = new Client({ url: `ldap://127.0.0.1:${port}`, timeout: 2000, connectTimeout: 2000 });
    try {
      await c.bind(BIND_DN, BIND_PASSWORD);
      return;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`slapd did not answer within 10 s (${(e as Error).message}): ${output()}`);
    } finally {
      await c.unbind().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Stop slapd (waking it first if paused); SIGKILL when it has not exited after 5 s. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGCONT');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Start slapd with the users (and the bind DN) in its database. */
export async function startSlapd(t: TestContext, users: LdapUser[]): Promise<Slapd> {
  const slapd = findSlapd();
  const dir = mkdtempSync(join(tmpdir(), 'mitmproxy-ts-slapd-'));
  const children: ChildProcess[] = [];
  const kill = () => {
    for (const c of children) c.kill('SIGKILL');
  };
  // If the test process dies before its hooks run, slapd must not outlive it.
  process.once('exit', kill);
  // One hook, so that slapd is stopped before its files are removed.
  t.after(async () => {
    process.off('exit', kill);
    await Promise.all(children.map(stop));
    rmSync(dir, { recursive: true, force: true });
  });
  mkdirSync(join(dir, 'db'));
  writeFileSync(join(dir, 'slapd.conf'), slapdConf(dir));
  writeFileSync(join(dir, 'data.ldif'), ldif(users));
  // `slapd -T add` is slapadd: load the database offline, before the server opens it.
  await run(slapd, ['-T', 'add', '-f', join(dir, 'slapd.conf'), '-l', join(dir, 'data.ldif')]);
  // The port is free when picked but may be taken before slapd binds it: one retry on a new one.
  for (let attempt = 1; ; attempt++) {
    const port = await closedPort();
    let output = '';
    // -d 0: stay in the foreground (the child is slapd itself) and log nothing but errors.
    const child = spawn(slapd, ['-d', '0', '-f', join(dir, 'slapd.conf'), '-h', `ldap://127.0.0.1:${port}/`], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', (e) => (output += `\n${e.message}`));
    children.push(child);
    try {
      await waitUntilAnswering(port, child, () => output);
    } catch (e) {
      await stop(child);
      if (attempt < 2) continue;
      throw e;
    }
    return {
      port,
      pause: () => void child.kill('SIGSTOP'),
      resume: () => void child.kill('SIGCONT'),
    };
  }
}
