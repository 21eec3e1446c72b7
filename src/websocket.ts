import { inspect, type InspectOptionsStylized } from 'node:util';
import { now } from './util/time.js';
import { MessageLog, type PayloadRange } from './websocket-message-log.js';

const EMPTY = Buffer.alloc(0);

/** WebSocket opcodes that carry data. */
export enum Opcode {
  CONTINUATION = 0,
  TEXT = 1,
  BINARY = 2,
  CLOSE = 8,
  PING = 9,
  PONG = 10,
}

/** One WebSocket message as saved: `[type, from_client, content, timestamp, dropped, injected]`. */
export type WebSocketMessageState = [number, boolean, Buffer, number, boolean, boolean];

/** A complete (defragmented) WebSocket message. */
export class WebSocketMessage {
  /** TEXT or BINARY. */
  type: Opcode;
  fromClient: boolean;
  /** When the message arrived, in seconds since the epoch (mitmproxy's unit). */
  timestamp: number;
  /** Set by `drop()`: the message is recorded but not forwarded. */
  dropped: boolean;
  /** The message was injected by the proxy (an addon or the inject.websocket command). */
  injected: boolean;
  /**
   * The payload as a Buffer, or null while it is a range of a slab shared with other messages
   * (see `WebSocketMessage.inSlab`).
   */
  #content: Buffer | null;
  #slab: Buffer | null = null;
  #start = 0;
  #end = 0;

  constructor(type: Opcode, fromClient: boolean, content: Buffer | string, timestamp: number = now(), dropped = false, injected = false) {
    this.type = type;
    this.fromClient = fromClient;
    this.#content = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    this.timestamp = timestamp;
    this.dropped = dropped;
    this.injected = injected;
  }

  /**
   * A message whose payload is `slab[start, end)`, as the relay records them. A long conversation
   * keeps every message for the lifetime of its flow, and a Buffer per message (each with memory
   * of its own: the socket chunk it came in) made a recorded message cost about twice its size in
   * memory. A range of a slab that many messages share costs only its bytes.
   */
  static inSlab(type: Opcode, fromClient: boolean, slab: Buffer, start: number, end: number, timestamp: number, injected = false): WebSocketMessage {
    const m = new WebSocketMessage(type, fromClient, EMPTY, timestamp, false, injected);
    m.#content = null;
    m.#slab = slab;
    m.#start = start;
    m.#end = end;
    return m;
  }

  /**
   * The message payload; text messages are UTF-8 bytes. For a message kept in a slab each read
   * makes a new Buffer over the same bytes (not kept, so that the message stays small): changes
   * made in place are seen by the next read, and `content = ...` replaces the payload.
   */
  get content(): Buffer {
    return this.#content ?? this.#slab!.subarray(this.#start, this.#end);
  }
  set content(value: Buffer) {
    this.#content = value;
    this.#slab = null;
  }

  /** `content.length`, without making a Buffer. */
  get contentLength(): number {
    return this.#content === null ? this.#end - this.#start : this.#content.length;
  }

  /** `content` is an accessor, which JSON and console output would leave out: they show it as a field. */
  toJSON(): { type: Opcode; fromClient: boolean; content: Buffer; timestamp: number; dropped: boolean; injected: boolean } {
    return { type: this.type, fromClient: this.fromClient, content: this.content, timestamp: this.timestamp, dropped: this.dropped, injected: this.injected };
  }

  [inspect.custom](_depth: number, options: InspectOptionsStylized, show: typeof inspect): string {
    return `WebSocketMessage ${show(this.toJSON(), options)}`;
  }

  get isText(): boolean {
    return this.type === Opcode.TEXT;
  }

  /** The content as text (text messages are UTF-8). */
  get text(): string {
    return this.content.toString('utf8');
  }
  set text(value: string) {
    this.content = Buffer.from(value, 'utf8');
  }

  /** Do not forward this message. */
  drop(): void {
    this.dropped = true;
  }

  getState(): WebSocketMessageState {
    return [this.type, this.fromClient, Buffer.from(this.content), this.timestamp, this.dropped, this.injected];
  }

  static fromState(s: WebSocketMessageState): WebSocketMessage {
    const [type, fromClient, content, timestamp, dropped, injected] = s;
    return new WebSocketMessage(type, fromClient, Buffer.from(content), timestamp, dropped ?? false, injected ?? false);
  }

  toString(): string {
    return this.isText ? this.text : this.content.toString('hex');
  }
}

/** The `websocket` part of a flow state (flow format 21, writer order). */
export interface WebSocketState {
  messages: WebSocketMessageState[];
  closed_by_client: boolean | null;
  close_code: number | null;
  close_reason: string | null;
  timestamp_end: number | null;
}

/** The WebSocket conversation that follows an HTTP upgrade. */
export class WebSocketData {
  /**
   * Every message so far, in order, as mitmproxy's `flow.websocket.messages`: a plain array that
   * addons may read, change and keep. Reading it the first time turns the recorded messages into
   * objects; from then on the relay adds each new message to this same array.
   */
  declare messages: WebSocketMessage[];
  /** null while the connection is open. */
  closedByClient: boolean | null = null;
  closeCode: number | null = null;
  closeReason: string | null = null;
  timestampEnd: number | null = null;
  /**
   * The messages as objects, once someone has asked for `messages` (or set it); until then the
   * messages the relay recorded are in `#log` only (see MessageLog for why).
   */
  #messages: WebSocketMessage[] | null = null;
  /** Made when the relay records the first message (a flow read from a file never needs one). */
  #log: MessageLog | null = null;

  /**
   * `messages` is an own, enumerable property, as the plain field it used to be: Object.keys,
   * spreading, structuredClone and deep-equality checks see the messages. One descriptor (one
   * getter and setter) for every instance, so that they all share a hidden class.
   */
  static readonly #messagesProperty: PropertyDescriptor = {
    get(this: WebSocketData): WebSocketMessage[] {
      return this.#allMessages();
    },
    set(this: WebSocketData, value: WebSocketMessage[]): void {
      this.#log?.clear();
      this.#messages = value;
    },
    enumerable: true,
    configurable: true,
  };

  constructor() {
    Object.defineProperty(this, 'messages', WebSocketData.#messagesProperty);
  }

  #allMessages(): WebSocketMessage[] {
    if (this.#messages === null) {
      const log = this.#log;
      const n = log?.length ?? 0;
      const messages: WebSocketMessage[] = new Array<WebSocketMessage>(n);
      for (let i = 0; i < n; i++) messages[i] = messageOver(log!.type(i), log!.fromClient(i), log!.payload(i, true), log!.timestamp(i));
      log?.clear();
      this.#messages = messages;
    }
    return this.#messages;
  }

  /** How many messages there are, without making objects of them. */
  get messageCount(): number {
    return this.#messages === null ? (this.#log?.length ?? 0) : this.#messages.length;
  }

  /**
   * Message `index`, to read: the object in `messages` once that exists, else one made for this
   * call from the recorded data. Changing such a message (its fields, `content`, or its content's
   * bytes, mostly a copy of the recorded ones) is not kept; change `messages` instead.
   */
  messageAt(index: number): WebSocketMessage | undefined {
    if (this.#messages !== null) return this.#messages[index];
    return Number.isInteger(index) && index >= 0 && index < (this.#log?.length ?? 0) ? this.#fromLog(index) : undefined;
  }

  /** The messages in order, to read (see `messageAt`), without making the `messages` array. */
  *readMessages(): Generator<WebSocketMessage, void, undefined> {
    for (let i = 0; i < this.messageCount; i++) yield this.messageAt(i)!;
  }

  /**
   * Whether `test` answers true for some message, given its direction and content (the recorded
   * bytes, as a view or a copy: see MessageLog.content): what filters ask, without making a
   * message object per message.
   */
  someMessage(test: (fromClient: boolean, content: Buffer) => boolean): boolean {
    if (this.#messages !== null) return this.#messages.some((m) => test(m.fromClient, m.content));
    const log = this.#log;
    for (let i = 0; i < (log?.length ?? 0); i++) if (test(log!.fromClient(i), log!.content(i))) return true;
    return false;
  }

  /** The last message's timestamp (null without messages), without making an object of it. */
  get lastTimestamp(): number | null {
    if (this.#messages !== null) return this.#messages.at(-1)?.timestamp ?? null;
    const log = this.#log;
    return log && log.length > 0 ? log.timestamp(log.length - 1) : null;
  }

  /** The sum of the messages' content lengths. */
  totalContentLength(): number {
    let n = 0;
    const log = this.#log;
    if (this.#messages === null) for (let i = 0; i < (log?.length ?? 0); i++) n += log!.contentLength(i);
    else for (const m of this.#messages) n += m.contentLength;
    return n;
  }

  /**
   * For the relay: record a message that no addon can change or drop (every `websocket_message`
   * handler only reads): into the log while no one has asked for `messages`, else as an object at
   * the end of that array.
   */
  recordReadOnly(type: Opcode, fromClient: boolean, content: Buffer, timestamp: number): void {
    const log = (this.#log ??= new MessageLog());
    if (this.#messages === null) {
      log.append(type, fromClient, content, timestamp);
      return;
    }
    this.#messages.push(messageOver(type, fromClient, log.store(content), timestamp));
  }

  #fromLog(i: number): WebSocketMessage {
    const log = this.#log!;
    return messageOver(log.type(i), log.fromClient(i), log.payload(i), log.timestamp(i));
  }

  /** JSON and console output show the messages without making the `messages` array. */
  toJSON(): { messages: WebSocketMessage[]; closedByClient: boolean | null; closeCode: number | null; closeReason: string | null; timestampEnd: number | null } {
    return {
      messages: [...this.readMessages()],
      closedByClient: this.closedByClient,
      closeCode: this.closeCode,
      closeReason: this.closeReason,
      timestampEnd: this.timestampEnd,
    };
  }

  [inspect.custom](_depth: number, options: InspectOptionsStylized, show: typeof inspect): string {
    return `WebSocketData ${show(this.toJSON(), options)}`;
  }

  getState(): WebSocketState {
    const messages: WebSocketMessageState[] = [];
    for (const m of this.readMessages()) messages.push(m.getState());
    return {
      messages,
      closed_by_client: this.closedByClient,
      close_code: this.closeCode,
      close_reason: this.closeReason,
      timestamp_end: this.timestampEnd,
    };
  }

  /**
   * Take over a saved state, in place: a live conversation's relay keeps recording into this
   * object, so a flow reverted (or otherwise set from a state) while its WebSocket is open goes
   * on growing, as in mitmproxy, whose set_state updates the existing object too.
   */
  setState(s: WebSocketState): void {
    this.messages = s.messages.map((m) => WebSocketMessage.fromState(m));
    this.closedByClient = s.closed_by_client;
    this.closeCode = s.close_code;
    this.closeReason = s.close_reason;
    this.timestampEnd = s.timestamp_end;
  }

  static fromState(s: WebSocketState): WebSocketData {
    const d = new WebSocketData();
    d.setState(s);
    return d;
  }
}

/** A message whose content is `payload`: the buffer itself when the payload fills it, else a range of it (a slab). */
function messageOver(type: Opcode, fromClient: boolean, payload: PayloadRange, timestamp: number): WebSocketMessage {
  const { buffer, start, end } = payload;
  if (start === 0 && end === buffer.length) return new WebSocketMessage(type, fromClient, buffer, timestamp);
  return WebSocketMessage.inSlab(type, fromClient, buffer, start, end, timestamp);
}
