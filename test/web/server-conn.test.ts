/**
 * The server connection of UDP and forwarded DNS flows in `/flows`: like a TCP one, it carries the
 * connected socket's addresses (`peername`, `sockname`), which the front end's Connection tab shows
 * as "Resolved address" and "Source address". As in mitmproxy, `timestamp_tcp_setup` is set for
 * TCP only.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { startWeb, type TestWeb, waitUntil } from './helpers.js';

type FlowJson = Record<string, any>;

/** A UDP socket on 127.0.0.1 that answers every datagram with `answer(datagram)`. */
async function udpServer(t: TestContext, answer: (msg: Buffer) => Buffer): Promise<number> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, rinfo) => socket.send(answer(msg), rinfo.port, rinfo.address));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  t.after(() => socket.close());
  return socket.address().port;
}

/** A DNS answer to `query`: the query itself with the response bit set (no records). */
function dnsAnswer(query: Buffer): Buffer {
  const answer = Buffer.from(query);
  answer[2] = answer[2]! | 0x80;
  return answer;
}

/** A one-question DNS query (A record of `name`) with id `id`. */
function dnsQuery(id: number, name: string): Buffer {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const header = Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}

/** Prefix a DNS message with its 2-byte length, as DNS over TCP does. */
function framed(message: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(message.length);
  return Buffer.concat([len, message]);
}

/** Send one datagram from a fresh socket on 127.0.0.1 and wait for the first answer. */
async function udpExchange(t: TestContext, port: number, data: Buffer): Promise<Buffer> {
  const client = dgram.createSocket('udp4');
  t.after(() => client.close());
  const answer = new Promise<Buffer>((resolve) => client.once('message', (m) => resolve(m)));
  client.send(data, port, '127.0.0.1');
  return answer;
}

async function flowsOfType(w: TestWeb, type: string, count: number): Promise<FlowJson[]> {
  return waitUntil(async () => {
    const flows = (await w.api('/flows')).json<FlowJson[]>().filter((f) => f.type === type);
    return flows.length >= count ? flows : undefined;
  }, `${count} ${type} flow(s)`);
}

function assertConnected(conn: FlowJson, port: number, tcp: boolean): void {
  assert.deepEqual(conn.address, ['127.0.0.1', port]);
  assert.deepEqual(conn.peername, ['127.0.0.1', port], 'peername: the address the socket is connected to');
  assert.equal(conn.sockname[0], '127.0.0.1');
  assert.ok(conn.sockname[1] > 0, 'sockname: our end of the socket');
  assert.equal(typeof conn.timestamp_start, 'number');
  if (tcp) assert.ok(conn.timestamp_tcp_setup >= conn.timestamp_start, 'set up after it was started');
  else assert.equal(conn.timestamp_tcp_setup, null);
}

test('a UDP flow (reverse:udp) has the server socket addresses', async (t) => {
  const target = await udpServer(t, (msg) => Buffer.concat([Buffer.from('echo:'), msg]));
  const w = await startWeb(t, { options: { mode: [`reverse:udp://127.0.0.1:${target}`] } });
  assert.equal((await udpExchange(t, w.proxyPort, Buffer.from('hello'))).toString(), 'echo:hello');
  const flow = (await waitUntil(async () => {
    const [f] = await flowsOfType(w, 'udp', 1);
    return f!.messages_meta.count === 2 ? f : undefined;
  }, 'both datagrams in the flow'))!;
  assertConnected(flow.server_conn, target, false);
});

test('a forwarded DNS query (reverse:dns, over UDP and TCP) has the server socket addresses', async (t) => {
  const udpTarget = await udpServer(t, dnsAnswer);
  // A DNS server over TCP (length-prefixed messages), for the query asked over TCP.
  const tcpServer = net.createServer((socket) => {
    let got = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) socket.end(framed(dnsAnswer(got.subarray(2, 2 + got.readUInt16BE(0)))));
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => tcpServer.listen(0, '127.0.0.1', () => r()));
  t.after(() => tcpServer.close());
  const tcpTarget = (tcpServer.address() as net.AddressInfo).port;

  const w = await startWeb(t, { options: { mode: [`reverse:dns://127.0.0.1:${udpTarget}`] } });
  const answer = await udpExchange(t, w.proxyPort, dnsQuery(0x1234, 'example.test'));
  assert.equal(answer.readUInt16BE(0), 0x1234);
  const [viaUdp] = await flowsOfType(w, 'dns', 1);
  assert.equal(viaUdp!.response.id, 0x1234);
  assertConnected(viaUdp!.server_conn, udpTarget, false);

  // Over TCP: a second mode forwarding to the TCP server.
  assert.equal((await w.api('/options', { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ mode: [`reverse:dns://127.0.0.1:${tcpTarget}`] }) })).status, 200);
  const state = (await w.api('/state')).json<{ servers: Record<string, { listen_addrs: [string, number][] }> }>();
  const port = Object.values(state.servers)[0]!.listen_addrs[0]![1];
  const socket = net.connect(port, '127.0.0.1');
  t.after(() => socket.destroy());
  socket.write(framed(dnsQuery(0x4321, 'example.test')));
  await new Promise<void>((resolve, reject) => {
    socket.once('data', () => resolve());
    socket.once('error', reject);
  });
  const flows = await flowsOfType(w, 'dns', 2);
  const viaTcp = flows.find((f) => f.request.id === 0x4321)!;
  assertConnected(viaTcp.server_conn, tcpTarget, true);
});
