import { decodeMsgpackToYaml } from '../msgpack-decode.js';
import { dumpYaml } from '../yaml-emit.js';
import type { ContentView } from '../types.js';

/** MessagePack shown as YAML. */
export const msgpack: ContentView = {
  name: 'MsgPack',
  syntaxHighlight: 'yaml',
  render(data) {
    return dumpYaml(decodeMsgpackToYaml(data), 'serde');
  },
  renderPriority(_data, metadata) {
    return metadata.contentType === 'application/msgpack' || metadata.contentType === 'application/x-msgpack' ? 1 : 0;
  },
};
