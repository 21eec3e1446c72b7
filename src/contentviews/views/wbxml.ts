import { wbxmlToXml } from '../wbxml-decode.js';
import type { ContentView } from '../types.js';

const CONTENT_TYPES: ReadonlySet<string> = new Set(['application/vnd.wap.wbxml', 'application/vnd.ms-sync.wbxml']);

/** Exchange ActiveSync WBXML bodies as XML; fails (so auto falls back to Raw) on anything else. */
export const wbxml: ContentView = {
  name: 'WBXML',
  syntaxHighlight: 'xml',
  render(data, _metadata, hints) {
    return wbxmlToXml(data, hints?.maxLines ? { maxLines: hints.maxLines } : {});
  },
  renderPriority(data, metadata) {
    return data.length > 0 && metadata.contentType !== undefined && CONTENT_TYPES.has(metadata.contentType) ? 1 : 0;
  },
};
