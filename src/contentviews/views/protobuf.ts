import { decodeProtobufToYaml } from '../protobuf-wire.js';
import { dumpYaml } from '../yaml-emit.js';
import type { ContentView } from '../types.js';

/** One protobuf message as YAML (mitmproxy's layout), or the note for an empty message. */
export function renderProtobufMessage(data: Buffer): string {
  if (data.length === 0) return '{}  # empty protobuf message';
  return dumpYaml(decodeProtobufToYaml(data), 'serde');
}

export const protobuf: ContentView = {
  name: 'Protobuf',
  syntaxHighlight: 'yaml',
  render(data) {
    return renderProtobufMessage(data);
  },
  renderPriority(_data, metadata) {
    return metadata.contentType === 'application/x-protobuf' || metadata.contentType === 'application/x-protobuffer' ? 1 : 0;
  },
};
