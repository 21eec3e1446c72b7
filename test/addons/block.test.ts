import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Block } from '../../src/addons/block.js';
import { classifyAddress } from '../../src/addons/util/ipclass.js';
import { Client } from '../../src/connection.js';
import { addonMaster, logged } from './helpers.js';

const client = (ip: string, mode = 'regular') => new Client({ peername: [ip, 12345], sockname: ['0.0.0.0', 8080], timestampStart: 1, proxyMode: mode });

test('address classes follow Python ipaddress', () => {
  const cases: Array<[string, boolean, boolean, boolean]> = [
    // address, loopback, private, global
    ['127.0.0.1', true, true, false],
    ['127.8.9.1', true, true, false],
    ['10.1.2.3', false, true, false],
    ['172.16.0.1', false, true, false],
    ['172.32.0.1', false, false, true],
    ['192.168.1.1', false, true, false],
    ['169.254.1.1', false, true, false],
    ['100.64.0.1', false, false, false], // shared address space: neither
    ['192.0.0.9', false, false, true], // exception inside 192.0.0.0/29
    ['8.8.8.8', false, false, true],
    ['::1', true, true, false],
    ['fe80::1%eth0', false, true, false],
    ['fd00::1', false, true, false],
    ['2001:db8::1', false, true, false],
    ['2a00:1450::1', false, false, true],
    ['::ffff:10.0.0.1', false, true, false],
    ['::ffff:8.8.8.8', false, false, true],
    ['::ffff:127.0.0.1', true, true, false],
  ];
  for (const [ip, loopback, priv, glob] of cases) {
    const c = classifyAddress(ip);
    assert.ok(c, ip);
    assert.deepEqual([c.loopback, c.private, c.global], [loopback, priv, glob], ip);
  }
  assert.equal(classifyAddress('::ffff:8.8.8.8')!.address, '8.8.8.8');
  assert.equal(classifyAddress('not-an-ip'), null);
});

test('block_global (default on) kills public clients with mitmproxy messages', async () => {
  const b = new Block();
  const m = await addonMaster([b]);
  assert.equal(m.options.get('block_global'), true);
  assert.equal(m.options.get('block_private'), false);
  const pub = client('8.8.8.8');
  b.client_connected(pub);
  assert.equal(pub.error, 'Connection killed by block_global.');
  assert.deepEqual(logged(m.logs, 'warn'), ['Client connection from 8.8.8.8 killed by block_global option.']);
  const mapped = client('::ffff:1.1.1.1');
  b.client_connected(mapped);
  assert.equal(mapped.error, 'Connection killed by block_global.', 'IPv4-mapped addresses are unwrapped');
  for (const ip of ['10.0.0.1', '127.0.0.1', '::1', '192.168.0.5']) {
    const c = client(ip);
    b.client_connected(c);
    assert.equal(c.error, null, ip);
  }
});

test('block_private kills private clients but never loopback or the local mode', async () => {
  const b = new Block();
  const m = await addonMaster([b], { block_private: true, block_global: false });
  const priv = client('192.168.0.5');
  b.client_connected(priv);
  assert.equal(priv.error, 'Connection killed by block_private.');
  assert.deepEqual(logged(m.logs, 'warn'), ['Client connection from 192.168.0.5 killed by block_private option.']);
  for (const c of [client('127.0.0.1'), client('::1'), client('10.0.0.1', 'local'), client('8.8.8.8')]) {
    b.client_connected(c);
    assert.equal(c.error, null, String(c.peername));
  }
});
