/**
 * The event store: the last log entries (10 000 by default), oldest first, for mitmweb's
 * `/events` and its `events/add` pushes. Every level is kept, debug included.
 */
import type { Loader } from '../addonmanager.js';
import type { LogEntry } from '../log.js';
import type { Master } from '../master.js';

/** What an event store listener hears. */
export interface EventStoreListener {
  add?(entry: LogEntry): void;
  /** The store was cleared. */
  refresh?(): void;
}

export class EventStore {
  readonly name = 'eventstore';
  /** Ring buffer of entries; `start` is the index of the oldest. */
  private buf: Array<LogEntry | undefined>;
  private start = 0;
  private count = 0;
  private unsubscribe: (() => void) | null = null;
  private listeners = new Set<EventStoreListener>();

  constructor(readonly size = 10000) {
    this.buf = new Array<LogEntry | undefined>(size);
  }

  load(loader: Loader): void {
    this.attach(loader.master);
    loader.addCommand('eventstore.clear', { help: 'Clear the event log.' }, () => this.clear());
  }

  /** Start recording the master's log (done by `load`; callable earlier so nothing is missed). */
  attach(master: Master): void {
    if (this.unsubscribe) return;
    this.unsubscribe = master.log.subscribe((e) => this.addEntry(e));
  }

  done(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  subscribe(listener: EventStoreListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Record an entry (normally called by the log subscription). */
  addEntry(entry: LogEntry): void {
    if (this.size <= 0) return;
    if (this.count < this.size) {
      this.buf[(this.start + this.count) % this.size] = entry;
      this.count++;
    } else {
      this.buf[this.start] = entry;
      this.start = (this.start + 1) % this.size;
    }
    for (const l of this.listeners) l.add?.(entry);
  }

  /** The stored entries, oldest first. */
  entries(): LogEntry[] {
    const out = new Array<LogEntry>(this.count);
    for (let i = 0; i < this.count; i++) out[i] = this.buf[(this.start + i) % this.size]!;
    return out;
  }

  get length(): number {
    return this.count;
  }

  /** Forget every entry. */
  clear(): void {
    this.buf = new Array<LogEntry | undefined>(this.size);
    this.start = 0;
    this.count = 0;
    for (const l of this.listeners) l.refresh?.();
  }
}
