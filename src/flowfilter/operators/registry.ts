/**
 * Every `~` operator: its code, kind, help text and how to build it. The order of the three
 * groups follows mitmproxy's lists (argument-less, regex, integer); help output is sorted.
 */
import type { FilterNode } from './node.js';
import * as flags from './flags.js';
import * as rx from './regex.js';
import { StatusCodeIs } from './code.js';

export type OperatorSpec =
  | { readonly kind: 'flag'; readonly code: string; readonly help: string; readonly make: () => FilterNode }
  | {
      readonly kind: 'regex';
      readonly code: string;
      readonly help: string;
      readonly make: (expr: string, options: rx.RegexOperatorOptions) => FilterNode;
    }
  | { readonly kind: 'int'; readonly code: string; readonly help: string; readonly make: (digits: string) => FilterNode };

type RegexCtor = new (expr: string, options: rx.RegexOperatorOptions) => FilterNode;

const flag = (code: string, help: string, ctor: new () => FilterNode): OperatorSpec => ({ kind: 'flag', code, help, make: () => new ctor() });
const regex = (code: string, help: string, ctor: RegexCtor): OperatorSpec => ({
  kind: 'regex',
  code,
  help,
  make: (expr, options) => new ctor(expr, options),
});

export const OPERATORS: readonly OperatorSpec[] = [
  flag('a', 'Match asset in response: CSS, JavaScript, images, fonts.', flags.IsAsset),
  flag('e', 'Match error', flags.HasError),
  flag('http', 'Match HTTP flows', flags.IsHttp),
  flag('marked', 'Match marked flows', flags.IsMarked),
  flag('replay', 'Match replayed flows', flags.IsReplay),
  flag('replayq', 'Match replayed client request', flags.IsClientReplay),
  flag('replays', 'Match replayed server response', flags.IsServerReplay),
  flag('q', 'Match request with no response', flags.HasNoResponse),
  flag('s', 'Match response', flags.HasResponse),
  flag('tcp', 'Match TCP flows', flags.IsTcp),
  flag('udp', 'Match UDP flows', flags.IsUdp),
  flag('dns', 'Match DNS flows', flags.IsDns),
  flag('websocket', 'Match WebSocket flows', flags.IsWebSocket),
  flag('all', 'Match all flows', flags.AllFlows),
  regex('b', 'Body', rx.BodyMatches),
  regex('bq', 'Request body', rx.RequestBodyMatches),
  regex('bs', 'Response body', rx.ResponseBodyMatches),
  regex('t', 'Content-type header', rx.ContentTypeMatches),
  regex('tq', 'Request Content-Type header', rx.RequestContentTypeMatches),
  regex('ts', 'Response Content-Type header', rx.ResponseContentTypeMatches),
  regex('d', 'Domain', rx.DomainMatches),
  regex('dst', 'Match destination address', rx.DestinationMatches),
  regex('h', 'Header', rx.HeaderMatches),
  regex('hq', 'Request header', rx.RequestHeaderMatches),
  regex('hs', 'Response header', rx.ResponseHeaderMatches),
  regex('m', 'Method', rx.MethodMatches),
  regex('src', 'Match source address', rx.SourceMatches),
  regex('u', 'URL', rx.UrlMatches),
  regex('meta', 'Flow metadata', rx.MetadataMatches),
  regex('marker', 'Match marked flows with specified marker', rx.MarkerMatches),
  regex('comment', 'Flow comment', rx.CommentMatches),
  { kind: 'int', code: 'c', help: 'HTTP response code', make: (digits) => new StatusCodeIs(digits) },
];

/** Operators by keyword, `~` included (`~q`, `~bq`, ...). */
export const OPERATORS_BY_KEYWORD: ReadonlyMap<string, OperatorSpec> = new Map(OPERATORS.map((op) => [`~${op.code}`, op]));
