import { bytesToIp, ipToBytes } from './certs/ip.js';
import { Flow, type FlowState } from './flow.js';
import { now } from './util/time.js';
import { escapeBytes } from './util/escapes.js';
import { pyStrRepr } from './io/pyrepr.js';
import type { Client, Server } from './connection.js';

/**
 * Record types, classes, opcodes and response codes by name (mitmproxy's `dns.types`,
 * `dns.classes`, `dns.op_codes`, `dns.response_codes`): `q.type === DnsType.AAAA`,
 * `flow.request.fail(DnsRcode.NXDOMAIN)`.
 */
export const DnsType = {
  // IANA's resource record TYPEs, every one that mitmproxy names (so they print as it prints them).
  A: 1, NS: 2, MD: 3, MF: 4, CNAME: 5, SOA: 6, MB: 7, MG: 8, MR: 9, NULL: 10, WKS: 11, PTR: 12, HINFO: 13, MINFO: 14,
  MX: 15, TXT: 16, RP: 17, AFSDB: 18, X25: 19, ISDN: 20, RT: 21, NSAP: 22, NSAP_PTR: 23, SIG: 24, KEY: 25, PX: 26,
  GPOS: 27, AAAA: 28, LOC: 29, NXT: 30, EID: 31, NIMLOC: 32, SRV: 33, ATMA: 34, NAPTR: 35, KX: 36, CERT: 37, A6: 38,
  DNAME: 39, SINK: 40, OPT: 41, APL: 42, DS: 43, SSHFP: 44, IPSECKEY: 45, RRSIG: 46, NSEC: 47, DNSKEY: 48, DHCID: 49,
  NSEC3: 50, NSEC3PARAM: 51, TLSA: 52, SMIMEA: 53, HIP: 55, NINFO: 56, RKEY: 57, TALINK: 58, CDS: 59, CDNSKEY: 60,
  OPENPGPKEY: 61, CSYNC: 62, ZONEMD: 63, SVCB: 64, HTTPS: 65, SPF: 99, UINFO: 100, UID: 101, GID: 102, UNSPEC: 103,
  NID: 104, L32: 105, L64: 106, LP: 107, EUI48: 108, EUI64: 109, TKEY: 249, TSIG: 250, IXFR: 251, AXFR: 252,
  MAILB: 253, MAILA: 254, ANY: 255, URI: 256, CAA: 257, AVC: 258, DOA: 259, AMTRELAY: 260, TA: 32768, DLV: 32769,
} as const;
export const DnsClass = { IN: 1, CH: 3, HS: 4, NONE: 254, ANY: 255 } as const;
export const DnsOpcode = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5, DSO: 6 } as const;
export const DnsRcode = {
  NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, YXDOMAIN: 6, YXRRSET: 7, NXRRSET: 8, NOTAUTH: 9,
  NOTZONE: 10, DSOTYPENI: 11,
} as const;

/** number -> name of one of the tables above. */
function byNumber(table: Record<string, number>): Record<number, string> {
  return Object.fromEntries(Object.entries(table).map(([name, n]) => [n, name]));
}

/** DNS record types by number (a number without a name prints as TYPE(<n>)). */
export const DNS_TYPES: Record<number, string> = byNumber(DnsType);
export const DNS_CLASSES: Record<number, string> = byNumber(DnsClass);
export const DNS_OPCODES: Record<number, string> = byNumber(DnsOpcode);
export const DNS_RCODES: Record<number, string> = byNumber(DnsRcode);

export function dnsTypeName(t: number): string {
  return DNS_TYPES[t] ?? `TYPE(${t})`;
}
export function dnsClassName(c: number): string {
  return DNS_CLASSES[c] ?? `CLASS(${c})`;
}
export function dnsRcodeName(r: number): string {
  return DNS_RCODES[r] ?? `RCODE(${r})`;
}
export function dnsOpcodeName(o: number): string {
  return DNS_OPCODES[o] ?? `OPCODE(${o})`;
}

export interface DNSQuestionState {
  name: string;
  type: number;
  class_: number;
}
export interface DNSResourceRecordState {
  name: string;
  type: number;
  class_: number;
  ttl: number;
  data: Buffer;
}
/** A DNS message state dictionary (flow format 21, writer order). */
export interface DNSMessageState {
  id: number;
  query: boolean;
  op_code: number;
  authoritative_answer: boolean;
  truncation: boolean;
  recursion_desired: boolean;
  recursion_available: boolean;
  reserved: number;
  response_code: number;
  questions: DNSQuestionState[];
  answers: DNSResourceRecordState[];
  authorities: DNSResourceRecordState[];
  additionals: DNSResourceRecordState[];
  timestamp: number | null;
}

export class DNSQuestion {
  constructor(
    public name: string,
    public type: number,
    public class_: number = 1,
  ) {}
  getState(): DNSQuestionState {
    return { name: this.name, type: this.type, class_: this.class_ };
  }
  /** The name, as mitmproxy's `str(question)`. */
  toString(): string {
    return this.name;
  }
}

export class DNSResourceRecord {
  /** The TTL of records the proxy makes up itself (resolved A/AAAA answers), as mitmproxy's. */
  static readonly DEFAULT_TTL = 60;

  constructor(
    public name: string,
    public type: number,
    public class_: number,
    public ttl: number,
    public data: Buffer,
  ) {}

  /** An IPv4 address record (mitmproxy's `ResourceRecord.A`). */
  static A(name: string, ip: string, ttl: number = DNSResourceRecord.DEFAULT_TTL): DNSResourceRecord {
    return new DNSResourceRecord(name, DnsType.A, DnsClass.IN, ttl, ipToRdata(ip, 4));
  }

  /** An IPv6 address record (mitmproxy's `ResourceRecord.AAAA`). */
  static AAAA(name: string, ip: string, ttl: number = DNSResourceRecord.DEFAULT_TTL): DNSResourceRecord {
    return new DNSResourceRecord(name, DnsType.AAAA, DnsClass.IN, ttl, ipToRdata(ip, 16));
  }

  /** A record saying that `alias` is another name of `canonical` (mitmproxy's `ResourceRecord.CNAME`). */
  static CNAME(alias: string, canonical: string, ttl: number = DNSResourceRecord.DEFAULT_TTL): DNSResourceRecord {
    return new DNSResourceRecord(alias, DnsType.CNAME, DnsClass.IN, ttl, writeName(canonical));
  }

  /** A reverse lookup record, e.g. for "1.0.0.127.in-addr.arpa" (mitmproxy's `ResourceRecord.PTR`). */
  static PTR(inaddr: string, ptr: string, ttl: number = DNSResourceRecord.DEFAULT_TTL): DNSResourceRecord {
    return new DNSResourceRecord(inaddr, DnsType.PTR, DnsClass.IN, ttl, writeName(ptr));
  }

  /** A text record (mitmproxy's `ResourceRecord.TXT`), its text stored as TXT data: see `text`. */
  static TXT(name: string, text: string, ttl: number = DNSResourceRecord.DEFAULT_TTL): DNSResourceRecord {
    return new DNSResourceRecord(name, DnsType.TXT, DnsClass.IN, ttl, writeTxt(text));
  }

  /** The data as an IPv4 address (an A record's); setting it stores the address's 4 bytes (mitmproxy's `ipv4_address`). */
  get ipv4Address(): string {
    if (this.data.length !== 4) throw new Error(`not an IPv4 address: 0x${this.data.toString('hex')}`);
    return bytesToIp(this.data);
  }
  set ipv4Address(ip: string) {
    this.data = ipToRdata(ip, 4);
  }

  /** The data as an IPv6 address (an AAAA record's); setting it stores the address's 16 bytes (mitmproxy's `ipv6_address`). */
  get ipv6Address(): string {
    if (this.data.length !== 16) throw new Error(`not an IPv6 address: 0x${this.data.toString('hex')}`);
    return bytesToIp(this.data);
  }
  set ipv6Address(ip: string) {
    this.data = ipToRdata(ip, 16);
  }

  /** The data as a domain name (an NS, CNAME or PTR record's; mitmproxy's `domain_name`). */
  get domainName(): string {
    return readName(this.data, 0, this.data).name;
  }
  set domainName(name: string) {
    this.data = writeName(name);
  }

  /**
   * The data as text (a TXT record's; mitmproxy's `text`): its character-strings joined, as UTF-8.
   * Setting it stores the text as character-strings of up to 255 bytes, so the record goes on the
   * wire as valid TXT data (mitmproxy stores the bare text, which resolvers read as garbage).
   */
  get text(): string {
    return readTxt(this.data);
  }
  set text(value: string) {
    this.data = writeTxt(value);
  }

  getState(): DNSResourceRecordState {
    return { name: this.name, type: this.type, class_: this.class_, ttl: this.ttl, data: Buffer.from(this.data) };
  }

  /**
   * The record data as mitmweb's JSON has it: an HTTPS record as an object (see `httpsRecordEntries`),
   * anything else as `dataText()`.
   */
  dataJson(): string | HttpsRecordJson {
    if (this.type === DnsType.HTTPS) {
      const entries = this.httpsEntries();
      if (entries) return Object.fromEntries(entries);
    }
    return this.dataText();
  }

  /** An HTTPS record's fields, or null when its data does not parse. */
  private httpsEntries(): Array<[string | number, string | number]> | null {
    try {
      return httpsRecordEntries(this.data);
    } catch {
      return null;
    }
  }

  /**
   * The record data as text: an IP for A/AAAA, a name for NS/CNAME/PTR, text for TXT, an HTTPS
   * record as the Python dict mitmproxy prints (`{'target_name': 'example.com', 'priority': 1, 'alpn': '\\x02h2'}`),
   * else hex.
   */
  dataText(): string {
    try {
      switch (this.type) {
        case DnsType.A:
          return this.ipv4Address;
        case DnsType.AAAA:
          return this.ipv6Address;
        case DnsType.NS:
        case DnsType.CNAME:
        case DnsType.PTR:
          return this.domainName;
        case DnsType.TXT:
          return this.text;
        case DnsType.HTTPS:
          return pyDictRepr(httpsRecordEntries(this.data));
        default:
          return `0x${this.data.toString('hex')}`;
      }
    } catch {
      return `0x${this.data.toString('hex')} (invalid ${dnsTypeName(this.type)} data)`;
    }
  }

  toString(): string {
    return this.dataText();
  }
}


/**
 * An HTTPS record's data as mitmproxy shows it (its HTTPSRecord `to_json`): `target_name`,
 * `priority`, then each SvcParam under its lowercase name (`alpn`, `ech`, ...; a key without a
 * name by its number) with its value as escaped text. As an object, numbered keys come first
 * (JavaScript orders integer keys so); the dumper's text keeps the record's order.
 */
export type HttpsRecordJson = Record<string, string | number>;

/** SvcParamKey names (RFC 9460 §14.3.2) that mitmproxy knows. */
const SVC_PARAM_NAMES: Record<number, string> = {
  0: 'mandatory', 1: 'alpn', 2: 'no_default_alpn', 3: 'port', 4: 'ipv4hint', 5: 'ech', 6: 'ipv6hint',
};

/** HTTPS record data (RFC 9460: priority, uncompressed target name, SvcParams) as ordered entries; throws when malformed. */
function httpsRecordEntries(data: Buffer): Array<[string | number, string | number]> {
  if (data.length < 3) throw new Error('bad HTTPS');
  const { name, next } = readName(data, 2, data);
  const entries: Array<[string | number, string | number]> = [
    ['target_name', name],
    ['priority', data.readUInt16BE(0)],
  ];
  const seen = new Map<string | number, number>();
  for (let pos = next; pos < data.length; ) {
    if (pos + 4 > data.length) throw new Error('bad HTTPS');
    const key = data.readUInt16BE(pos);
    const len = data.readUInt16BE(pos + 2);
    if (pos + 4 + len > data.length) throw new Error('bad HTTPS');
    const name = SVC_PARAM_NAMES[key] ?? key;
    const value = escapeBytes(data.subarray(pos + 4, pos + 4 + len));
    // A repeated key keeps its first place and its last value, as a dict does.
    const at = seen.get(name);
    if (at === undefined) {
      seen.set(name, entries.length);
      entries.push([name, value]);
    } else entries[at] = [name, value];
    pos += 4 + len;
  }
  return entries;
}

/** Python's `str()` of a dict of str/int keys and str/int values. */
function pyDictRepr(entries: Array<[string | number, string | number]>): string {
  const item = (v: string | number) => (typeof v === 'number' ? String(v) : pyStrRepr(v));
  return `{${entries.map(([k, v]) => `${item(k)}: ${item(v)}`).join(', ')}}`;
}

/** TXT data (length-prefixed character-strings) as one text: the strings' bytes joined, read as UTF-8. */
function readTxt(b: Buffer): string {
  const parts: Buffer[] = [];
  let i = 0;
  while (i < b.length) {
    const len = b[i]!;
    if (i + 1 + len > b.length) throw new Error('bad TXT');
    parts.push(b.subarray(i + 1, i + 1 + len));
    i += 1 + len;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** A character-string holds at most 255 bytes (RFC 1035 §3.3). */
const MAX_CHARACTER_STRING = 255;

/** TXT data for a text: its UTF-8 bytes as character-strings of up to 255 bytes (one empty string for ""). */
function writeTxt(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i === 0 || i < bytes.length; i += MAX_CHARACTER_STRING) {
    const chunk = bytes.subarray(i, i + MAX_CHARACTER_STRING);
    parts.push(Buffer.from([chunk.length]), chunk);
  }
  return Buffer.concat(parts);
}

/** The longest domain name on the wire, length octets and the root label included (RFC 1035 §2.3.4). */
const MAX_NAME_WIRE_LENGTH = 255;

/**
 * Read a (possibly compressed) domain name at `offset` of `msg`. A name longer than RFC 1035
 * allows is refused: compression pointers would otherwise let each 2-byte reference expand to
 * most of the message (a 64 KB datagram to some 50 MB of names).
 */
function readName(buf: Buffer, offset: number, msg: Buffer): { name: string; next: number } {
  const labels: string[] = [];
  let pos = offset;
  let next = -1;
  let jumps = 0;
  let wireLength = 1;
  for (;;) {
    if (pos >= buf.length) throw new Error('name out of bounds');
    const len = buf[pos]!;
    if (len === 0) {
      pos += 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length) throw new Error('bad pointer');
      const ptr = ((len & 0x3f) << 8) | buf[pos + 1]!;
      if (next < 0) next = pos + 2;
      if (++jumps > 64) throw new Error('pointer loop');
      buf = msg;
      pos = ptr;
      continue;
    }
    // 0x40 and 0x80 in the top bits are the obsolete extended and the reserved label types
    // (RFC 6891 §5, RFC 1035 §4.1.4), not lengths: taken as lengths they made labels of up to
    // 191 bytes that pack() then refused, after the message had been accepted.
    if (len > 63) throw new Error(`unknown label type 0x${(len & 0xc0).toString(16)}`);
    if (pos + 1 + len > buf.length) throw new Error('label out of bounds');
    wireLength += 1 + len;
    if (wireLength > MAX_NAME_WIRE_LENGTH) throw new Error(`domain name longer than ${MAX_NAME_WIRE_LENGTH} bytes`);
    labels.push(buf.subarray(pos + 1, pos + 1 + len).toString('latin1'));
    pos += 1 + len;
  }
  return { name: labels.join('.'), next: next >= 0 ? next : pos };
}

function writeName(name: string): Buffer {
  const parts: Buffer[] = [];
  for (const label of name.split('.').filter((l) => l !== '')) {
    const b = Buffer.from(label, 'latin1');
    if (b.length > 63) throw new Error(`DNS label too long: ${label}`);
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** A DNS query or response. */
export class DNSMessage {
  id = 0;
  query = true;
  opCode = 0;
  authoritativeAnswer = false;
  truncation = false;
  recursionDesired = false;
  recursionAvailable = false;
  reserved = 0;
  responseCode = 0;
  questions: DNSQuestion[] = [];
  answers: DNSResourceRecord[] = [];
  authorities: DNSResourceRecord[] = [];
  additionals: DNSResourceRecord[] = [];
  timestamp: number | null = null;

  /** The question when there is exactly one, as DNS practically always has; else undefined (mitmproxy's `question`). */
  get question(): DNSQuestion | undefined {
    return this.questions.length === 1 ? this.questions[0] : undefined;
  }

  /** Total bytes of record data in the answer, authority and additional sections. */
  get size(): number {
    let n = 0;
    for (const rr of [...this.answers, ...this.authorities, ...this.additionals]) n += rr.data.length;
    return n;
  }

  getState(): DNSMessageState {
    return {
      id: this.id,
      query: this.query,
      op_code: this.opCode,
      authoritative_answer: this.authoritativeAnswer,
      truncation: this.truncation,
      recursion_desired: this.recursionDesired,
      recursion_available: this.recursionAvailable,
      reserved: this.reserved,
      response_code: this.responseCode,
      questions: this.questions.map((q) => q.getState()),
      answers: this.answers.map((r) => r.getState()),
      authorities: this.authorities.map((r) => r.getState()),
      additionals: this.additionals.map((r) => r.getState()),
      timestamp: this.timestamp,
    };
  }

  static fromState(s: DNSMessageState): DNSMessage {
    const m = new DNSMessage();
    m.id = s.id;
    m.query = s.query;
    m.opCode = s.op_code;
    m.authoritativeAnswer = s.authoritative_answer;
    m.truncation = s.truncation;
    m.recursionDesired = s.recursion_desired;
    m.recursionAvailable = s.recursion_available;
    m.reserved = s.reserved;
    m.responseCode = s.response_code;
    m.questions = s.questions.map((q) => new DNSQuestion(q.name, q.type, q.class_));
    const rr = (r: DNSResourceRecordState) => new DNSResourceRecord(r.name, r.type, r.class_, r.ttl, Buffer.from(r.data));
    m.answers = s.answers.map(rr);
    m.authorities = s.authorities.map(rr);
    m.additionals = s.additionals.map(rr);
    m.timestamp = s.timestamp;
    return m;
  }

  /** Parse a DNS message from its wire format (RFC 1035). */
  static unpack(data: Buffer, timestamp: number | null = null): DNSMessage {
    if (data.length < 12) throw new Error('DNS message too short');
    const m = new DNSMessage();
    m.timestamp = timestamp;
    m.id = data.readUInt16BE(0);
    const flags = data.readUInt16BE(2);
    m.query = (flags & 0x8000) === 0;
    m.opCode = (flags >> 11) & 0xf;
    m.authoritativeAnswer = (flags & 0x0400) !== 0;
    m.truncation = (flags & 0x0200) !== 0;
    m.recursionDesired = (flags & 0x0100) !== 0;
    m.recursionAvailable = (flags & 0x0080) !== 0;
    m.reserved = (flags >> 4) & 0x7;
    m.responseCode = flags & 0xf;
    const counts = [data.readUInt16BE(4), data.readUInt16BE(6), data.readUInt16BE(8), data.readUInt16BE(10)];
    let pos = 12;
    for (let i = 0; i < counts[0]!; i++) {
      const { name, next } = readName(data, pos, data);
      if (next + 4 > data.length) throw new Error('question out of bounds');
      m.questions.push(new DNSQuestion(name, data.readUInt16BE(next), data.readUInt16BE(next + 2)));
      pos = next + 4;
    }
    const sections = [m.answers, m.authorities, m.additionals];
    for (let s = 0; s < 3; s++) {
      for (let i = 0; i < counts[s + 1]!; i++) {
        const { name, next } = readName(data, pos, data);
        if (next + 10 > data.length) throw new Error('record out of bounds');
        const type = data.readUInt16BE(next);
        const cls = data.readUInt16BE(next + 2);
        const ttl = data.readUInt32BE(next + 4);
        const len = data.readUInt16BE(next + 8);
        const start = next + 10;
        if (start + len > data.length) throw new Error('record data out of bounds');
        let rdata = data.subarray(start, start + len);
        // Names inside NS/CNAME/PTR data may point into the message: store them expanded.
        if (type === DnsType.NS || type === DnsType.CNAME || type === DnsType.PTR) rdata = writeName(readName(data, start, data).name);
        sections[s]!.push(new DNSResourceRecord(name, type, cls, ttl, Buffer.from(rdata)));
        pos = start + len;
      }
    }
    return m;
  }

  /** The answer to this query: NOERROR with `answers`, recursion available (mitmproxy's `succeed`). */
  succeed(answers: DNSResourceRecord[]): DNSMessage {
    return this.reply(0, answers, true);
  }

  /** A refusal of this query with an error `responseCode` such as NXDOMAIN or SERVFAIL (mitmproxy's `fail`). */
  fail(responseCode: number): DNSMessage {
    if (responseCode === 0) throw new Error('response_code must be an error code.');
    return this.reply(responseCode, [], false);
  }

  private reply(responseCode: number, answers: DNSResourceRecord[], recursionAvailable: boolean): DNSMessage {
    const m = new DNSMessage();
    m.timestamp = now();
    m.id = this.id;
    m.query = false;
    m.opCode = this.opCode;
    m.recursionDesired = this.recursionDesired;
    m.recursionAvailable = recursionAvailable;
    m.responseCode = responseCode;
    m.questions = this.questions.map((q) => new DNSQuestion(q.name, q.type, q.class_));
    m.answers = answers;
    return m;
  }

  /** The wire format of this message (no name compression). */
  pack(): Buffer {
    const head = Buffer.alloc(12);
    head.writeUInt16BE(this.id, 0);
    const flags =
      (this.query ? 0 : 0x8000) |
      ((this.opCode & 0xf) << 11) |
      (this.authoritativeAnswer ? 0x0400 : 0) |
      (this.truncation ? 0x0200 : 0) |
      (this.recursionDesired ? 0x0100 : 0) |
      (this.recursionAvailable ? 0x0080 : 0) |
      ((this.reserved & 0x7) << 4) |
      (this.responseCode & 0xf);
    head.writeUInt16BE(flags, 2);
    head.writeUInt16BE(this.questions.length, 4);
    head.writeUInt16BE(this.answers.length, 6);
    head.writeUInt16BE(this.authorities.length, 8);
    head.writeUInt16BE(this.additionals.length, 10);
    const parts: Buffer[] = [head];
    for (const q of this.questions) {
      const tail = Buffer.alloc(4);
      tail.writeUInt16BE(q.type, 0);
      tail.writeUInt16BE(q.class_, 2);
      parts.push(writeName(q.name), tail);
    }
    for (const rr of [...this.answers, ...this.authorities, ...this.additionals]) {
      const tail = Buffer.alloc(10);
      tail.writeUInt16BE(rr.type, 0);
      tail.writeUInt16BE(rr.class_, 2);
      tail.writeUInt32BE(rr.ttl >>> 0, 4);
      tail.writeUInt16BE(rr.data.length, 8);
      parts.push(writeName(rr.name), tail, rr.data);
    }
    return Buffer.concat(parts);
  }

  /**
   * As mitmproxy's `str(message)`, which `~b` and its kin search: the questions' names, then the
   * answer, authority and additional records' data, one per line (CRLF).
   */
  toString(): string {
    return [...this.questions, ...this.answers, ...this.authorities, ...this.additionals].map(String).join('\r\n');
  }
}

/**
 * The RDATA of an A or AAAA record from an IP text: its 4 or 16 bytes. With `size`, only that
 * family is accepted; the error names what was expected.
 */
export function ipToRdata(ip: string, size?: 4 | 16): Buffer {
  const bytes = ipToBytes(ip);
  if (!bytes || (size !== undefined && bytes.length !== size)) {
    throw new Error(`not an ${size === 4 ? 'IPv4' : size === 16 ? 'IPv6' : 'IP'} address: ${JSON.stringify(ip)}`);
  }
  return bytes;
}

export interface DNSFlowState extends FlowState {
  type: 'dns';
  request: DNSMessageState;
  response: DNSMessageState | null;
}

/** A DNS query and its response. */
export class DNSFlow extends Flow {
  readonly type = 'dns' as const;
  request: DNSMessage;
  response: DNSMessage | null = null;

  constructor(clientConn?: Client, serverConn?: Server, live = false, request?: DNSMessage) {
    super(clientConn, serverConn, live);
    this.request = request ?? new DNSMessage();
  }

  get timestampStart(): number {
    return this.request.timestamp ?? this.timestampCreated;
  }

  override getState(): DNSFlowState {
    return {
      ...super.getState(),
      type: 'dns',
      request: this.request.getState(),
      response: this.response ? this.response.getState() : null,
    };
  }

  override setState(state: FlowState): void {
    super.setState(state);
    const s = state as DNSFlowState;
    this.request = DNSMessage.fromState(s.request);
    this.response = s.response ? DNSMessage.fromState(s.response) : null;
  }

  static fromState(state: FlowState): DNSFlow {
    const f = new DNSFlow();
    f.setState(state);
    return f;
  }

  /** `<DNSFlow example.com A>`: what it asked, on one line. */
  override toString(): string {
    return `<DNSFlow ${this.request.questions.map((q) => `${q.name} ${dnsTypeName(q.type)}`).join(', ')}>`;
  }
}
