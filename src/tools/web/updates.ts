/**
 * The `/updates` WebSocket (web-api.md §5): every change to the view, the event log, the options
 * and the servers is pushed to each connected client as one text frame `{"type", "payload"}`.
 *
 * Pushes are queued per connection and sent in short batches. Within a batch, the messages for
 * one flow are merged into one (add+update = add with the latest state, update+update = the latest
 * update, add+remove = nothing, remove+add = update), at the position of the first, and the flow
 * JSON is built once per batch however many clients there are. A reset makes everything queued
 * before it obsolete (the client fetches the view again), and a batch with more flow messages
 * than a client could usefully process one by one becomes a single reset. The batch window grows
 * while traffic is heavy and shrinks back when it calms down. So a burst of thousands of flows
 * costs each client a handful of frames, never one frame per hook.
 *
 * A reset makes the front end read the whole view again (`GET /flows`), which for a large view
 * costs the proxy far more than the batch it replaces (2.4 s of serialising for 100 000 flows).
 * Under sustained heavy traffic every batch overflows, so resets caused by overflow are paced:
 * the next one waits until a few times the duration of the last full `GET /flows` has passed.
 * Without the pacing, reading the view again after each 1 s batch is quadratic in the number of
 * flows and starves the proxy itself. Resets the user caused (clear, a filter or order change)
 * are never held back, and only the reset waits: log entries, option and state changes go on.
 */
import type { IncomingMessage } from 'node:http';
import type WebSocket from 'ws';
import type { AnyFlow } from '../../flows.js';
import { parse, type Filter } from '../../flowfilter/index.js';
import type { Master } from '../../master.js';
import type { View } from '../../addons/view.js';
import { flowJsonText, type ConnJsonMemo } from './flowjson.js';
import { unmappedAddress } from '../../certs/ip.js';
import { jsonString, pyJson, type JsonValue } from './json.js';

export type FlowMessageType = 'flows/add' | 'flows/update' | 'flows/remove';

/** Batch window bounds (ms). */
const MIN_WINDOW_MS = 20;
const MAX_WINDOW_MS = 1000;
/** A batch sending more frames than this (or overflowing) doubles the window. */
const BUSY_FRAMES = 50;
/**
 * More flow messages than this in one batch for one client: send a reset instead. The front end
 * copies its flow list for every message it applies, so a few hundred messages already cost it
 * more than reading the view once.
 */
export const FLOW_OVERFLOW = 250;
/** More queued events than this: send `events/reset` instead. */
const EVENT_OVERFLOW = 1000;
/** A client with this much unsent data gets nothing new until it catches up (its queue keeps merging). */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** Overflow resets come at most once per this many times the duration of the last `GET /flows`... */
const RESET_PACING_FACTOR = 4;
/** ...and never less often than this (ms), however slow that read was. */
const MAX_RESET_HOLD_MS = 30_000;

/** JSON built once per batch, shared by every client (all of it made without yielding). */
interface FlushBatch {
  flows: Map<AnyFlow, string>;
  conns: ConnJsonMemo;
}

function newBatch(): FlushBatch {
  return { flows: new Map(), conns: new Map() };
}

type QueueItem =
  | { kind: 'flow'; flow: AnyFlow; type: FlowMessageType | null }
  | { kind: 'raw'; data: string; isEvent: boolean }
  | { kind: 'reset' }
  | { kind: 'eventsReset' };

/** One `/updates` client. */
export class UpdatesConnection {
  /** Filters the client registered with `flows/updateFilter`, by name. */
  readonly filters = new Map<string, Filter>();
  private queue: QueueItem[] = [];
  /** Pending flow messages since the last reset or filter reply, by flow id. */
  private pending = new Map<string, QueueItem & { kind: 'flow' }>();
  private pendingEvents = 0;
  closed = false;
  /** A batch was turned into a reset since the last flush (traffic is heavy). */
  overflowed = false;
  /** A `flows/reset` waits in the queue. */
  private resetQueued = false;
  /** The queued reset only stands for messages that overflowed a batch: it may be paced. */
  private resetPaced = false;
  /** When (performance.now()) the last `flows/reset` went out to this client. */
  private lastResetSent = -Infinity;
  /** An `events/reset` waits in the queue. */
  private eventsResetQueued = false;

  constructor(
    readonly ws: WebSocket,
    private readonly hub: UpdatesHub,
    readonly remote: string,
  ) {}

  get hasQueued(): boolean {
    return this.queue.length > 0;
  }

  /** Queue a flow message, merged with what is already queued for the flow. */
  enqueueFlow(type: FlowMessageType, flow: AnyFlow): void {
    // A queued reset makes the client read the whole view after this batch: it covers this change.
    if (this.resetQueued) return;
    const p = this.pending.get(flow.id);
    if (p) {
      if (type === 'flows/remove') p.type = p.type === 'flows/add' ? null : 'flows/remove';
      else if (type === 'flows/add') p.type = p.type === 'flows/remove' ? 'flows/update' : p.type === null ? 'flows/add' : p.type;
      else p.type = p.type === 'flows/add' ? 'flows/add' : 'flows/update';
      p.flow = flow;
      return;
    }
    if (this.pending.size >= FLOW_OVERFLOW) {
      this.overflowed = true;
      this.enqueueReset(true);
      return;
    }
    const item = { kind: 'flow' as const, flow, type: type as FlowMessageType | null };
    this.pending.set(flow.id, item);
    this.queue.push(item);
  }

  /**
   * Queue `flows/reset` (followed, when sent, by a fresh `flows/filterUpdate` per filter).
   * `paced`: the reset only replaces a batch that overflowed, so it may wait (see the file header);
   * a reset for a change the user made is sent with the next batch, and takes a paced one along.
   */
  enqueueReset(paced = false): void {
    this.resetPaced = this.resetQueued ? this.resetPaced && paced : paced;
    // Everything queued about flows is obsolete: the client reads the whole view again.
    this.queue = this.queue.filter((i) => i.kind !== 'flow' && i.kind !== 'reset');
    this.pending.clear();
    this.queue.push({ kind: 'reset' });
    this.resetQueued = true;
  }

  /** Whether the queue waits for a paced reset's time to come (see the file header). */
  private get holdingReset(): boolean {
    return this.resetQueued && this.resetPaced && performance.now() - this.lastResetSent < this.hub.resetHoldMs;
  }

  enqueueRaw(data: string, isEvent = false): void {
    if (isEvent) {
      // The client reads the whole event log after a queued reset: that includes this entry.
      if (this.eventsResetQueued) return;
      if (this.pendingEvents >= EVENT_OVERFLOW) {
        this.overflowed = true;
        this.enqueueEventsReset();
        return;
      }
      this.pendingEvents++;
    }
    this.queue.push({ kind: 'raw', data, isEvent });
  }

  enqueueEventsReset(): void {
    this.queue = this.queue.filter((i) => !(i.kind === 'raw' && i.isEvent) && i.kind !== 'eventsReset');
    this.pendingEvents = 0;
    this.queue.push({ kind: 'eventsReset' });
    this.eventsResetQueued = true;
  }

  /** A `flows/filterUpdate` with the ids of the view's flows that match `filter` (null: removed). */
  private filterUpdateMessage(name: string, filter: Filter | null): string {
    let ids = 'null';
    if (filter) {
      const parts: string[] = [];
      for (const f of this.hub.view) if (filter.match(f)) parts.push(jsonString(f.id, false));
      ids = `[${parts.join(', ')}]`;
    }
    return `{"type": "flows/filterUpdate", "payload": {"name": ${jsonString(name, false)}, "matching_flow_ids": ${ids}}}`;
  }

  /** Handle `flows/updateFilter`: store or drop the filter, reply at once (after anything queued). */
  updateFilter(name: string, expr: string): void {
    let filter: Filter | null = null;
    if (expr) {
      filter = parse(expr);
      this.filters.set(name, filter);
    } else {
      this.filters.delete(name);
    }
    this.queue.push({ kind: 'raw', data: this.filterUpdateMessage(name, filter), isEvent: false });
    // The reply is computed from the view as it is now; later flow messages must come after it.
    this.pending.clear();
    // The user waits for this reply: it goes now, with a paced reset queued before it if need be.
    this.flush(newBatch(), true);
  }

  private matchingFilters(flow: AnyFlow): string {
    if (this.filters.size === 0) return '{}';
    const parts: string[] = [];
    for (const [name, filter] of this.filters) parts.push(`${jsonString(name, false)}: ${filter.match(flow) ? 'true' : 'false'}`);
    return `{${parts.join(', ')}}`;
  }

  /**
   * Send what is queued. `batch` shares each flow's JSON between the clients of one batch.
   * Returns the number of frames sent. `force` sends a paced reset before its time.
   */
  flush(batch: FlushBatch, force = false): number {
    if (this.closed || this.queue.length === 0) return 0;
    if (this.ws.bufferedAmount > MAX_BUFFERED_BYTES) return 0;
    let items = this.queue;
    if (!force && this.holdingReset) {
      // Only the reset waits (no flow message is queued behind it): log entries, option and
      // state changes have nothing to do with the view and go now, or the user would not see
      // an option they just changed for as long as the reset is held.
      if (items.length === 1) return 0;
      items = items.filter((i) => i.kind !== 'reset');
      this.queue = [{ kind: 'reset' }];
    } else {
      this.queue = [];
      this.pending.clear();
      this.resetQueued = false;
      this.resetPaced = false;
    }
    this.pendingEvents = 0;
    this.eventsResetQueued = false;
    let frames = 0;
    for (const item of items) {
      let data: string;
      switch (item.kind) {
        case 'raw':
          data = item.data;
          break;
        case 'eventsReset':
          data = '{"type": "events/reset"}';
          break;
        case 'reset':
          this.lastResetSent = performance.now();
          this.send('{"type": "flows/reset"}');
          frames++;
          for (const [name, filter] of this.filters) {
            this.send(this.filterUpdateMessage(name, filter));
            frames++;
          }
          continue;
        case 'flow': {
          if (item.type === null) continue;
          if (item.type === 'flows/remove') {
            data = `{"type": "flows/remove", "payload": ${jsonString(item.flow.id, false)}}`;
            break;
          }
          let json = batch.flows.get(item.flow);
          if (json === undefined) {
            json = flowJsonText(item.flow, false, batch.conns);
            batch.flows.set(item.flow, json);
          }
          data = `{"type": "${item.type}", "payload": {"flow": ${json}, "matching_filters": ${this.matchingFilters(item.flow)}}}`;
          break;
        }
      }
      this.send(data);
      frames++;
    }
    return frames;
  }

  private send(data: string): void {
    if (this.closed) return;
    this.ws.send(data, (err) => {
      if (err) this.hub.drop(this);
    });
  }

  /** Process a message from the client; any error closes the socket with 1011. */
  onMessage(data: string): void {
    try {
      const msg = JSON.parse(data) as unknown;
      if (typeof msg !== 'object' || msg === null) throw new Error('message is not an object');
      const { type, payload } = msg as { type?: unknown; payload?: unknown };
      if (type === undefined) throw new Error("missing key 'type'");
      if (type !== 'flows/updateFilter') throw new Error(`Unsupported command: ${String(type)}`);
      if (typeof payload !== 'object' || payload === null) throw new Error("missing key 'payload'");
      const { name, expr } = payload as { name?: unknown; expr?: unknown };
      if (typeof name !== 'string') throw new Error("payload.name must be a string");
      if (typeof expr !== 'string') throw new Error("payload.expr must be a string");
      this.updateFilter(name, expr);
    } catch (e) {
      this.hub.master.log.error(`Error processing message from ${this.remote}: ${(e as Error).message}`);
      this.close(1011, 'Internal server error.');
    }
  }

  close(code?: number, reason?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.pending.clear();
    try {
      this.ws.close(code, reason);
    } catch {
      this.ws.terminate();
    }
    this.hub.drop(this);
  }
}

/** All `/updates` clients and the batching timer. */
export class UpdatesHub {
  readonly connections = new Set<UpdatesConnection>();
  private timer: NodeJS.Timeout | null = null;
  private windowMs = MIN_WINDOW_MS;
  /** How long the last full `GET /flows` took (ms): what each reset costs the proxy again. */
  private viewReadMs = 0;

  constructor(
    readonly master: Master,
    readonly view: View,
  ) {}

  /** Take over an accepted WebSocket. */
  attach(ws: WebSocket, req: IncomingMessage): UpdatesConnection {
    const remote = `${unmappedAddress(req.socket.remoteAddress ?? '?')}:${req.socket.remotePort ?? '?'}`;
    const conn = new UpdatesConnection(ws, this, remote);
    this.connections.add(conn);
    ws.on('message', (data, isBinary) => conn.onMessage(isBinary ? Buffer.from(data as Buffer).toString('utf8') : String(data)));
    ws.on('close', () => {
      conn.closed = true;
      this.drop(conn);
    });
    ws.on('error', () => conn.close());
    return conn;
  }

  /** `GET /flows` read the whole view in `ms`: overflow resets are paced by it. */
  noteViewRead(ms: number): void {
    this.viewReadMs = ms;
  }

  /** The least time between two overflow resets to one client (ms). */
  get resetHoldMs(): number {
    return Math.min(MAX_RESET_HOLD_MS, RESET_PACING_FACTOR * this.viewReadMs);
  }

  drop(conn: UpdatesConnection): void {
    this.connections.delete(conn);
  }

  private schedule(): void {
    if (this.timer || this.connections.size === 0) return;
    this.timer = setTimeout(() => this.flushAll(), this.windowMs);
    this.timer.unref?.();
  }

  /** Send every connection's queue now. */
  flushAll(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = newBatch();
    let busy = false;
    let waiting = false;
    for (const c of this.connections) {
      const frames = c.flush(batch);
      if (frames > BUSY_FRAMES || c.overflowed) busy = true;
      c.overflowed = false;
      if (c.hasQueued) waiting = true;
    }
    // A client that could not take its queue (held reset, backpressure) is checked again at a slower pace.
    this.windowMs = busy || waiting ? Math.min(this.windowMs * 2, MAX_WINDOW_MS) : Math.max(MIN_WINDOW_MS, Math.floor(this.windowMs / 2));
    // Clients that were too far behind keep their (merged) queue for the next round.
    if (waiting) this.schedule();
  }

  broadcastFlow(type: FlowMessageType, flow: AnyFlow): void {
    if (this.connections.size === 0) return;
    for (const c of this.connections) c.enqueueFlow(type, flow);
    this.schedule();
  }

  broadcastReset(): void {
    if (this.connections.size === 0) return;
    for (const c of this.connections) c.enqueueReset();
    this.schedule();
  }

  /** A message without flow semantics (`events/add`, `options/update`, `state/update`). */
  broadcast(type: string, payload?: JsonValue): void {
    if (this.connections.size === 0) return;
    const data = payload === undefined ? `{"type": ${jsonString(type, false)}}` : `{"type": ${jsonString(type, false)}, "payload": ${pyJson(payload, false)}}`;
    const isEvent = type === 'events/add';
    for (const c of this.connections) c.enqueueRaw(data, isEvent);
    this.schedule();
  }

  broadcastEventsReset(): void {
    if (this.connections.size === 0) return;
    for (const c of this.connections) c.enqueueEventsReset();
    this.schedule();
  }

  /** Close every client (on shutdown). */
  closeAll(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const c of [...this.connections]) c.close(1001, 'Server shutting down.');
  }
}
