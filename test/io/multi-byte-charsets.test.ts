/**
 * Encoding text with the multi-byte charsets Node only decodes (Shift_JIS, EUC-JP, ISO-2022-JP,
 * EUC-KR, GBK, gb18030, Big5). The expected bytes were made with Python 3.11's codecs
 * (`text.encode(codec).hex()`), which mitmproxy uses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Response } from '../../src/http.js';
import { CharsetError } from '../../src/io/charset-error.js';
import { decodeCharset, encodeCharset } from '../../src/io/text.js';

test("multi-byte charsets encode as Python's codecs do", () => {
  for (const [enc, text, hex] of [
    ['shift_jis', '日本語のテキスト、ｶﾀｶﾅ and ASCII ~\\', '93fa967b8cea82cc8365834c835883678141b6c0b6c520616e64204153434949207e5c'],
    ['euc_jp', '日本語のテキスト、ｶﾀｶﾅ and ASCII', 'c6fccbdcb8eca4cea5c6a5ada5b9a5c8a1a28eb68ec08eb68ec520616e64204153434949'],
    ['iso-2022-jp', 'ASCII 日本語 text', '4153434949201b2442467c4b5c386c1b28422074657874'],
    ['gb2312', '中文简体', 'd6d0cec4bcf2cce5'],
    ['gb18030', '中文简体', 'd6d0cec4bcf2cce5'],
    ['big5', '繁體中文，測試', 'c163c5e9a4a4a4e5a141b4fab8d5'],
    ['euc_kr', '한국어 텍스트', 'c7d1b1b9beee20c5d8bdbac6ae'],
    ['sjis', 'line one\nline two', Buffer.from('line one\nline two').toString('hex')],
  ] as const) {
    assert.equal(encodeCharset(text, enc).toString('hex'), hex, enc);
  }
});

test('a character the charset lacks fails with Python\'s message', () => {
  assert.throws(() => encodeCharset('a☃', 'shift_jis'), new CharsetError("'shift_jis' codec can't encode character '\\u2603' in position 1: illegal multibyte sequence"));
  assert.throws(() => encodeCharset('😀', 'gbk'), new CharsetError("'gbk' codec can't encode character '\\U0001f600' in position 0: illegal multibyte sequence"));
  // ISO-2022-JP has no half-width katakana, and cannot carry an escape byte as text.
  assert.throws(() => encodeCharset('ｶ', 'iso-2022-jp'), CharsetError);
  assert.throws(() => encodeCharset('\x1b', 'iso-2022-jp'), CharsetError);
});

test('every character Node decodes from these charsets encodes back to bytes that decode to it', () => {
  const fatal = (enc: string, b: Buffer): string | null => {
    try {
      return decodeCharset(b, enc);
    } catch {
      return null;
    }
  };
  for (const enc of ['shift_jis', 'euc-jp', 'euc-kr', 'gbk', 'big5']) {
    let checked = 0;
    for (let lead = 0x81; lead <= 0xfe; lead++) {
      for (let trail = 0x40; trail <= 0xfe; trail++) {
        const text = fatal(enc, Buffer.from([lead, trail]));
        if (text === null || [...text].length !== 1) continue;
        assert.equal(decodeCharset(encodeCharset(text, enc), enc), text, `${enc} ${lead.toString(16)}${trail.toString(16)}`);
        checked++;
      }
    }
    assert.ok(checked > 7000, `${enc}: ${checked} characters`);
  }
});

test('setting the text of a Shift_JIS page keeps it Shift_JIS (no fallback to UTF-8)', () => {
  const r = Response.make(200, Buffer.from('93fa967b', 'hex'), { 'content-type': 'text/html; charset=Shift_JIS' });
  assert.equal(r.text, '日本');
  r.text = `${r.text}語`;
  assert.equal(r.content!.toString('hex'), '93fa967b8cea');
  assert.equal(r.headers.get('content-type'), 'text/html; charset=Shift_JIS');
  // A character Shift_JIS lacks still falls back to UTF-8, with the header changed, as mitmproxy.
  r.text = '☃';
  assert.equal(r.content!.toString(), '☃');
  assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
});
