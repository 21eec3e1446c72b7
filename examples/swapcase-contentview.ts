/**
 * A content view of your own, as mitmproxy's `contentviews.add`: bodies of type text/example are
 * shown with their letters' case swapped, by the dumper (`--flow-detail 3`) and by mitmweb.
 *
 *     npx mitmproxy-ts dump -s examples/swapcase-contentview.ts --flow-detail 3
 *
 * mitmproxy's `prettify` is `render` here, `render_priority` is `renderPriority`; a view without
 * a name is named after its class.
 */
import { addContentView, type ContentViewMetadata } from 'mitmproxy-ts';

class SwapCase {
  render(data: Buffer, _metadata: ContentViewMetadata): string {
    return data.toString('utf8').replace(/\p{L}/gu, (c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()));
  }

  renderPriority(_data: Buffer, metadata: ContentViewMetadata): number {
    // Above the builtin views' 0 to 1, so `auto` picks this view for text/example.
    return metadata.contentType?.startsWith('text/example') ? 2 : 0;
  }
}

addContentView(SwapCase);
