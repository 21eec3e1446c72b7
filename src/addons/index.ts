import type { Addon } from '../hooks.js';
import { Core } from './core.js';
import { ProxyServer } from './proxyserver.js';
import { ScriptLoader } from './script.js';

/**
 * The addons every tool runs, in mitmproxy's chain order (which decides hook order). Each
 * feature is one addon; a tool adds its own (termlog, dumper, view, web) around these.
 */
export function defaultAddons(): Addon[] {
  return [new Core(), new ProxyServer(), new ScriptLoader()];
}

export { Core, ProxyServer, ScriptLoader };
