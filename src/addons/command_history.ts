import { appendFileSync, existsSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Loader } from '../addonmanager.js';
import type { Master } from '../master.js';
import { expandHome } from '../optmanager.js';

/**
 * The console's command history, kept in `<confdir>/command_history` (one command per line)
 * when `command_history` is on, with a prefix filter to step through matching entries.
 */
export class CommandHistory {
  readonly name = 'commandhistory';
  /** On shutdown a history this long is cut to its newer half, so the file does not grow forever. */
  static readonly VACUUM_SIZE = 1024;
  private master!: Master;
  history: string[] = [];
  private filtered: string[] = [''];
  private index = 0;

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption('command_history', 'bool', true, 'Persist command history between mitmproxy invocations.');
    const add = loader.addCommand.bind(loader);
    add('commands.history.add', { params: [{ name: 'command', type: 'str' }] }, (command: string) => this.addCommand(command));
    add('commands.history.get', { help: 'Get the entire command history.', returns: 'str[]' }, () => [...this.history]);
    add('commands.history.clear', {}, () => this.clear());
    add('commands.history.filter', { params: [{ name: 'prefix', type: 'str' }] }, (prefix: string) => this.setFilter(prefix));
    add('commands.history.next', { returns: 'str' }, () => this.next());
    add('commands.history.prev', { returns: 'str' }, () => this.prev());
  }

  get historyFile(): string {
    return join(expandHome(this.master.options.get<string>('confdir')), 'command_history');
  }

  private enabled(): boolean {
    return this.master.options.get<boolean>('command_history');
  }

  configure(updated: Set<string>): void {
    if (updated.has('command_history') || updated.has('confdir')) this.loadFile();
  }

  running(): void {
    this.loadFile();
  }

  private loadFile(): void {
    if (!this.enabled()) return;
    const file = this.historyFile;
    try {
      if (!existsSync(file) || !statSync(file).isFile()) return;
      this.history = readFileSync(file, 'utf8').split(/\r\n|\r|\n/);
      if (this.history.at(-1) === '') this.history.pop();
    } catch (e) {
      this.master.log.warn(`Failed reading ${file}: ${(e as Error).message}`);
      return;
    }
    this.setFilter('');
  }

  done(): void {
    if (!this.enabled() || this.history.length < CommandHistory.VACUUM_SIZE) return;
    const keep = this.history.slice(-CommandHistory.VACUUM_SIZE / 2);
    try {
      writeFileSync(this.historyFile, keep.join('\n') + '\n');
    } catch (e) {
      this.master.log.warn(`Failed writing to ${this.historyFile}: ${(e as Error).message}`);
    }
  }

  addCommand(command: string): void {
    if (!command.trim()) return;
    this.history.push(command);
    if (this.enabled()) {
      try {
        appendFileSync(this.historyFile, `${command}\n`);
      } catch (e) {
        this.master.log.warn(`Failed writing to ${this.historyFile}: ${(e as Error).message}`);
      }
    }
    this.setFilter('');
  }

  clear(): void {
    const file = this.historyFile;
    if (existsSync(file)) {
      try {
        unlinkSync(file);
      } catch (e) {
        this.master.log.warn(`Failed deleting ${file}: ${(e as Error).message}`);
      }
    }
    this.history = [];
    this.setFilter('');
  }

  /** Step through the commands starting with `prefix`; the prefix itself is the last entry. */
  setFilter(prefix: string): void {
    this.filtered = this.history.filter((c) => c.startsWith(prefix));
    this.filtered.push(prefix);
    this.index = this.filtered.length - 1;
  }

  next(): string {
    this.index = Math.min(this.index + 1, this.filtered.length - 1);
    return this.filtered[this.index]!;
  }

  prev(): string {
    this.index = Math.max(0, this.index - 1);
    return this.filtered[this.index]!;
  }
}
