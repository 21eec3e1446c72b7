/**
 * The view: the store of every flow the tool keeps, and the filtered, ordered view onto it that
 * mitmweb serves (`GET /flows`, `/updates`) and commands select from (`@shown`, `@focus`, ...).
 *
 * - The store keeps flows in insertion order, keyed by id.
 * - The view holds the stored flows that pass `view_filter`, sorted by `view_order` (time,
 *   method, url, size), read backwards when `view_order_reversed` is set.
 * - Listeners hear about changes to the view (add, update, remove, refresh) after they happened;
 *   a change to a stored flow that is not shown makes no noise.
 *
 * The sorted view is an array kept in order by binary search. Each flow's sort key is computed
 * once and cached; on an update the key is recomputed, and a flow whose key changed is moved
 * (which, as in mitmproxy, refreshes the whole view). Ties are broken by insertion order, so
 * every position is unique and a flow is found in O(log n).
 */
import type { Loader } from '../addonmanager.js';
import { CommandError } from '../command.js';
import { Client, Server, formatAddress } from '../connection.js';
import { dnsOpcodeName, DNSFlow } from '../dns.js';
import type { AnyFlow } from '../flows.js';
import { FilterError, parse, resolveFlowSpec, type Filter } from '../flowfilter/index.js';
import type { Master } from '../master.js';
import { HTTPFlow, Request } from '../http.js';
import { FlowReader } from '../io/flowreader.js';
import { OptionsError } from '../optmanager.js';
import { TCPFlow } from '../tcp.js';
import { bytesToText } from '../util/bytes.js';
import { filterOption } from './util/filteroption.js';

/** The `view_order` choices, in mitmproxy's order. */
export const VIEW_ORDERS = ['time', 'method', 'url', 'size'] as const;
export type ViewOrder = (typeof VIEW_ORDERS)[number];

type SortKey = number | string;

/** Sort key of a flow for each order. */
const ORDER_KEYS: Record<ViewOrder, (f: AnyFlow) => SortKey> = {
  time: (f) => f.timestampCreated,
  method: (f) => {
    if (f instanceof HTTPFlow) return bytesToText(f.request.method);
    if (f instanceof TCPFlow) return f.type.toUpperCase();
    if (f instanceof DNSFlow) return dnsOpcodeName(f.request.opCode);
    return '';
  },
  url: (f) => {
    if (f instanceof HTTPFlow) return bytesToText(f.request.url);
    if (f instanceof TCPFlow) return formatAddress(f.serverConn.address);
    if (f instanceof DNSFlow) return f.request.questions[0]?.name ?? '';
    return '';
  },
  size: (f) => {
    if (f instanceof HTTPFlow) return (f.request.rawContent?.length ?? 0) + (f.response?.rawContent?.length ?? 0);
    if (f instanceof TCPFlow) {
      let n = 0;
      for (const m of f.messages) n += m.content.length;
      return n;
    }
    if (f instanceof DNSFlow) return f.response ? f.response.size : 0;
    return 0;
  },
};

/** One stored flow with its bookkeeping. */
interface Entry {
  flow: AnyFlow;
  /** Insertion number: the tie-breaker among equal sort keys. */
  seq: number;
  /** The sort key the entry is filed under in the sorted view. */
  key: SortKey;
  inView: boolean;
  /** Per-flow key/value settings (`view.settings.*`), created on first use. */
  settings: Record<string, string> | null;
}

function compareEntries(a: Entry, b: Entry): number {
  if (a.key < b.key) return -1;
  if (a.key > b.key) return 1;
  return a.seq - b.seq;
}

/** What a view listener can hear. Every method is optional; all run after the view changed. */
export interface ViewListener {
  /** A flow entered the view. */
  add?(flow: AnyFlow): void;
  /** A flow in the view changed. */
  update?(flow: AnyFlow): void;
  /** A flow left the view; `index` was its position in the (unreversed) sorted view. */
  remove?(flow: AnyFlow, index: number): void;
  /** The view was rebuilt (filter, order, clear): read it again. */
  refresh?(): void;
  /** A flow was removed from the store. */
  storeRemove?(flow: AnyFlow): void;
  /** The store was cleared (or thinned out). */
  storeRefresh?(): void;
}

/** The focused flow of a view (what `@focus` and `view.focus.*` work on). */
export class Focus {
  private current: AnyFlow | null = null;

  constructor(private readonly view: View) {}

  get flow(): AnyFlow | null {
    return this.current;
  }

  set flow(f: AnyFlow | null) {
    if (f !== null && !this.view.includes(f)) throw new Error('Attempt to set focus to flow not in view');
    this.current = f;
  }

  /** Position of the focused flow in the view, or null. */
  get index(): number | null {
    return this.current ? this.view.indexOf(this.current) : null;
  }

  set index(i: number) {
    if (i < 0 || i > this.view.length - 1) throw new Error('Index out of view bounds');
    this.current = this.view.at(i)!;
  }

  /** @internal Keep the focus valid when the view changes. */
  onAdd(flow: AnyFlow): void {
    if (!this.current || this.view.focusFollow) this.current = flow;
  }

  /** @internal */
  onRemove(flow: AnyFlow, viewIndex: number): void {
    if (this.view.length === 0) this.current = null;
    else if (flow === this.current) this.current = this.view.at(Math.min(viewIndex, this.view.length - 1))!;
  }

  /** @internal */
  onRefresh(): void {
    if (this.view.length === 0) this.current = null;
    else if (!this.current) this.current = this.view.at(0)!;
    else if (!this.view.includes(this.current)) this.current = this.view.at(Math.min(this.view.nearestIndex(this.current), this.view.length - 1))!;
  }
}

/**
 * The view addon (mitmproxy's `View`): `view_filter`, `view_order`, `view_order_reversed`,
 * `console_focus_follow` and the `view.*` commands.
 */
export class View implements Iterable<AnyFlow> {
  readonly name = 'view';
  private master: Master | null = null;

  private readonly store = new Map<string, Entry>();
  /** Entries in the view, ascending by (key, seq). */
  private sorted: Entry[] = [];
  private nextSeq = 1;
  private order: ViewOrder = 'time';
  private orderKey: (f: AnyFlow) => SortKey = ORDER_KEYS.time;

  /** The view filter; null shows every flow. */
  filter: Filter | null = null;
  /** Show only marked flows (`view.properties.marked.toggle`). */
  showMarked = false;
  orderReversed = false;
  /** Move the focus to each flow that enters the view (`console_focus_follow`). */
  focusFollow = false;
  readonly focus = new Focus(this);

  private listeners = new Set<ViewListener>();

  // ---------------------------------------------------------------------------------------------
  // Listening

  /** Listen to view changes; returns a function that stops listening. */
  subscribe(listener: ViewListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit<K extends keyof ViewListener>(event: K, ...args: Parameters<NonNullable<ViewListener[K]>>): void {
    for (const l of this.listeners) {
      const fn = l[event] as ((...a: unknown[]) => void) | undefined;
      if (!fn) continue;
      try {
        fn.apply(l, args);
      } catch (e) {
        // A broken listener (a web client, a script) must not corrupt the view for the others.
        this.master?.log.error(`View listener failed on ${event}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Reading

  /** Number of flows in the view. */
  get length(): number {
    return this.sorted.length;
  }

  /** Number of stored flows (shown or not). */
  get storeCount(): number {
    return this.store.size;
  }

  private raw(i: number): number {
    return this.orderReversed ? this.sorted.length - 1 - i : i;
  }

  /** The flow at a view position (0 is the first shown), or undefined. */
  at(i: number): AnyFlow | undefined {
    if (i < 0 || i >= this.sorted.length) return undefined;
    return this.sorted[this.raw(i)]!.flow;
  }

  *[Symbol.iterator](): Iterator<AnyFlow> {
    const s = this.sorted;
    if (this.orderReversed) for (let i = s.length - 1; i >= 0; i--) yield s[i]!.flow;
    else for (let i = 0; i < s.length; i++) yield s[i]!.flow;
  }

  /** The shown flows in view order (a new array). */
  flows(): AnyFlow[] {
    const out = new Array<AnyFlow>(this.sorted.length);
    const n = this.sorted.length;
    for (let i = 0; i < n; i++) out[i] = this.sorted[this.raw(i)]!.flow;
    return out;
  }

  /** Every stored flow in insertion order (a new array). */
  storedFlows(): AnyFlow[] {
    const out: AnyFlow[] = [];
    for (const e of this.store.values()) out.push(e.flow);
    return out;
  }

  /** A stored flow by id (shown or not), or undefined. */
  getById(id: string): AnyFlow | undefined {
    return this.store.get(id)?.flow;
  }

  /** Whether the flow is in the view (shown). */
  includes(flow: AnyFlow): boolean {
    const e = this.store.get(flow.id);
    return e !== undefined && e.flow === flow && e.inView;
  }

  /** Position of a shown flow in the view, or -1. */
  indexOf(flow: AnyFlow): number {
    const e = this.store.get(flow.id);
    if (!e || e.flow !== flow || !e.inView) return -1;
    return this.raw(this.findSorted(e));
  }

  /** Where a flow would be in the view (for keeping the focus near a flow that left). */
  nearestIndex(flow: AnyFlow): number {
    const probe: Entry = { flow, seq: this.store.get(flow.id)?.seq ?? Number.MAX_SAFE_INTEGER, key: this.orderKey(flow), inView: false, settings: null };
    const pos = Math.max(0, this.insertionPoint(probe) - 1);
    return this.raw(Math.min(pos, this.sorted.length - 1));
  }

  /** Whether a stored flow passes the current filter (and the marked-only setting). */
  passes(flow: AnyFlow): boolean {
    if (this.showMarked && !flow.marked) return false;
    return this.filter ? this.filter.match(flow) : true;
  }

  /** Per-flow settings of a stored flow (throws for flows not in the store, as mitmproxy does). */
  settings(flow: AnyFlow): Record<string, string> {
    const e = this.store.get(flow.id);
    if (!e) throw new CommandError(`Flow not in view store: ${flow.id}`);
    e.settings ??= {};
    return e.settings;
  }

  get currentOrder(): ViewOrder {
    return this.order;
  }

  // ---------------------------------------------------------------------------------------------
  // The sorted array

  /** First index whose entry sorts after `e`. */
  private insertionPoint(e: Entry): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareEntries(this.sorted[mid]!, e) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of an entry that is in the sorted array. */
  private findSorted(e: Entry): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareEntries(this.sorted[mid]!, e) < 0) lo = mid + 1;
      else hi = mid;
    }
    if (this.sorted[lo] === e) return lo;
    // Only reachable if a sort key changed without a refresh; fall back to a scan.
    return this.sorted.indexOf(e);
  }

  private insertSorted(e: Entry): void {
    const s = this.sorted;
    // Flows usually arrive in time order: appending is the common case.
    if (s.length === 0 || compareEntries(s[s.length - 1]!, e) <= 0) s.push(e);
    else s.splice(this.insertionPoint(e), 0, e);
    e.inView = true;
  }

  private removeSorted(e: Entry): number {
    const i = this.findSorted(e);
    if (i >= 0) this.sorted.splice(i, 1);
    e.inView = false;
    return i;
  }

  private rebuild(): void {
    const list: Entry[] = [];
    for (const e of this.store.values()) {
      e.inView = false;
      if (this.passes(e.flow)) {
        e.key = this.orderKey(e.flow);
        e.inView = true;
        list.push(e);
      }
    }
    list.sort(compareEntries);
    this.sorted = list;
  }

  private refilter(): void {
    this.rebuild();
    this.focus.onRefresh();
    this.emit('refresh');
  }

  // ---------------------------------------------------------------------------------------------
  // Changing

  /** Add flows to the store (flows whose id is already stored are ignored). */
  add(flows: Iterable<AnyFlow>): void {
    for (const f of flows) {
      if (this.store.has(f.id)) continue;
      const e: Entry = { flow: f, seq: this.nextSeq++, key: 0, inView: false, settings: null };
      this.store.set(f.id, e);
      if (this.passes(f)) {
        e.key = this.orderKey(f);
        this.insertSorted(e);
        this.focus.onAdd(f);
        this.emit('add', f);
      }
    }
  }

  /** The view files flows away and tells its listeners; its flow hooks never change a flow (see Addon.readsOnly). */
  readsOnly(): boolean {
    return true;
  }

  /**
   * Flows changed: re-check them against the filter and the order. Flows not in the store are
   * ignored. This is also the `update` hook.
   */
  update(flows: Iterable<AnyFlow>): void {
    for (const f of flows) {
      const e = this.store.get(f.id);
      if (!e || e.flow !== f) continue;
      if (this.passes(f)) {
        if (!e.inView) {
          e.key = this.orderKey(f);
          this.insertSorted(e);
          this.focus.onAdd(f);
          this.emit('add', f);
        } else {
          const key = this.orderKey(f);
          if (key !== e.key) {
            // The flow moved: re-file it and have everyone re-read the view, as mitmproxy does.
            this.removeSorted(e);
            e.key = key;
            this.insertSorted(e);
            this.focus.onRefresh();
            this.emit('refresh');
          }
          this.emit('update', f);
        }
      } else if (e.inView) {
        const idx = this.removeSorted(e);
        this.focus.onRemove(f, this.orderReversed ? this.sorted.length - idx : idx);
        this.emit('remove', f, idx);
      }
    }
  }

  /** Remove flows from the store and the view, killing live ones first. */
  remove(flows: Iterable<AnyFlow>): void {
    let n = 0;
    for (const f of flows) {
      n++;
      const e = this.store.get(f.id);
      if (!e || e.flow !== f) continue;
      if (f.killable) f.kill();
      if (e.inView) {
        const idx = this.removeSorted(e);
        this.store.delete(f.id);
        this.focus.onRemove(f, this.orderReversed ? this.sorted.length - idx : idx);
        this.emit('remove', f, idx);
      } else {
        this.store.delete(f.id);
      }
      this.emit('storeRemove', f);
    }
    if (n > 1) this.master?.log.alert(`Removed ${n} flows`);
  }

  /** Empty the store and the view. */
  clear(): void {
    for (const e of this.store.values()) e.inView = false;
    this.store.clear();
    this.sorted = [];
    this.focus.onRefresh();
    this.emit('refresh');
    this.emit('storeRefresh');
  }

  /** Remove every flow that is not marked. */
  clearNotMarked(): void {
    for (const [id, e] of this.store) if (!e.flow.marked) this.store.delete(id);
    this.refilter();
    this.emit('storeRefresh');
  }

  /** Set the view filter (null shows everything) and rebuild the view. */
  setFilter(filter: Filter | null): void {
    this.filter = filter;
    this.refilter();
  }

  /** Change the sort order and rebuild the view. */
  setOrder(order: string): void {
    if (!(VIEW_ORDERS as readonly string[]).includes(order)) throw new CommandError(`Unknown flow order: ${order}`);
    this.order = order as ViewOrder;
    this.orderKey = ORDER_KEYS[this.order];
    this.refilter();
  }

  setReversed(reversed: boolean): void {
    this.orderReversed = reversed;
    this.focus.onRefresh();
    this.emit('refresh');
  }

  /** Add copies of flows (new ids) and focus the first copy. */
  duplicate(flows: readonly AnyFlow[]): AnyFlow[] {
    const dups = flows.map((f) => f.copy());
    if (dups.length) {
      this.add(dups);
      if (this.includes(dups[0]!)) this.focus.flow = dups[0]!;
      this.master?.log.alert(`Duplicated ${dups.length} flows`);
    }
    return dups;
  }

  /** Resolve a flow selector (`@all`, `@shown`, `@marked`, `@<id>`, a filter, ...). */
  resolve(spec: string): AnyFlow[] {
    const self = this;
    try {
      return resolveFlowSpec(spec, {
        get flows() {
          return self.storedFlows();
        },
        isShown: (f) => this.includes(f),
        focus: this.focus.flow,
        get shown() {
          return self.flows();
        },
      });
    } catch (e) {
      if (e instanceof FilterError) throw new CommandError(e.message);
      throw e;
    }
  }

  /** A new, unsent request flow for `method url` (`view.flows.create`). */
  create(method: string, url: string): HTTPFlow {
    let req: Request;
    try {
      req = Request.make(method.toUpperCase(), url);
    } catch (e) {
      throw new CommandError(`Invalid URL: ${(e as Error).message}`);
    }
    const c = new Client({ peername: ['', 0], sockname: ['', 0], timestampStart: req.timestampStart - 0.0001 });
    const s = new Server({ address: [req.host, req.port] });
    const f = new HTTPFlow(c, s, false, req);
    f.request.headers.set('Host', req.host);
    this.add([f]);
    return f;
  }

  /** Load a flow file into the view without running addons; every flow gets a new id. */
  async loadFile(path: string): Promise<void> {
    try {
      for await (const f of new FlowReader(path)) this.add([f.copy()]);
    } catch (e) {
      this.master?.log.error((e as Error).message);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Addon

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption('view_filter', 'optional str', null, 'Limit the view to matching flows.');
    loader.addOption('view_order', 'str', 'time', 'Flow sort order.', VIEW_ORDERS);
    loader.addOption('view_order_reversed', 'bool', false, 'Reverse the sorting order.');
    loader.addOption('console_focus_follow', 'bool', false, 'Focus follows new flows.');

    const add = loader.addCommand.bind(loader);
    add('view.focus.go', { help: 'Move the focus to a view position: 0 is the first flow, -1 the last.', params: [{ name: 'offset', type: 'int' }] }, (offset: number) => this.focusGo(offset));
    add('view.focus.next', { help: 'Move the focus to the next flow.' }, () => this.focusStep(1));
    add('view.focus.prev', { help: 'Move the focus to the previous flow.' }, () => this.focusStep(-1));
    add('view.order.options', { help: 'The choices of the view_order option.', returns: 'str[]' }, () => [...VIEW_ORDERS].sort());
    add('view.order.reverse', { help: 'Reverse the view order (or not).', params: [{ name: 'boolean', type: 'bool' }] }, (b: boolean) => this.setReversed(b));
    add('view.order.set', { help: 'Set the view order.', params: [{ name: 'order_key', type: 'str' }] }, (k: string) => this.setOrder(k));
    add('view.order', { help: 'The current view order.', returns: 'str' }, () => this.order);
    add('view.filter.set', { help: 'Set the view filter.', params: [{ name: 'filter_expr', type: 'str' }] }, (expr: string) => this.setFilterCommand(expr));
    add('view.clear', { help: 'Remove every flow from the store and the view.' }, () => this.clear());
    add('view.clear_unmarked', { help: 'Remove every flow that is not marked.' }, () => this.clearNotMarked());
    add(
      'view.settings.getval',
      { help: 'Read a per-flow setting.', params: [{ name: 'flow', type: 'flow' }, { name: 'key', type: 'str' }, { name: 'default', type: 'str' }], returns: 'str' },
      (f: AnyFlow, key: string, dflt: string) => this.settings(f)[key] ?? dflt,
    );
    add(
      'view.settings.setval.toggle',
      { help: 'Toggle a per-flow setting between "true" and "false".', params: [{ name: 'flows', type: 'flow[]' }, { name: 'key', type: 'str' }] },
      (flows: AnyFlow[], key: string) => this.settingToggle(flows, key),
    );
    add(
      'view.settings.setval',
      { help: 'Set a per-flow setting.', params: [{ name: 'flows', type: 'flow[]' }, { name: 'key', type: 'str' }, { name: 'value', type: 'str' }] },
      (flows: AnyFlow[], key: string, value: string) => this.settingSet(flows, key, value),
    );
    add('view.flows.duplicate', { help: 'Duplicate flows and focus the first copy.', params: [{ name: 'flows', type: 'flow[]' }] }, (flows: AnyFlow[]) => void this.duplicate(flows));
    add('view.flows.remove', { help: 'Remove flows from the store and the view.', params: [{ name: 'flows', type: 'flow[]' }] }, (flows: AnyFlow[]) => this.remove(flows));
    add('view.flows.resolve', { help: 'Resolve a flow selector to the flows it names.', params: [{ name: 'flow_spec', type: 'str' }], returns: 'flow[]' }, (spec: string) => this.resolve(spec));
    add('view.flows.create', { help: 'Add a new request flow.', params: [{ name: 'method', type: 'str' }, { name: 'url', type: 'str' }] }, (m: string, u: string) => void this.create(m, u));
    add('view.flows.load', { help: 'Load flows from a file into the view without running addons.', params: [{ name: 'path', type: 'path' }] }, (p: string) => this.loadFile(p));
    add('view.properties.length', { help: 'The number of flows in the view.', returns: 'int' }, () => this.length);
    add('view.properties.marked', { help: 'Whether only marked flows are shown.', returns: 'bool' }, () => this.showMarked);
    add('view.properties.marked.toggle', { help: 'Show only marked flows, or all flows again.' }, () => {
      this.showMarked = !this.showMarked;
      this.refilter();
    });
    add('view.properties.inbounds', { help: 'Whether 0 <= index < view length.', params: [{ name: 'index', type: 'int' }], returns: 'bool' }, (i: number) => i >= 0 && i < this.length);
  }

  configure(updated: Set<string>): void {
    const o = this.master!.options;
    if (updated.has('view_filter')) {
      this.setFilter(filterOption(o.get<string | null>('view_filter')));
    }
    if (updated.has('view_order')) {
      const order = o.get<string>('view_order');
      if (!(VIEW_ORDERS as readonly string[]).includes(order)) throw new OptionsError(`Unknown flow order: ${order}`);
      if (order !== this.order) this.setOrder(order);
    }
    if (updated.has('view_order_reversed')) {
      const r = o.get<boolean>('view_order_reversed');
      if (r !== this.orderReversed) this.setReversed(r);
    }
    if (updated.has('console_focus_follow')) this.focusFollow = o.get<boolean>('console_focus_follow');
  }

  private setFilterCommand(expr: string): void {
    let filt: Filter | null = null;
    if (expr) {
      try {
        filt = parse(expr);
      } catch (e) {
        throw new CommandError((e as Error).message);
      }
    }
    this.setFilter(filt);
  }

  private focusGo(offset: number): void {
    if (this.length === 0) return;
    let i = offset < 0 ? this.length + offset : offset;
    i = Math.min(Math.max(i, 0), this.length - 1);
    this.focus.flow = this.at(i)!;
  }

  private focusStep(delta: number): void {
    const i = this.focus.index;
    if (i === null) return;
    const next = i + delta;
    if (next >= 0 && next < this.length) this.focus.flow = this.at(next)!;
  }

  private async settingToggle(flows: AnyFlow[], key: string): Promise<void> {
    for (const f of flows) {
      const s = this.settings(f);
      s[key] = s[key] === 'true' ? 'false' : 'true';
    }
    await this.master!.addons.trigger('update', flows);
  }

  private async settingSet(flows: AnyFlow[], key: string, value: string): Promise<void> {
    for (const f of flows) this.settings(f)[key] = value;
    await this.master!.addons.trigger('update', flows);
  }

  // Hooks: new flows enter the store where they start; every later event is an update.
  requestheaders(f: HTTPFlow): void {
    this.add([f]);
  }
  response(f: HTTPFlow): void {
    this.update([f]);
  }
  error(f: HTTPFlow): void {
    this.update([f]);
  }
  tcp_start(f: TCPFlow): void {
    this.add([f]);
  }
  tcp_message(f: TCPFlow): void {
    this.update([f]);
  }
  tcp_error(f: TCPFlow): void {
    this.update([f]);
  }
  tcp_end(f: TCPFlow): void {
    this.update([f]);
  }
  udp_start(f: TCPFlow): void {
    this.add([f]);
  }
  udp_message(f: TCPFlow): void {
    this.update([f]);
  }
  udp_error(f: TCPFlow): void {
    this.update([f]);
  }
  udp_end(f: TCPFlow): void {
    this.update([f]);
  }
  dns_request(f: DNSFlow): void {
    this.add([f]);
  }
  dns_response(f: DNSFlow): void {
    this.update([f]);
  }
  dns_error(f: DNSFlow): void {
    this.update([f]);
  }
}
