import { decodeProtobufToYaml } from '../protobuf-wire.js';
import { decodeWithType } from '../protobuf-typed.js';
import { findBestMatch, type MessageType } from '../proto-definitions.js';
import { dumpYaml } from '../yaml-emit.js';
import type { ContentView, ContentViewMetadata } from '../types.js';

/**
 * One protobuf message as YAML (mitmproxy's layout), or the note for an empty message. With a
 * type from protobuf_definitions fields are named; without one they are numbered and guessed.
 */
export function renderProtobufMessage(data: Buffer, type?: MessageType): string {
  if (data.length === 0) return '{}  # empty protobuf message';
  return dumpYaml(type ? decodeWithType(data, type) : decodeProtobufToYaml(data), 'serde');
}

/**
 * Render with the message type protobuf_definitions picks for this body; when the data does not
 * fit that type, render everything without it, as mitmproxy does. Broken definitions throw.
 */
export function renderWithDefinitions(metadata: ContentViewMetadata, render: (type?: MessageType) => string): string {
  const type = findBestMatch(metadata);
  if (type) {
    try {
      return render(type);
    } catch {
      // Not this type: fall through to the schema-less rendering.
    }
  }
  return render();
}

export const protobuf: ContentView = {
  name: 'Protobuf',
  syntaxHighlight: 'yaml',
  render(data, metadata) {
    return renderWithDefinitions(metadata, (type) => renderProtobufMessage(data, type));
  },
  renderPriority(_data, metadata) {
    return metadata.contentType === 'application/x-protobuf' || metadata.contentType === 'application/x-protobuffer' ? 1 : 0;
  },
};
