import { decodeUtf8BackslashReplace } from '../text.js';
import type { ContentView } from '../types.js';

/** The bytes as UTF-8 text, undecodable bytes as `\xNN`. The fallback for everything. */
export const raw: ContentView = {
  name: 'Raw',
  syntaxHighlight: 'none',
  render(data, _metadata, hints) {
    // Decoding far more than can be shown is wasted work on multi-megabyte bodies; cut roughly
    // (on a line end after enough lines), the caller cuts exactly.
    if (hints?.maxLines) {
      let pos = -1;
      for (let i = 0; i <= hints.maxLines && (pos = data.indexOf(0x0a, pos + 1)) >= 0; i++);
      if (pos >= 0) data = data.subarray(0, pos + 1);
    }
    return decodeUtf8BackslashReplace(data);
  },
  renderPriority() {
    return 0.1;
  },
};
