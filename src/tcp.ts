import { Flow, type FlowState } from './flow.js';
import type { Client, Server } from './connection.js';
import { now } from './util/time.js';

/** A chunk of bytes as read from one side of a raw TCP or UDP connection. */
export class TCPMessage {
  constructor(
    public fromClient: boolean,
    public content: Buffer,
    public timestamp: number = now(),
  ) {}

  /** `content.length` (WebSocketMessage has the same, so message lists share one meta helper). */
  get contentLength(): number {
    return this.content.length;
  }

  getState(): [boolean, Buffer, number] {
    return [this.fromClient, Buffer.from(this.content), this.timestamp];
  }

  static fromState(s: [boolean, Uint8Array, number]): TCPMessage {
    return new TCPMessage(s[0], Buffer.from(s[1]), s[2]);
  }

  toString(): string {
    return `${this.fromClient ? '->' : '<-'} ${this.content.toString('latin1')}`;
  }
}

/** UDP datagrams are recorded the same way as TCP chunks. */
export class UDPMessage extends TCPMessage {}

export interface TCPFlowState extends FlowState {
  type: 'tcp' | 'udp';
  messages: Array<[boolean, Buffer, number]>;
}

export interface UDPFlowState extends FlowState {
  type: 'udp';
  messages: Array<[boolean, Buffer, number]>;
}

/** A raw TCP connection whose bytes were relayed (not HTTP, or forced by tcp_hosts). */
export class TCPFlow extends Flow {
  readonly type: 'tcp' | 'udp' = 'tcp';
  messages: TCPMessage[] = [];

  constructor(clientConn?: Client, serverConn?: Server, live = false) {
    super(clientConn, serverConn, live);
  }

  get timestampStart(): number {
    return this.clientConn.timestampStart ?? this.timestampCreated;
  }

  override getState(): TCPFlowState {
    return { ...super.getState(), type: this.type, messages: this.messages.map((m) => m.getState()) };
  }

  override setState(state: FlowState): void {
    super.setState(state);
    this.messages = (state.messages as Array<[boolean, Uint8Array, number]>).map((m) => TCPMessage.fromState(m));
  }

  static fromState(state: FlowState): TCPFlow {
    const f = new TCPFlow();
    f.setState(state);
    return f;
  }

  override toString(): string {
    return `<TCPFlow (${this.messages.length} messages)>`;
  }
}

/** A UDP "connection" (datagrams between one client and one server). */
export class UDPFlow extends TCPFlow {
  override readonly type = 'udp' as const;

  override setState(state: FlowState): void {
    super.setState(state);
    this.messages = this.messages.map((m) => new UDPMessage(m.fromClient, m.content, m.timestamp));
  }

  static override fromState(state: FlowState): UDPFlow {
    const f = new UDPFlow();
    f.setState(state);
    return f;
  }

  override toString(): string {
    return `<UDPFlow (${this.messages.length} messages)>`;
  }
}
