import { mergeRepeatedKeys, ruamelDump } from '../yaml-emit.js';
import { escapedPairs } from './urlencoded.js';
import type { ContentView } from '../types.js';
import { decodeMultipart } from '../../util/multipart.js';

export const multipart: ContentView = {
  name: 'Multipart Form',
  syntaxHighlight: 'yaml',
  render(data, metadata) {
    if (!metadata.httpMessage) throw new Error('Not an HTTP message');
    const ct = metadata.httpMessage.headers.get('content-type');
    if (ct === undefined) throw new Error("KeyError: 'content-type'");
    return ruamelDump(mergeRepeatedKeys(escapedPairs(decodeMultipart(ct, data))));
  },
  renderPriority(data, metadata) {
    return data.length > 0 && metadata.contentType === 'multipart/form-data' ? 1 : 0;
  },
};
