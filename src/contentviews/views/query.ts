import { Request } from '../../http.js';
import { mergeRepeatedKeys, ruamelDump } from '../yaml-emit.js';
import type { ContentView } from '../types.js';

/** The query parameters of a request without a body (what mitmdump shows for a GET with a query). */
export const query: ContentView = {
  name: 'Query',
  syntaxHighlight: 'yaml',
  render(_data, metadata) {
    if (!(metadata.httpMessage instanceof Request)) throw new Error('Not an HTTP request.');
    return ruamelDump(mergeRepeatedKeys(metadata.httpMessage.query.fields));
  },
  renderPriority(data, metadata) {
    const m = metadata.httpMessage;
    return data.length === 0 && m instanceof Request && m.query.fields.length > 0 ? 0.3 : 0;
  },
};
