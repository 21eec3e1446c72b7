/*
 * The WBXML view against mitmproxy's decoder. The fixtures in test/fixtures/contentviews/wbxml/
 * were made by running mitmproxy's own WBXML decoder (Debian's mitmproxy 8.1.1, whose
 * contrib/wbxml is unchanged in mitmproxy's main branch) under Python 3.13 on hand-built inputs:
 *
 *   cd test/fixtures/contentviews/wbxml && python3.13 make-fixtures.py
 *
 * NAME.wbxml is an input and NAME.xml what mitmproxy printed for it; cases.json lists small inputs
 * with mitmproxy's output, its exception ("error"), or "hangs" when it never returned.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cutAfterNLines, getView, prettify, registry } from '../../src/contentviews/index.js';
import { PrettyXmlWriter } from '../../src/contentviews/pretty-xml-writer.js';
import { WBXML_CODE_PAGES } from '../../src/contentviews/wbxml-code-pages.js';
import { wbxmlToXml, WBXML_MAX_DEPTH } from '../../src/contentviews/wbxml-decode.js';
import { fixture, fixtureJson } from './helpers.js';

const DOCUMENTS = ['foldersync-response', 'sync-response', 'provision-response', 'itemoperations-response', 'layout'];
const SYNC = 'application/vnd.ms-sync.wbxml';
const WAP = 'application/vnd.wap.wbxml';

interface Case {
  name: string;
  hex: string;
  output?: string;
  outputLength?: number;
  outputSha256?: string;
  error?: string;
  hangs?: true;
}
const cases = fixtureJson<Case[]>('wbxml/cases.json');

function view() {
  const v = getView('wbxml');
  assert.ok(v, 'the wbxml view is registered');
  return v;
}

const header = '<?xml version="1.0" ?>\n';

/**
 * Where this view deliberately differs from mitmproxy: what mitmproxy does (checked against
 * cases.json, so the note cannot go stale) and what we print instead.
 */
const DIFFERENCES: Record<string, { mitmproxy: Partial<Case>; ours: string }> = {
  // mitmproxy means to name the tag UNKNOWN_TAG_.. but its format string raises KeyError.
  'unknown-tag': { mitmproxy: { error: "ValueError: Error: '0,2'" }, ours: `${header}<Sync>\n    <UNKNOWN_TAG_3F/>\n</Sync>\n` },
  // Code page 3 (AirNotify) has no tags left, so every tag on it is unknown.
  'airnotify-tag': { mitmproxy: { error: "ValueError: Error: '0,2'" }, ours: `${header}<UNKNOWN_TAG_05/>\n` },
  // minidom refuses "]]>" in a CDATA section; we split the section around it.
  'cdata-terminator-in-opaque': {
    mitmproxy: { error: "ValueError: Error: ']]>' not allowed in a CDATA section" },
    ours: `${header}<Sync><![CDATA[a]]]]><![CDATA[>b]]></Sync>\n`,
  },
  // mitmproxy turns every byte into one character (Latin-1); the charset is UTF-8.
  'non-ascii-text': { mitmproxy: { output: `${header}<Sync>caf\u00c3\u00a9 \u00e2\u009c\u0093</Sync>\n` }, ours: `${header}<Sync>café ✓</Sync>\n` },
  'non-ascii-opaque': { mitmproxy: { output: `${header}<Sync><![CDATA[\u00ff\u0080\u00c3]]></Sync>\n` }, ours: `${header}<Sync><![CDATA[\\xff\\x80\\xc3]]></Sync>\n` },
};

test('hand-built ActiveSync documents render exactly as mitmproxy renders them', () => {
  for (const name of DOCUMENTS) {
    const input = fixture(`wbxml/${name}.wbxml`);
    const expected = fixture(`wbxml/${name}.xml`).toString('utf8');
    assert.equal(view().render(input, { contentType: SYNC }), expected, name);
  }
});

test('small inputs: same output as mitmproxy, a failure where it fails, a failure where it hangs', () => {
  const seen = new Set<string>();
  for (const c of cases) {
    seen.add(c.name);
    const data = Buffer.from(c.hex, 'hex');
    const diff = DIFFERENCES[c.name];
    if (diff) {
      const { name: _n, hex: _h, ...recorded } = c;
      assert.deepEqual(recorded, diff.mitmproxy, `${c.name}: what mitmproxy does`);
      assert.equal(view().render(data, {}), diff.ours, c.name);
    } else if (c.output !== undefined) {
      assert.equal(view().render(data, {}), c.output, c.name);
    } else if (c.outputSha256 !== undefined) {
      const ours = view().render(data, {});
      assert.equal(ours.length, c.outputLength, c.name);
      assert.equal(createHash('sha256').update(ours).digest('hex'), c.outputSha256, c.name);
    } else {
      assert.ok(c.error !== undefined || c.hangs, c.name);
      assert.throws(() => view().render(data, {}), { name: 'ValueError' }, c.name);
    }
  }
  for (const name of Object.keys(DIFFERENCES)) assert.ok(seen.has(name), `${name} is in cases.json`);
  // The inputs mitmproxy never finishes on must be among the cases checked above.
  assert.deepEqual(cases.filter((c) => c.hangs).map((c) => c.name).sort(), ['opaque-length-cut-off', 'opaque-length-missing', 'switch-page-cut-off', 'unterminated-string']);
});

test("mitmproxy's own check: a bare header is just the declaration", () => {
  assert.equal(view().render(Buffer.from([0x03, 0x01, 0x6a, 0x00]), {}), '<?xml version="1.0" ?>\n');
});

test('error messages say what is wrong', () => {
  const bad = (hex: string): string => {
    try {
      wbxmlToXml(Buffer.from(hex, 'hex'));
    } catch (e) {
      assert.ok(e instanceof Error);
      return `${e.name}: ${e.message}`;
    }
    assert.fail(`${hex} decoded`);
  };
  assert.equal(bad(''), 'ValueError: no data');
  assert.equal(bad('0301'), 'ValueError: data ends before the charset');
  assert.equal(bad('03010400'), 'ValueError: charset 4 is not UTF-8 (106)');
  assert.equal(bad('03016a03616263'), 'ValueError: a string table (3 bytes), which ActiveSync does not use');
  assert.equal(bad('03016a00450101'), 'ValueError: END at offset 6 without an open element');
  assert.equal(bad('03016a0045c501'), 'ValueError: tag 0x05 at offset 5 has attributes, which ActiveSync does not use');
  assert.equal(bad('03016a0045830001'), 'ValueError: unsupported global token STR_T (0x83) at offset 5');
  assert.equal(bad('03016a00001945'), 'ValueError: unknown code page 25 at offset 4');
  assert.equal(bad('03016a004503616263'), 'ValueError: inline string at offset 5 has no terminating NUL byte');
  assert.equal(bad('03016a0045c381'), 'ValueError: data ends before the length of opaque data');
  assert.equal(bad('03016a004500'), 'ValueError: data ends before the code page number');
  assert.equal(bad('03016a00034100'), 'ValueError: text outside the root element');
  assert.equal(bad('03016a000506'), 'ValueError: a second root element');
  assert.equal(bad('03016a0045c3908080800001'), 'ValueError: the length of opaque data does not fit in 32 bits');
  assert.equal(bad(`03016a00${'45'.repeat(WBXML_MAX_DEPTH + 1)}`), `ValueError: elements nested deeper than ${WBXML_MAX_DEPTH} levels`);
});

test('header: any version and public id, leading zero groups in a number', () => {
  assert.equal(wbxmlToXml(Buffer.from('ff8f8f0080806a800045', 'hex')), `${header}<Sync/>\n`);
});

test('tag bytes: the page switch holds until the next one, a tag without the content bit has no END', () => {
  // Ping (page 13) > Folders > Folder > Id, Class; then FolderHierarchy (page 7) Count as a sibling.
  const data = Buffer.from('03016a00000d45' + '49' + '4a' + '4b03310001' + '4c03456d61696c0001' + '01' + '01' + '0007' + '17' + '01', 'hex');
  assert.equal(
    wbxmlToXml(data),
    `${header}<Ping>\n    <Folders>\n        <Folder>\n            <Id>1</Id>\n            <Class>Email</Class>\n        </Folder>\n    </Folders>\n    <Count/>\n</Ping>\n`,
  );
});

test('render priority: 1 for non-empty WBXML bodies, else 0; auto picks WBXML for them', () => {
  const v = view();
  const data = fixture('wbxml/sync-response.wbxml');
  assert.equal(v.renderPriority(data, { contentType: SYNC }), 1);
  assert.equal(v.renderPriority(data, { contentType: WAP }), 1);
  assert.equal(v.renderPriority(Buffer.alloc(0), { contentType: SYNC }), 0);
  assert.equal(v.renderPriority(data, { contentType: 'text/plain' }), 0);
  assert.equal(v.renderPriority(data, { contentType: 'application/octet-stream' }), 0);
  assert.equal(v.renderPriority(data, {}), 0);
  assert.equal(registry.pick(data, { contentType: SYNC }).name, 'WBXML');
  assert.equal(registry.pick(data, { contentType: WAP }).name, 'WBXML');
  assert.notEqual(registry.pick(data, {}).name, 'WBXML');
});

test('through prettify: XML highlighting, control characters as dots, Raw fallback, error text', () => {
  const sync = fixture('wbxml/sync-response.wbxml');
  const r = prettify('auto', sync, { contentType: SYNC });
  assert.deepEqual([r.viewName, r.syntaxHighlight, r.description], ['WBXML', 'xml', '']);
  assert.equal(r.text, fixture('wbxml/sync-response.xml').toString('utf8').replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '.'));
  assert.match(r.text, /<ConversationId><!\[CDATA\[\."3DABCD\.\.\]\]><\/ConversationId>/);

  const broken = Buffer.from('03016a0045020001', 'hex');
  const auto = prettify('auto', broken, { contentType: SYNC });
  assert.deepEqual([auto.viewName, auto.description], ['Raw', '[failed to parse as WBXML]']);
  const named = prettify('wbxml', broken, { contentType: SYNC });
  assert.deepEqual([named.viewName, named.syntaxHighlight], ['WBXML', 'error']);
  assert.equal(named.text, "Couldn't parse as WBXML:\nValueError: unsupported global token ENTITY (0x02) at offset 5\n");
});

test('a line cutoff gives the first lines of the full text, and a bad token after them still fails', () => {
  const data = fixture('wbxml/provision-response.wbxml');
  const full = prettify('wbxml', data, {}).text;
  for (const n of [1, 3, 10, 24, 25, 26, 100]) {
    const cut = prettify('wbxml', data, {}, { linesCutoff: n });
    assert.equal(cut.text, cutAfterNLines(full, n), `${n}`);
    assert.equal(cut.cut, cut.text !== full, `${n}`);
  }
  // The same document with an ENTITY token in its last element: the whole body is still read.
  const tail = Buffer.concat([data.subarray(0, data.length - 1), Buffer.from([0x02, 0x41, 0x01])]);
  assert.equal(prettify('wbxml', tail, {}, { linesCutoff: 3 }).syntaxHighlight, 'error');
});

test('a body built to blow up under indentation stops at the line cutoff', () => {
  // 900 open elements, then 200 000 one-byte empty elements at the bottom: each would be a line
  // of 3 600 spaces, 720 million characters in all.
  const data = Buffer.concat([Buffer.from('03016a00', 'hex'), Buffer.alloc(900, 0x45), Buffer.alloc(200_000, 0x05)]);
  const started = Date.now();
  const r = prettify('wbxml', data, {}, { linesCutoff: 512 });
  assert.equal(r.viewName, 'WBXML');
  assert.equal(r.cut, true);
  assert.ok(Date.now() - started < 5000);
});

test('the pretty writer refuses to grow past its character limit', () => {
  const w = new PrettyXmlWriter({ indent: '    ', maxChars: 100 });
  w.startElement('Sync');
  w.startElement('Collections');
  assert.throws(() => {
    for (let i = 0; i < 20; i++) w.startElement('Collection');
  }, { name: 'ValueError', message: 'the XML text would be longer than 100 characters' });
});

test('the code page table: 25 pages, tokens in 0x05..0x3F, a sample of known tags', () => {
  assert.equal(WBXML_CODE_PAGES.length, 25);
  const tag = (page: number, token: number): string | undefined => WBXML_CODE_PAGES[page]!.tags[token];
  assert.equal(tag(0, 0x05), 'Sync');
  assert.equal(tag(0, 0x11), undefined);
  assert.equal(tag(0, 0x29), 'HeartbeatInterval');
  assert.equal(tag(2, 0x17), 'CC');
  assert.equal(tag(4, 0x09), 'Attendee_Email');
  assert.equal(tag(7, 0x16), 'FolderSync');
  assert.equal(tag(14, 0x3a), 'Hash');
  assert.equal(tag(24, 0x18), 'RemoveRightsManagementDistribution');
  assert.deepEqual(WBXML_CODE_PAGES[3]!.tags.filter((t) => t !== undefined), []);
  for (const p of WBXML_CODE_PAGES) {
    assert.equal(p.tags.length, 64, p.name);
    for (let t = 0; t < 5; t++) assert.equal(p.tags[t], undefined, `${p.name} ${t}`);
  }
});
