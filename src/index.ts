/// <reference types="node" preserve="true" />
/**
 * mitmproxy-ts as a library: start a proxy in your process, add addons written in TypeScript,
 * and inspect flows. Names of hooks, options and commands are mitmproxy's.
 *
 *     import { startProxy, type HTTPFlow } from 'mitmproxy-ts';
 *     const proxy = await startProxy({ addons: [{ response(flow: HTTPFlow) { ... } }] });
 */
export { startProxy, ProxyStartError, type StartProxyOptions, type RunningProxy } from './start.js';
export type { ProxyServer } from './addons/proxyserver.js';
export { Master } from './master.js';
export { ctx } from './ctx.js';
export { AddonManager, AddonHalt, Loader } from './addonmanager.js';
export { OptManager, OptionsError, type OptionType, type OptionValue, type OptionValueOf, type OptionValues, type OptionDef, type ChangeListener, type AssignmentRefusedListener } from './optmanager.js';
export type { KnownOptions } from './option-types.js';
export { CommandManager, CommandError, Command, type CommandSpec, type CommandParam, type CommandType, type CommandFunction } from './command.js';
export { EventLog, type LogEntry, type LogLevel, type LogListener } from './log.js';
export type {
  Addon,
  ClientHello,
  ClientHelloData,
  ConnectionContext,
  NextLayerData,
  ServerConnectionHookData,
  Socks5AuthData,
  TlsData,
  HookName,
} from './hooks.js';
export { HOOK_NAMES } from './hooks.js';
export { LAYER_NAMES, type LayerName } from './proxy/next-layer.js';
export { Flow, FlowError, type FlowState, type FlowType, type MetadataValue, type ReplayKind } from './flow.js';
export { HTTPFlow, Request, Response, Message, type StreamSetting, type StreamChunks, type HTTPFlowState, type RequestState, type ResponseState } from './http.js';
export { Headers, type HeaderField, type HeadersInit } from './headers.js';
export { Client, Server, Connection, type Address, type TlsVersion, type ClientState, type ServerState, type Via, type TransportProtocol } from './connection.js';
export { WebSocketData, WebSocketMessage, Opcode, type WebSocketState, type WebSocketMessageState } from './websocket.js';
export { TCPFlow, TCPMessage, UDPFlow, UDPMessage, type TCPFlowState, type UDPFlowState } from './tcp.js';
export { DNSFlow, DNSMessage, DNSQuestion, DNSResourceRecord, DnsType, DnsClass, DnsOpcode, DnsRcode, type DNSFlowState, type DNSMessageState, type DNSQuestionState, type DNSResourceRecordState } from './dns.js';
export { type AnyFlow, flowFromState } from './flows.js';
export { ContentEncodingError } from './encoding.js';
export { MultiDict } from './util/multidict.js';
export { defaultAddons } from './addons/index.js';
// Web apps served inside the proxy at a host of their own (mitmproxy's asgiapp.ASGIApp / WSGIApp).
export { FetchApp, NodeApp, type FetchHandler, type HostedAppContext } from './addons/hosted-app.js';
export { DumpMaster, type DumpMasterOptions } from './tools/dump.js';
// mitmweb in a program: its master serves the REST and WebSocket API (web_host, web_port options).
export { WebMaster, createWebMaster, type WebMasterOptions } from './tools/web/master.js';
// The flow list mitmweb shows; add one to startProxy's addons for flow specs such as `@all` in commands.
export { View } from './addons/view.js';
export { VERSION } from './version.js';

// Flow filters: `parseFilter('~d example.com & ~c 200').match(flow)`.
export { type Filter, parse as parseFilter, tryParse as tryParseFilter, matchFilter, FilterError, FILTER_HELP } from './flowfilter/index.js';

// Content views: `addContentView(view)` is mitmproxy's `contentviews.add`.
export {
  addContentView,
  removeContentView,
  type ContentViewDefinition,
  type ContentViewMetadata,
  type SyntaxHighlight,
} from './contentviews/index.js';

// Flow files (.mitm in any version, HAR) and the export formats (curl, httpie, raw).
export {
  FlowReader,
  FlowReadError,
  readFlows,
  readFlowsFromPaths,
  FlowWriter,
  writeFlowsToFile,
  encodeFlow,
  type FlowSource,
  type FlowSink,
  type WriteFormat,
  makeHar,
  harToJson,
  writeHarFile,
  harToFlows,
  HarImportError,
  type HarOptions,
  exportFlow,
  exportToString,
  EXPORT_FORMATS,
  type ExportFormat,
  type ExportOptions,
} from './io/index.js';
export type { PyJson } from './io/pyjson.js';
