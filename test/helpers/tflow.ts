/**
 * The request and response of mitmproxy's test flows (its test/tflow.py `treq` and `tresp`):
 * `GET http://address:22/path` with body "content", answered `200 OK` with body "message". The
 * filter test flows and the web API fixtures are both built on them; timestamps are the caller's.
 */
import { Request, Response } from '../../src/http.js';

export type RequestFields = ConstructorParameters<typeof Request>[0];
export type ResponseFields = ConstructorParameters<typeof Response>[0];

/** A fresh copy of the test request's fields (headers `header: qvalue`, `content-length: 7`). */
export function testRequestFields(): RequestFields {
  return {
    host: 'address',
    port: 22,
    method: 'GET',
    scheme: 'http',
    authority: '',
    path: '/path',
    httpVersion: 'HTTP/1.1',
    headers: [
      ['header', 'qvalue'],
      ['content-length', '7'],
    ],
    content: Buffer.from('content'),
  };
}

/** A fresh copy of the test response's fields (headers `header-response: svalue`, `content-length: 7`). */
export function testResponseFields(): ResponseFields {
  return {
    statusCode: 200,
    reason: 'OK',
    httpVersion: 'HTTP/1.1',
    headers: [
      ['header-response', 'svalue'],
      ['content-length', '7'],
    ],
    content: Buffer.from('message'),
  };
}
