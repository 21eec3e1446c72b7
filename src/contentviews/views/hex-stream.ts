import { isBinary } from '../text.js';
import type { ContentView } from '../types.js';

/** The bytes as one lowercase hex string. */
export const hexStream: ContentView = {
  name: 'Hex Stream',
  syntaxHighlight: 'none',
  render(data) {
    return data.toString('hex');
  },
  renderPriority(data) {
    return isBinary(data) ? 0.4 : 0;
  },
};
