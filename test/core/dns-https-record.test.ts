import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DNSFlow, DNSMessage, DNSQuestion, DNSResourceRecord, DnsClass, DnsType } from '../../src/dns.js';
import { Client, Server } from '../../src/connection.js';
import { flowJsonText, flowToJson } from '../../src/tools/web/flowjson.js';

/** HTTPS record data: priority, target name as labels, then SvcParams (key, length, value). */
function httpsData(priority: number, target: string[], params: Array<[number, Buffer]>): Buffer {
  const parts: Buffer[] = [Buffer.from([priority >> 8, priority & 0xff])];
  for (const label of target) parts.push(Buffer.from([label.length]), Buffer.from(label));
  parts.push(Buffer.from([0]));
  for (const [key, value] of params) parts.push(Buffer.from([key >> 8, key & 0xff, value.length >> 8, value.length & 0xff]), value);
  return Buffer.concat(parts);
}

function https(data: Buffer): DNSResourceRecord {
  return new DNSResourceRecord('example.com', DnsType.HTTPS, DnsClass.IN, 32, data);
}

test('an HTTPS record prints as the dict mitmproxy shows, every SvcParam by name with its value escaped', () => {
  const params: Array<[number, Buffer]> = [0, 1, 2, 3, 4, 5, 6].map((k) => [k, k === 2 ? Buffer.alloc(0) : Buffer.from([k - (k > 2 ? 1 : 0)])]);
  const rr = https(httpsData(1, ['example', 'com'], params));
  assert.equal(
    rr.dataText(),
    String.raw`{'target_name': 'example.com', 'priority': 1, 'mandatory': '\\x00', 'alpn': '\\x01', 'no_default_alpn': '', 'port': '\\x02', 'ipv4hint': '\\x03', 'ech': '\\x04', 'ipv6hint': '\\x05'}`,
  );
  assert.equal(String(rr), rr.dataText());
});

test('an HTTPS record is an object in mitmweb JSON: root target, readable alpn, unknown keys by number', () => {
  const alpn = Buffer.from('\x02h2\x02h3', 'latin1');
  const rr = https(httpsData(42, [], [[1, alpn], [3, Buffer.from([1, 0xbb])], [7, Buffer.from('/dns-query')]]));
  assert.deepEqual(rr.dataJson(), { target_name: '', priority: 42, alpn: '\\x02h2\\x02h3', port: '\\x01\\xbb', 7: '/dns-query' });
  assert.equal(rr.dataText(), String.raw`{'target_name': '', 'priority': 42, 'alpn': '\\x02h2\\x02h3', 'port': '\\x01\\xbb', 7: '/dns-query'}`);

  const request = new DNSMessage();
  request.questions = [new DNSQuestion('example.com', DnsType.HTTPS)];
  const flow = new DNSFlow(new Client({ peername: ['127.0.0.1', 5353] }), new Server({ address: null }), false, request);
  flow.response = request.succeed([rr]);
  const json = flowToJson(flow) as { response: { answers: Array<{ data: unknown }> } };
  assert.deepEqual(json.response.answers[0]!.data, rr.dataJson());
  const served = JSON.parse(flowJsonText(flow, false)) as typeof json;
  assert.deepEqual(served.response.answers[0]!.data, rr.dataJson());
});

test('HTTPS record data that does not parse stays hex, marked invalid, in both forms', () => {
  const rr = https(Buffer.from([0, 1, 0, 0, 1, 0, 9, 0x68]));
  assert.equal(rr.dataText(), '0x0001000001000968 (invalid HTTPS data)');
  assert.equal(rr.dataJson(), rr.dataText());
});
