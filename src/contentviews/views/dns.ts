import { DNSMessage, dnsClassName, dnsOpcodeName, dnsRcodeName, dnsTypeName, type DNSResourceRecord } from '../../dns.js';
import { ruamelDump, YamlMap } from '../yaml-emit.js';
import type { ContentView, ContentViewMetadata } from '../types.js';

function record(rr: DNSResourceRecord): YamlMap {
  return new YamlMap([
    ['name', rr.name],
    ['type', dnsTypeName(rr.type)],
    ['class', dnsClassName(rr.class_)],
    ['ttl', rr.ttl],
    ['data', rr.dataText()],
  ]);
}

/** The fields mitmweb shows for a DNS message, without status_code and timestamp. */
export function dnsMessageYaml(m: DNSMessage): YamlMap {
  return new YamlMap([
    ['id', m.id],
    ['query', m.query],
    ['op_code', dnsOpcodeName(m.opCode)],
    ['authoritative_answer', m.authoritativeAnswer],
    ['truncation', m.truncation],
    ['recursion_desired', m.recursionDesired],
    ['recursion_available', m.recursionAvailable],
    ['response_code', dnsRcodeName(m.responseCode)],
    ['questions', m.questions.map((q) => new YamlMap([['name', q.name], ['type', dnsTypeName(q.type)], ['class', dnsClassName(q.class_)]]))],
    ['answers', m.answers.map(record)],
    ['authorities', m.authorities.map(record)],
    ['additionals', m.additionals.map(record)],
    ['size', m.size],
  ]);
}

/**
 * DNS over TCP carries a two-byte length first. mitmproxy strips two bytes for TCP and for HTTP
 * messages alike; a DoH body (application/dns-message) has no such prefix, so for HTTP the two
 * bytes are only removed when they do hold the length of the rest.
 */
function stripLengthPrefix(data: Buffer, metadata: ContentViewMetadata): Buffer {
  if (metadata.tcpMessage) return data.subarray(2);
  if (metadata.httpMessage && data.length >= 2 && data.readUInt16BE(0) === data.length - 2) return data.subarray(2);
  return data;
}

export const dns: ContentView = {
  name: 'DNS',
  syntaxHighlight: 'yaml',
  render(data, metadata) {
    return ruamelDump(dnsMessageYaml(DNSMessage.unpack(stripLengthPrefix(data, metadata))));
  },
  renderPriority(_data, metadata) {
    if (metadata.contentType === 'application/dns-message') return 1;
    const port = metadata.flow?.serverConn.address?.[1];
    return port === 53 || port === 5353 ? 1 : 0;
  },
};
