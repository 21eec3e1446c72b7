import { HTTPFlow } from '../../http.js';
import { escapeBytes } from '../../util/escapes.js';
import type { ContentView } from '../types.js';

const ENGINE_IO = ['OPEN', 'CLOSE', 'PING', 'PONG', 'MESSAGE', 'UPGRADE', 'NOOP'];
const SOCKET_IO = ['CONNECT', 'DISCONNECT', 'EVENT', 'ACK', 'CONNECT_ERROR', 'BINARY_EVENT', 'BINARY_ACK'];

function packetType(table: string[], byte: number | undefined, cls: string): string {
  const name = byte === undefined ? undefined : table[byte - 0x30];
  if (name === undefined) throw new Error(`${byte} is not a valid ${cls}`);
  return name;
}

/**
 * Engine.IO / Socket.IO packets of a WebSocket: "EngineIO.<TYPE> <payload>" or
 * "SocketIO.<TYPE> <payload>". Pings, pongs and acknowledgements render as "".
 */
export const socketIO: ContentView = {
  name: 'Socket.IO',
  syntaxHighlight: 'none',
  render(data) {
    const engine = packetType(ENGINE_IO, data[0], 'EngineIO');
    if (engine !== 'MESSAGE') {
      if (engine === 'PING' || engine === 'PONG') return '';
      return `EngineIO.${engine} ${escapeBytes(data.subarray(1))}`;
    }
    const socket = packetType(SOCKET_IO, data[1], 'SocketIO');
    if (socket === 'ACK' || socket === 'BINARY_ACK') return '';
    return `SocketIO.${socket} ${escapeBytes(data.subarray(2))}`;
  },
  renderPriority(data, metadata) {
    const flow = metadata.flow;
    return data.length > 0 && flow instanceof HTTPFlow && flow.websocket !== null && flow.request.path.includes('/socket.io/?') ? 1 : 0;
  },
};
