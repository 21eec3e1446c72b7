import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Response } from '../../src/http.js';
import { inferContentEncoding } from '../../src/io/text.js';

/** A response with this Content-Type (none when undefined) and body. */
function resp(contentType: string | undefined, body: Buffer | string): Response {
  return Response.make(200, body, contentType === undefined ? {} : { 'content-type': contentType });
}

const CAFE_UTF8 = Buffer.from('café €', 'utf8');

test('text: UTF-8 is assumed for json, html, xml, javascript and css without a declaration; latin-1 otherwise', () => {
  for (const ct of ['application/json', 'text/html', 'application/xml', 'text/xml', 'application/javascript', 'text/ecmascript', 'text/css']) {
    assert.equal(resp(ct, CAFE_UTF8).text, 'café €', ct);
  }
  assert.equal(resp('text/plain', CAFE_UTF8).text, CAFE_UTF8.toString('latin1'));
  assert.equal(resp(undefined, CAFE_UTF8).text, CAFE_UTF8.toString('latin1'));
  // The substring tests are on the header as written, as mitmproxy's are.
  assert.equal(resp('Text/HTML', CAFE_UTF8).text, CAFE_UTF8.toString('latin1'));
});

test('text: declarations in the body (html meta, xml declaration, css @charset) and the charset parameter', () => {
  const latin = (s: string): Buffer => Buffer.from(s, 'latin1');
  assert.equal(resp('text/html', latin('<meta charset="iso-8859-1"><p>caf\xe9')).text, '<meta charset="iso-8859-1"><p>café');
  assert.equal(
    resp('text/html', latin('<meta http-equiv="Content-Type" content="text/html; charset=latin-1">\xe9')).text,
    '<meta http-equiv="Content-Type" content="text/html; charset=latin-1">é',
  );
  assert.equal(resp('application/xml', latin("<?xml version='1.0' encoding='ISO-8859-1'?><a>\xe9</a>")).text, "<?xml version='1.0' encoding='ISO-8859-1'?><a>é</a>");
  assert.equal(resp('text/css', latin('@charset "latin-1";\na{content:"\xe9"}')).text, '@charset "latin-1";\na{content:"é"}');
  // The parameter wins over the content type's default.
  assert.equal(resp('application/json; charset=latin-1', CAFE_UTF8).text, CAFE_UTF8.toString('latin1'));
  assert.equal(resp('text/plain; charset=utf-8', CAFE_UTF8).text, 'café €');
  assert.equal(resp('text/plain; charset=gbk', Buffer.from([0xc4, 0xe3, 0xba, 0xc3])).text, '你好');
});

test('text: a BOM decides before anything else; UTF-16/32 with an explicit byte order keep it as U+FEFF', () => {
  const le16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<a>é</a>', 'utf16le')]);
  assert.equal(resp('text/xml; charset=latin-1', le16).text, '\ufeff<a>é</a>');
  const be16 = Buffer.from(le16).swap16();
  assert.equal(resp('text/plain', be16).text, '\ufeff<a>é</a>');
  const be32 = Buffer.alloc(4 * 3);
  [0xfeff, 0x1f600, 0x41].forEach((cp, i) => be32.writeUInt32BE(cp, i * 4));
  assert.equal(resp(undefined, be32).text, '\ufeff😀A');
  const le32 = Buffer.alloc(4 * 2);
  [0xfeff, 0xe9].forEach((cp, i) => le32.writeUInt32LE(cp, i * 4));
  assert.equal(resp('application/json', le32).text, '\ufeffé');
  // utf-8-sig drops its BOM.
  assert.equal(resp('text/plain', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), CAFE_UTF8])).text, 'café €');
  // The generic codecs read the BOM (and drop it) or assume little-endian.
  assert.equal(resp('text/plain; charset=utf-16', Buffer.from('hi', 'utf16le')).text, 'hi');
  assert.equal(resp('text/plain; charset=utf-32', Buffer.from([0x68, 0, 0, 0])).text, 'h');
});

test('text: undecodable bodies throw; getText(false) gives UTF-8 with surrogate escapes', () => {
  const bad = Buffer.from([0x3c, 0x61, 0x3e, 0xff, 0x63, 0x61, 0x66, 0xe9, 0x3c, 0x2f, 0x61, 0x3e]);
  const r = resp('application/xml', bad);
  assert.throws(() => r.text);
  assert.equal(r.getText(false), '<a>\udcffcaf\udce9</a>');
  assert.throws(() => resp('text/plain; charset=no-such-codec', CAFE_UTF8).text);
  assert.equal(resp('text/plain; charset=no-such-codec', CAFE_UTF8).getText(false), 'café €');
});

test('text setter: encodes with the charset the Content-Type implies, else UTF-8 and says so', () => {
  const html = resp('text/html', '');
  html.text = 'café';
  assert.deepEqual(html.content, Buffer.from('café', 'utf8'));
  assert.equal(html.headers.get('content-type'), 'text/html');

  const plain = resp('text/plain', '');
  plain.text = 'café';
  assert.deepEqual(plain.content, Buffer.from('café', 'latin1'));
  assert.equal(plain.text, 'café');

  plain.text = '€';
  assert.deepEqual(plain.content, Buffer.from('€', 'utf8'));
  assert.equal(plain.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.equal(plain.text, '€');

  const none = resp(undefined, '');
  none.text = '€';
  assert.equal(none.headers.get('content-type'), 'text/plain; charset=utf-8');

  const wide = resp('text/plain; charset=utf-16', '');
  wide.text = 'hé';
  assert.deepEqual(wide.content, Buffer.from([0xff, 0xfe, 0x68, 0x00, 0xe9, 0x00]));
  // Reading it back, the BOM picks utf-16le, which keeps the BOM (as in mitmproxy).
  assert.equal(wide.text, '\ufeffhé');

  // A lone surrogate escape goes back to the byte it stands for.
  const xml = resp('application/xml', '');
  xml.text = '<a>\udcff</a>';
  assert.deepEqual(xml.content, Buffer.from([0x3c, 0x61, 0x3e, 0xff, 0x3c, 0x2f, 0x61, 0x3e]));
});

test('charset declarations are found as mitmproxy\'s regexes find them, in linear time on hostile bodies', () => {
  // Values Python's re gives for mitmproxy's <meta ...charset=...> and <?xml ...encoding=...> patterns.
  const cases: Array<[string, string, string]> = [
    ['text/html', '<meta charset=a charset=">', 'a charset='],
    ['text/html', '<meta x charset="" charset=b>', 'b'],
    ['text/html', '<meta charset=a><meta charset=b>', 'a'],
    ['text/html', '<META\ncharset=q>', 'q'],
    ['text/html', '<meta charset=>', 'utf8'],
    ['text/xml', '<?xml encoding="a" encoding="b"?>', 'b'],
    ['text/xml', '<?xml encoding="" ?>', 'utf8'],
  ];
  for (const [ct, body, want] of cases) assert.equal(inferContentEncoding(ct, Buffer.from(body, 'latin1')), want, body);
  // A regex with [^>]+ rescans the rest of the body per tag: 480 kB of these took seconds each.
  for (const [ct, unit] of [['text/html', '<meta a>'], ['text/html', '<meta '], ['text/xml', '<?xml ']] as const) {
    const started = performance.now();
    assert.equal(inferContentEncoding(ct, Buffer.from(unit.repeat(480_000 / unit.length))), 'utf8');
    assert.ok(performance.now() - started < 3000, `${unit}: ${(performance.now() - started).toFixed(0)} ms`);
  }
});

test('text: windows-1252 bodies read and write as Python cp1252 (€ at 0x80), keeping the charset', () => {
  const r = resp('text/html; charset=windows-1252', Buffer.from('<p>\x80 5 \x93x\x94</p>', 'latin1'));
  assert.equal(r.text, '<p>€ 5 “x”</p>');
  r.text = '<p>10 €</p>';
  assert.equal(r.headers.get('content-type'), 'text/html; charset=windows-1252');
  assert.deepEqual(r.content, Buffer.from('<p>10 \x80</p>', 'latin1'));
  // Declared in the body instead.
  const meta = resp('text/html', Buffer.from('<meta charset="windows-1252"><p>\x80</p>', 'latin1'));
  assert.equal(meta.text, '<meta charset="windows-1252"><p>€</p>');
});

test('text setter: a single-byte charset is kept when it can hold the text', () => {
  const koi = resp('text/plain; charset=koi8-r', '');
  koi.text = 'Привет';
  assert.equal(koi.headers.get('content-type'), 'text/plain; charset=koi8-r');
  assert.deepEqual(koi.content, Buffer.from([0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4]));
  assert.equal(koi.text, 'Привет');
  // It cannot hold this: UTF-8, and the Content-Type says so.
  koi.text = 'café';
  assert.equal(koi.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.deepEqual(koi.content, Buffer.from('café', 'utf8'));
});
