import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import dgram from 'node:dgram';
import { Resolver } from 'node:dns';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { prettifyMessage, prettify } from '../../src/contentviews/index.js';
import { Request } from '../../src/http.js';

function hasCurl(): Promise<boolean> {
  return new Promise((resolve) => execFile('curl', ['--version'], (err) => resolve(!err)));
}

test('a multipart upload sent by curl right now renders as Multipart Form', async (t) => {
  if (!(await hasCurl())) return t.skip('curl not installed');
  const dir = mkdtempSync(join(tmpdir(), 'cv-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'f.txt'), 'line1\nline2\n');
  let captured: { body: Buffer; contentType: string } | undefined;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      captured = { body: Buffer.concat(chunks), contentType: req.headers['content-type'] ?? '' };
      res.end('ok');
    });
  });
  t.after(() => server.close());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve, reject) =>
    execFile('curl', ['-s', '-F', 'name=J\u00fcrgen', '-F', `upload=@${join(dir, 'f.txt')}`, `http://127.0.0.1:${port}/`], (err) => (err ? reject(err) : resolve())),
  );
  assert.ok(captured);
  const req = new Request({ host: '127.0.0.1', port, method: 'POST', headers: [['Content-Type', captured.contentType]], content: captured.body });
  const r = prettifyMessage(req);
  assert.equal(r.viewName, 'Multipart Form');
  assert.equal(r.text, 'name: J\\xc3\\xbcrgen\nupload: line1line2\n');
});

test('a DNS query sent by node right now renders as DNS', async (t) => {
  const sock = dgram.createSocket('udp4');
  t.after(() => sock.close());
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([`127.0.0.1:${sock.address().port}`]);
  const packet = new Promise<Buffer>((resolve) => sock.once('message', (m) => resolve(m)));
  resolver.resolve4('example.org', () => {});
  const data = await packet;
  resolver.cancel();
  const r = prettify('auto', data, { contentType: 'application/dns-message' });
  assert.equal(r.viewName, 'DNS');
  assert.match(r.text, /^questions:\n- name: example\.org\n  type: A\n  class: IN\n/m);
});
