import { gunzipSync, inflateRawSync } from 'node:zlib';
import { renderProtobufMessage, renderWithDefinitions } from './protobuf.js';
import type { ContentView } from '../types.js';

const CONTENT_TYPES = new Set(['application/grpc', 'application/grpc+proto', 'application/prpc']);

/** The length-prefixed messages of a gRPC body: a compressed flag, a 4-byte length, the message. */
export function splitGrpcFrames(data: Buffer, encoding: string): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < data.length) {
    const flag = data[pos]!;
    if (flag !== 0 && flag !== 1) throw new Error('invalid gRPC: first byte is not a boolean');
    if (pos + 5 > data.length) throw new Error('invalid gRPC: not enough bytes');
    const len = data.readUInt32BE(pos + 1);
    if (pos + 5 + len > data.length) throw new Error('Invalid gRPC: not enough data');
    let message = data.subarray(pos + 5, pos + 5 + len);
    if (flag === 1) {
      if (encoding === 'gzip') message = gunzipSync(message);
      else if (encoding === 'deflate') message = inflateRawSync(message);
      else if (encoding !== 'identity') throw new Error(`unsupported compression: ${encoding}`);
    }
    out.push(message);
    pos += 5 + len;
  }
  return out;
}

export const grpc: ContentView = {
  name: 'gRPC',
  syntaxHighlight: 'yaml',
  render(data, metadata) {
    const encoding = metadata.httpMessage?.headers.get('grpc-encoding') ?? '';
    // One type for all frames of the body: if any frame does not fit it, none uses it. The frames
    // are split (and decompressed) once, when first needed: a fallback renders them again.
    let frames: Buffer[] | undefined;
    return renderWithDefinitions(metadata, (type) =>
      (frames ??= splitGrpcFrames(data, encoding)).map((m) => renderProtobufMessage(m, type)).join('\n---\n\n'),
    );
  },
  renderPriority(_data, metadata) {
    return metadata.contentType !== undefined && CONTENT_TYPES.has(metadata.contentType) ? 1 : 0;
  },
};
