/** Operators without an argument: flow type, state and annotations. */
import type { AnyFlow } from '../../flows.js';
import type { HTTPFlow } from '../../http.js';
import { FilterNode, type FilterTree } from './node.js';
import { contentTypeMatches } from './subjects.js';

/** A fixed predicate with mitmproxy's code and description. */
export abstract class FlagOperator extends FilterNode {
  abstract readonly code: string;
  abstract readonly description: string;
  toString(): string {
    return this.description;
  }
  toExpression(): string {
    return `~${this.code}`;
  }
  toTree(): FilterTree {
    return [`~${this.code}`];
  }
}

export class AllFlows extends FlagOperator {
  readonly code = 'all';
  readonly description = 'all flows';
  match(): boolean {
    return true;
  }
}

/** `~q`: no response yet (HTTP and DNS only; not "is a request"). */
export class HasNoResponse extends FlagOperator {
  readonly code = 'q';
  readonly description = 'has no response';
  match(flow: AnyFlow): boolean {
    return (flow.type === 'http' || flow.type === 'dns') && !flow.response;
  }
}

export class HasResponse extends FlagOperator {
  readonly code = 's';
  readonly description = 'has response';
  match(flow: AnyFlow): boolean {
    return (flow.type === 'http' || flow.type === 'dns') && !!flow.response;
  }
}

export class HasError extends FlagOperator {
  readonly code = 'e';
  readonly description = 'has error';
  match(flow: AnyFlow): boolean {
    return !!flow.error;
  }
}

export class IsHttp extends FlagOperator {
  readonly code = 'http';
  readonly description = 'is an HTTP Flow';
  match(flow: AnyFlow): boolean {
    return flow.type === 'http';
  }
}

export class IsWebSocket extends FlagOperator {
  readonly code = 'websocket';
  readonly description = 'is a Websocket Flow';
  match(flow: AnyFlow): boolean {
    return flow.type === 'http' && flow.websocket !== null && flow.websocket !== undefined;
  }
}

export class IsTcp extends FlagOperator {
  readonly code = 'tcp';
  readonly description = 'is a TCP Flow';
  match(flow: AnyFlow): boolean {
    return flow.type === 'tcp';
  }
}

export class IsUdp extends FlagOperator {
  readonly code = 'udp';
  readonly description = 'is a UDP Flow';
  match(flow: AnyFlow): boolean {
    return flow.type === 'udp';
  }
}

export class IsDns extends FlagOperator {
  readonly code = 'dns';
  readonly description = 'is a DNS Flow';
  match(flow: AnyFlow): boolean {
    return flow.type === 'dns';
  }
}

export class IsMarked extends FlagOperator {
  readonly code = 'marked';
  readonly description = 'is marked';
  match(flow: AnyFlow): boolean {
    return !!flow.marked;
  }
}

export class IsReplay extends FlagOperator {
  readonly code = 'replay';
  readonly description = 'flow has been replayed';
  match(flow: AnyFlow): boolean {
    return flow.isReplay !== null && flow.isReplay !== undefined;
  }
}

export class IsClientReplay extends FlagOperator {
  readonly code = 'replayq';
  readonly description = 'request has been replayed';
  match(flow: AnyFlow): boolean {
    return flow.isReplay === 'request';
  }
}

export class IsServerReplay extends FlagOperator {
  readonly code = 'replays';
  readonly description = 'response has been replayed';
  match(flow: AnyFlow): boolean {
    return flow.isReplay === 'response';
  }
}

/**
 * `~a`: the response has a Content-Type of a static asset. Always case-sensitive (mitmproxy
 * compiles this list without IGNORECASE); a search, so `x-image/png` counts too. A `.*` tail
 * can match nothing, so `image/` alone decides, as in mitmproxy's `image/.*`.
 */
const ASSET_TYPES = /text\/javascript|application\/x-javascript|application\/javascript|text\/css|image\/|font\/|application\/font/;

export class IsAsset extends FlagOperator {
  readonly code = 'a';
  readonly description = 'is asset';
  match(flow: AnyFlow): boolean {
    if (flow.type !== 'http') return false;
    const response = (flow as HTTPFlow).response;
    return !!response && contentTypeMatches(response.headers, ASSET_TYPES);
  }
}
