import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CharsetError, decodeCharset, encodeCharset } from '../../src/io/text.js';

const bytes = (...b: number[]): Buffer => Buffer.from(b);

test('windows-1252 decodes as Python cp1252, under every name Python accepts, on every Node version', () => {
  const body = Buffer.from('caf\xe9 \x80\x93quotes\x94', 'latin1');
  for (const name of ['windows-1252', 'Windows-1252', 'windows_1252', 'cp1252', 'CP1252', '1252']) {
    assert.equal(decodeCharset(body, name), 'café €“quotes”', name);
  }
  // The whole 0x80-0x9F row, and latin-1 around it.
  assert.equal(decodeCharset(bytes(0x7f, 0x8a, 0x8e, 0x98, 0x99, 0x9f, 0xa0, 0xff), 'cp1252'), '\x7fŠŽ˜™Ÿ\xa0ÿ');
  // Bodies longer than one decoding chunk.
  assert.equal(decodeCharset(Buffer.alloc(20_000, 0x80), 'windows-1252'), '€'.repeat(20_000));
});

test('windows-1252: the five bytes Python leaves undefined fail to decode', () => {
  for (const b of [0x81, 0x8d, 0x8f, 0x90, 0x9d]) {
    assert.throws(() => decodeCharset(bytes(0x61, b), 'windows-1252'), CharsetError, `0x${b.toString(16)}`);
  }
});

test('single-byte charsets encode with their table, round-trip, and refuse characters they lack', () => {
  assert.deepEqual(encodeCharset('café €“quotes”', 'windows-1252'), Buffer.from('caf\xe9 \x80\x93quotes\x94', 'latin1'));
  assert.deepEqual(encodeCharset('Привет', 'koi8-r'), bytes(0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4));
  assert.deepEqual(encodeCharset('Привет', 'KOI8_R'), bytes(0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4));
  assert.deepEqual(encodeCharset('€uro', 'iso-8859-15'), bytes(0xa4, 0x75, 0x72, 0x6f));
  assert.deepEqual(encodeCharset('€uro', 'iso8859_15'), bytes(0xa4, 0x75, 0x72, 0x6f));
  assert.deepEqual(encodeCharset('Привет', 'cp1251'), bytes(0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2));
  for (const [text, name] of [
    ['café €“quotes”', 'cp1252'],
    ['Привет', 'koi8-r'],
    ['€uro', 'latin9'],
    ['Příliš žluťoučký', 'latin2'],
    ['Привет', 'windows-1251'],
    ['Привет', 'cp866'],
    ['Ελλάδα', 'iso-8859-7'],
  ] as const) {
    assert.equal(decodeCharset(encodeCharset(text, name), name), text, name);
  }
  // A character outside the charset fails, as Python's strict encoding does.
  assert.throws(() => encodeCharset('Привет', 'windows-1252'), CharsetError);
  assert.throws(() => encodeCharset('\x81', 'windows-1252'), CharsetError);
  assert.throws(() => encodeCharset('café', 'koi8-r'), CharsetError);
  assert.throws(() => encodeCharset('😀', 'iso-8859-15'), CharsetError);
  // Names Python does not know stay unencodable, even where TextDecoder knows them.
  assert.throws(() => encodeCharset('a', 'windows-874'), CharsetError);
  assert.throws(() => encodeCharset('a', 'x-mac-cyrillic'), CharsetError);
});

test('single-byte charsets follow Python where WHATWG differs', () => {
  // WHATWG's "iso-8859-9" is windows-1254; Python's iso8859_9 has the C1 controls at 0x80-0x9F.
  assert.equal(decodeCharset(bytes(0x80, 0xd0), 'iso-8859-9'), '\x80Ğ');
  assert.deepEqual(encodeCharset('\x80Ğ', 'latin5'), bytes(0x80, 0xd0));
  assert.throws(() => encodeCharset('€', 'iso-8859-9'), CharsetError);
  // WHATWG's windows-1250 maps 0x81 to U+0081; Python's cp1250 has nothing there.
  assert.throws(() => decodeCharset(bytes(0x81), 'cp1250'), CharsetError);
  assert.throws(() => encodeCharset('\x81', 'cp1250'), CharsetError);
  // Python's koi8_u has box drawing characters at 0xAE and 0xBE (WHATWG's has ў and Ў).
  assert.equal(decodeCharset(bytes(0xae, 0xbe), 'koi8-u'), '╝╬');
});

test("Python's other names for latin-1, ascii and utf-8 take the same codecs on every Node version", () => {
  const body = Buffer.from([0x63, 0x80, 0x93, 0xe9]);
  for (const name of ['ibm819', 'csisolatin1', 'ISO_8859_1_1987', 'iso8859']) assert.equal(decodeCharset(body, name), 'c\x80\x93é', name);
  for (const name of ['us', 'cp367', 'csascii', 'ANSI_X3.4_1968']) {
    assert.equal(decodeCharset(Buffer.from('plain'), name), 'plain', name);
    assert.throws(() => decodeCharset(body, name), CharsetError, name);
  }
  assert.equal(decodeCharset(Buffer.from('é'), 'utf8_ucs2'), 'é');
  // Bytes that are not UTF-8 fail with Python's message.
  assert.throws(() => decodeCharset(Buffer.from([0x61, 0xff]), 'utf-8'), { message: "'utf-8' codec can't decode byte 0xff in position 1: invalid start byte" });
});
