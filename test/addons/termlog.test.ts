/** termlog's lines as mitmdump prints them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { TermLog } from '../../src/addons/termlog.js';
import { formatLogLine } from '../../src/log.js';
import { formatAddress } from '../../src/connection.js';
import { listenAddressText } from '../../src/proxy/server.js';
import { runningMaster } from '../helpers/master.js';

test('log lines: [time][client] message; a replay connection writes "[replay] message"', () => {
  const at = new Date(2026, 0, 2, 3, 4, 5, 678).getTime() / 1000;
  assert.equal(formatLogLine({ id: 1, level: 'info', message: 'client connect', timestamp: at, client: '127.0.0.1:5555' }, false), '[03:04:05.678][127.0.0.1:5555] client connect');
  assert.equal(formatLogLine({ id: 2, level: 'info', message: 'HTTP(S) proxy listening at *:8080.', timestamp: at }, false), '[03:04:05.678] HTTP(S) proxy listening at *:8080.');
  assert.equal(formatLogLine({ id: 3, level: 'info', message: 'server connect 127.0.0.1:80', timestamp: at, client: '[replay]' }, false), '[03:04:05.678] [replay] server connect 127.0.0.1:80');
  // An IPv6 client is a client like any other, brackets and all.
  assert.equal(formatLogLine({ id: 4, level: 'info', message: 'client connect', timestamp: at, client: '[::1]:5555' }, false), '[03:04:05.678][[::1]:5555] client connect');
});

test('addresses as mitmproxy shows them: IPv6 in brackets, IPv4-mapped as IPv4, every interface as *, none as <no address>', () => {
  assert.equal(formatAddress(['127.0.0.1', 80]), '127.0.0.1:80');
  assert.equal(formatAddress(['::1', 80]), '[::1]:80');
  assert.equal(formatAddress(['::ffff:10.0.0.1', 80]), '10.0.0.1:80');
  assert.equal(formatAddress(['::', 8080]), '*:8080');
  assert.equal(formatAddress(['0.0.0.0', 8080]), '*:8080');
  assert.equal(formatAddress(['example.com', 443]), 'example.com:443');
  assert.equal(formatAddress(null), '<no address>');
});

test('the listening line names a listener on every interface *:port, however listen_host spells it, as mitmproxy does', () => {
  for (const host of ['', '0.0.0.0', '::', '0:0:0:0:0:0:0:0']) assert.equal(listenAddressText(host, 8080), '*:8080', JSON.stringify(host));
  assert.equal(listenAddressText('::1', 8080), '[::1]:8080');
  assert.equal(listenAddressText('127.0.0.1', 8080), '127.0.0.1:8080');
  assert.equal(listenAddressText('localhost', 8080), 'localhost:8080');
});

test("termlog_verbosity offers mitmproxy's levels in mitmproxy's order", async (t) => {
  const { master } = await runningMaster(t, new TermLog(new PassThrough()));
  assert.deepEqual(master.options.def('termlog_verbosity').choices, ['error', 'warn', 'info', 'alert', 'debug']);
});
