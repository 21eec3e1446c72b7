import type { FlowState } from './flow.js';
import { HTTPFlow } from './http.js';
import { TCPFlow, UDPFlow } from './tcp.js';
import { DNSFlow } from './dns.js';

/** Every kind of flow the proxy records. */
export type AnyFlow = HTTPFlow | TCPFlow | UDPFlow | DNSFlow;

/** Build the right flow object for a (current-format) state dictionary. */
export function flowFromState(state: FlowState): AnyFlow {
  switch (state.type) {
    case 'http':
      return HTTPFlow.fromState(state);
    case 'tcp':
      return TCPFlow.fromState(state);
    case 'udp':
      return UDPFlow.fromState(state);
    case 'dns':
      return DNSFlow.fromState(state);
    default:
      throw new Error(`Unknown flow type: ${String((state as { type: unknown }).type)}`);
  }
}
