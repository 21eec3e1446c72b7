/** Shared helpers for the addon tests: a master with addons, flows built from the model, log capture. */
import { Client } from '../../src/connection.js';
import { HTTPFlow, Request, Response } from '../../src/http.js';
import type { Addon } from '../../src/hooks.js';
import type { LogEntry } from '../../src/log.js';
import { Master } from '../../src/master.js';
import type { OptionValue } from '../../src/optmanager.js';

/** A master with the given addons loaded, options set, and (unless `run: false`) running. */
export async function addonMaster(addons: Addon[], options: Record<string, OptionValue> = {}, opts: { run?: boolean } = {}): Promise<Master & { logs: LogEntry[] }> {
  const master = new Master();
  const logs: LogEntry[] = [];
  master.log.subscribe((e) => logs.push(e));
  await master.addons.add(...addons);
  if (Object.keys(options).length) await master.options.update(options);
  if (opts.run ?? true) await master.run();
  return Object.assign(master, { logs });
}

export interface FlowInit {
  method?: string;
  url?: string;
  headers?: Record<string, string> | Array<[string, string]>;
  body?: string | Buffer;
  /** The listener's mode spec (client.proxyMode). */
  mode?: string;
  live?: boolean;
  response?: { status?: number; headers?: Record<string, string> | Array<[string, string]>; body?: string | Buffer };
  client?: Client;
}

/** An HTTP flow as the proxy would hand it to addons (live unless told otherwise). */
export function makeFlow(init: FlowInit = {}): HTTPFlow {
  const req = Request.make(init.method ?? 'GET', init.url ?? 'http://example.com/path', init.body ?? '', init.headers);
  const client = init.client ?? new Client({ peername: ['127.0.0.1', 50000], sockname: ['127.0.0.1', 8080], timestampStart: 1, proxyMode: init.mode ?? 'regular' });
  const flow = new HTTPFlow(client, undefined, init.live ?? true, req);
  if (init.response) flow.response = Response.make(init.response.status ?? 200, init.response.body ?? '', init.response.headers);
  return flow;
}

/** Messages logged at `level`. */
export function logged(logs: LogEntry[], level: LogEntry['level']): string[] {
  return logs.filter((e) => e.level === level).map((e) => e.message);
}
