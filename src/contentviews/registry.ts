/**
 * The set of known content views, keyed by lowercased name, and the `auto` choice between them.
 */
import type { ContentView, ContentViewMetadata } from './types.js';

export type ContentViewLogger = (level: 'warn' | 'info' | 'debug', message: string) => void;

export class ContentViewRegistry {
  private readonly byName = new Map<string, ContentView>();

  constructor(views: Iterable<ContentView> = [], private readonly log: ContentViewLogger = () => {}) {
    for (const v of views) this.register(v);
  }

  /**
   * Add a view (an addon may add its own). A view with the same lowercased name replaces the old
   * one but keeps its place, so `auto` ties still go to the earlier registration.
   */
  register(view: ContentView): void {
    const key = view.name.toLowerCase();
    if (this.byName.has(key)) this.log('info', `Replacing existing ${key} contentview.`);
    this.byName.set(key, view);
  }

  unregister(name: string): boolean {
    return this.byName.delete(name.toLowerCase());
  }

  /** The view registered under `name` (any case), or undefined. */
  get(name: string): ContentView | undefined {
    return this.byName.get(name.toLowerCase());
  }

  /** Registry keys in registration order. */
  keys(): string[] {
    return [...this.byName.keys()];
  }

  /** "auto" followed by every key, sorted (what mitmproxy offers as choices). */
  availableViews(): string[] {
    return ['auto', ...[...this.byName.keys()].sort()];
  }

  /**
   * The view to use: the named one, or for "auto" (and for an unknown name, with a warning) the
   * one with the highest render priority. Ties go to the view registered first. A view whose
   * priority function throws is skipped.
   */
  pick(data: Buffer, metadata: ContentViewMetadata, viewName = 'auto'): ContentView {
    if (viewName.toLowerCase() !== 'auto') {
      const v = this.get(viewName);
      if (v) return v;
      this.log('warn', `Unknown contentview '${viewName}', selecting best match instead.`);
    }
    let best: ContentView | undefined;
    let bestPriority = -Infinity;
    for (const view of this.byName.values()) {
      let priority: number;
      try {
        priority = view.renderPriority(data, metadata);
      } catch (e) {
        this.log('warn', `Error in ${view.name}.render_priority: ${e instanceof Error ? e.message : String(e)}`);
        continue;
      }
      if (typeof priority !== 'number' || Number.isNaN(priority)) continue;
      if (best === undefined || priority > bestPriority) {
        best = view;
        bestPriority = priority;
      }
    }
    if (!best) throw new Error('No content view has a working render priority.');
    return best;
  }
}
