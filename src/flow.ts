import { uuid4 } from './util/uuid.js';
import { isDeepStrictEqual } from 'node:util';
import { Client, Server, type ClientState, type ServerState } from './connection.js';
import { now } from './util/time.js';
import { cloneTree } from './util/own-key.js';
import { FLOW_FORMAT_VERSION } from './version.js';

/** An error attached to a flow: what went wrong and when. */
export class FlowError {
  static readonly KILLED_MESSAGE = 'Connection killed.';

  constructor(
    public msg: string,
    public timestamp: number = now(),
  ) {}

  getState(): FlowErrorState {
    return { msg: this.msg, timestamp: this.timestamp };
  }

  static fromState(s: FlowErrorState): FlowError {
    return new FlowError(s.msg, s.timestamp);
  }

  toString(): string {
    return this.msg;
  }
}

export interface FlowErrorState {
  msg: string;
  timestamp: number;
}

export type FlowType = 'http' | 'tcp' | 'udp' | 'dns';
export type ReplayKind = 'request' | 'response';

/** A value that may be stored in flow metadata and flow files (anything tnetstring can hold). */
export type MetadataValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | Buffer
  | MetadataValue[]
  | { [key: string]: MetadataValue };

/** The state dictionary keys every flow type has (flow format 21, writer order). */
export interface FlowStateBase {
  version: number;
  type: FlowType;
  id: string;
  error: FlowErrorState | null;
  client_conn: ClientState;
  server_conn: ServerState;
  intercepted: boolean;
  is_replay: ReplayKind | null;
  marked: string;
  metadata: Record<string, MetadataValue>;
  comment: string;
  timestamp_created: number;
  backup: FlowState | null;
}

/** A full flow state dictionary; the type-specific keys are described by each flow class. */
export interface FlowState extends FlowStateBase {
  [key: string]: unknown;
}

/**
 * The common part of every flow (HTTP, TCP, UDP, DNS): identity, connections, error, user
 * annotations, interception and backup/revert.
 */
export abstract class Flow {
  abstract readonly type: FlowType;

  id: string = uuid4();
  clientConn: Client;
  serverConn: Server;
  error: FlowError | null = null;
  /** Paused and waiting for `resume()` (or `kill()`). */
  intercepted = false;
  /** `"request"` for client replays, `"response"` for server-replayed responses. */
  isReplay: ReplayKind | null = null;
  /** "" when unmarked, otherwise a marker such as ":default:" or an emoji. */
  marked = '';
  comment = '';
  /** Free-form data for addons; saved in flow files. */
  metadata: Record<string, MetadataValue> = {};
  /** True while the proxy still handles this flow (false for loaded or finished flows). */
  live = false;
  /** When the flow was made, in seconds since the epoch (as every timestamp here, mitmproxy's unit): `new Date(t * 1000)`. */
  timestampCreated: number = now();

  private backupState: FlowState | null = null;
  // Created on first use: most flows are never intercepted, and a stored flow should stay small.
  private resumeWaiters: Array<() => void> | null = null;
  /** Called by `kill()` so the proxy can tear down the connection at once. */
  private killListeners: Array<() => void> | null = null;

  constructor(clientConn?: Client, serverConn?: Server, live = false) {
    this.clientConn = clientConn ?? new Client({ timestampStart: now() });
    this.serverConn = serverConn ?? new Server();
    this.live = live;
  }

  /** Whether `kill()` would do anything: the flow is live and not already killed. */
  get killable(): boolean {
    return this.live && !(this.error !== null && this.error.msg === FlowError.KILLED_MESSAGE);
  }

  get killed(): boolean {
    return this.error !== null && this.error.msg === FlowError.KILLED_MESSAGE;
  }

  /** Pause the flow after the current hook, until `resume()` or `kill()`. */
  intercept(): void {
    if (this.intercepted) return;
    this.intercepted = true;
  }

  /** Continue an intercepted flow. */
  resume(): void {
    if (!this.intercepted) return;
    this.intercepted = false;
    this.wakeWaiters();
  }

  /** Kill the flow: mark it with "Connection killed." and make the proxy drop the connection. */
  kill(): void {
    if (!this.killable) return;
    this.error = new FlowError(FlowError.KILLED_MESSAGE);
    this.intercepted = false;
    this.live = false;
    this.wakeWaiters();
    const listeners = this.killListeners;
    this.killListeners = null;
    for (const l of listeners ?? []) l();
  }

  /** Resolves once the flow is no longer intercepted (at once when it is not). */
  waitForResume(): Promise<void> {
    if (!this.intercepted) return Promise.resolve();
    return new Promise((resolve) => (this.resumeWaiters ??= []).push(resolve));
  }

  /** Register a callback that runs when the flow is killed. Returns a function that unregisters it. */
  onKill(listener: () => void): () => void {
    (this.killListeners ??= []).push(listener);
    return () => {
      const rest = this.killListeners?.filter((l) => l !== listener) ?? [];
      this.killListeners = rest.length ? rest : null;
    };
  }

  private wakeWaiters(): void {
    const waiters = this.resumeWaiters;
    this.resumeWaiters = null;
    for (const w of waiters ?? []) w();
  }

  /** Save a snapshot of the flow to revert to later; does nothing when one exists, unless `force`. */
  backup(force = false): void {
    if (this.backupState === null || force) {
      const state = this.getState();
      state.backup = null;
      this.backupState = state;
    }
  }

  /** Restore the snapshot taken by `backup()` and drop it. */
  revert(): void {
    if (this.backupState === null) return;
    const saved = this.backupState;
    this.backupState = null;
    this.setState({ ...saved, backup: null });
  }

  /** True when a backup exists and differs from the current state. */
  modified(): boolean {
    if (this.backupState === null) return false;
    const current = this.getState();
    current.backup = null;
    return !isDeepStrictEqual(current, this.backupState);
  }

  get hasBackup(): boolean {
    return this.backupState !== null;
  }

  /** A copy with a new id, not live and not intercepted. */
  copy(): this {
    const state = this.getState();
    const ctor = this.constructor as new () => this;
    const f = new ctor();
    f.setState(state);
    f.id = uuid4();
    f.live = false;
    f.intercepted = false;
    return f;
  }

  /** Flow format 21 state dictionary (writer order), the basis of flow files and backups. */
  getState(): FlowState {
    return {
      version: FLOW_FORMAT_VERSION,
      type: this.type,
      id: this.id,
      error: this.error ? this.error.getState() : null,
      client_conn: this.clientConn.getState(),
      server_conn: this.serverConn.getState(),
      intercepted: this.intercepted,
      is_replay: this.isReplay,
      marked: this.marked,
      metadata: cloneTree(this.metadata),
      comment: this.comment,
      timestamp_created: this.timestampCreated,
      backup: this.backupState,
    };
  }

  setState(state: FlowState): void {
    this.id = state.id;
    this.error = state.error ? FlowError.fromState(state.error) : null;
    // New objects, unlike the request and response (see HTTPFlow.setState): a live flow's
    // connections are shared with its other flows and the upstream pool, and an older snapshot
    // (a placeholder server, TLS not yet set up) written into them would mislead the proxy.
    this.clientConn = Client.fromState(state.client_conn);
    this.serverConn = Server.fromState(state.server_conn);
    this.intercepted = state.intercepted;
    this.isReplay = state.is_replay;
    this.marked = state.marked;
    this.metadata = cloneTree(state.metadata);
    this.comment = state.comment;
    this.timestampCreated = state.timestamp_created;
    this.backupState = state.backup ?? null;
  }

  /** The time of the last thing that happened on this flow (used for ordering and display). */
  abstract get timestampStart(): number;
}
