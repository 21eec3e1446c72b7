import { escapeBytes } from '../../util/escapes.js';
import type { ContentView } from '../types.js';

const NAMES = ['reserved', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'SUBSCRIBE', 'SUBACK', 'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'reserved'];
const CONNECT = 1;
const PUBLISH = 3;
const SUBSCRIBE = 8;
const PINGREQ = 12;
const PINGRESP = 13;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A two-byte length and that many bytes at `offset`: [bytes consumed, content]. */
function lengthPrefixed(p: Buffer, offset: number): [number, Buffer] {
  if (offset + 2 > p.length) throw new Error('unpack requires a buffer of 2 bytes');
  const len = p.readUInt16BE(offset);
  return [len + 2, p.subarray(offset + 2, offset + 2 + len)];
}

function remainingLength(p: Buffer): number {
  let multiplier = 1;
  let value = 0;
  for (let i = 1; ; i++) {
    const b = p[i];
    if (b === undefined) throw new Error('index out of range');
    value += (b & 127) * multiplier;
    multiplier *= 128;
    // mitmproxy's limit: a four-byte length is rejected too.
    if (multiplier > 128 * 128 * 128) throw new Error('Malformed Remaining Length');
    if ((b & 128) === 0) return value;
  }
}

/** One MQTT 3.1.1 control packet, summarised in mitmproxy's words. */
export function describeMqtt(p: Buffer): string {
  if (p.length === 0) throw new Error('index out of range');
  const type = p[0]! >> 4;
  const name = NAMES[type]!;
  const qos = (p[0]! >> 1) & 0x03;
  const rl = remainingLength(p);
  const start = p.length - rl;
  if (type === CONNECT) {
    const flags = p[start + 7];
    if (flags === undefined) throw new Error('index out of range');
    const will = (flags & 0x04) !== 0;
    const hasPassword = (flags & 0x40) !== 0;
    const hasUser = (flags & 0x80) !== 0;
    const fields: Buffer[] = [];
    for (let off = start + 10; p.length - off > 0; ) {
      const [n, content] = lengthPrefixed(p, off);
      fields.push(content);
      off += n;
    }
    const payload: { ClientId?: string; WillTopic?: string; WillMessage?: Buffer; UserName?: string; Password?: Buffer } = {};
    for (const f of fields) {
      if (payload.ClientId === undefined) payload.ClientId = utf8.decode(f);
      else if (will && payload.WillTopic === undefined) payload.WillTopic = utf8.decode(f);
      else if (will && payload.WillMessage === undefined) payload.WillMessage = f;
      else if (hasUser && payload.UserName === undefined) payload.UserName = utf8.decode(f);
      else if (hasPassword && payload.Password === undefined) payload.Password = f;
      else throw new Error(`Unknown field in CONNECT payload: ${escapeBytes(f)}`);
    }
    if (payload.ClientId === undefined) throw new Error('CONNECT without payload');
    return (
      `[CONNECT]\n\nClient Id: ${payload.ClientId}\nWill Topic: ${payload.WillTopic ?? 'None'}\n` +
      `Will Message: ${escapeBytes(payload.WillMessage ?? Buffer.from('None'))}\nUser Name: ${payload.UserName ?? 'None'}\n` +
      `Password: ${escapeBytes(payload.Password ?? Buffer.from('None'))}\n`
    );
  }
  if (type === PUBLISH) {
    const [, topic] = lengthPrefixed(p, start);
    const payload = p.subarray(start + 2 + topic.length + (qos === 1 || qos === 2 ? 2 : 0));
    if (payload.length === 0) throw new Error('PUBLISH without payload');
    return `[PUBLISH] '${escapeBytes(payload)}' to topic '${escapeBytes(topic)}'`;
  }
  if (type === SUBSCRIBE) {
    const filters: string[] = [];
    for (let off = start + 2; p.length - off > 0; ) {
      const [n, tf] = lengthPrefixed(p, off);
      off += n + 1; // the requested QoS byte follows
      const s = utf8.decode(tf);
      if (!filters.includes(s)) filters.push(s);
    }
    return `[SUBSCRIBE] sent topic filters: ${filters.map((f) => `'${f}'`).join(', ')}`;
  }
  if (type === PINGREQ || type === PINGRESP) return `[${name}]`;
  return `Packet type ${name} is not supported yet!`;
}

export const mqtt: ContentView = {
  name: 'MQTT',
  syntaxHighlight: 'none',
  render(data) {
    return describeMqtt(data);
  },
  renderPriority() {
    return 0;
  },
};
