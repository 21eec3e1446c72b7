/**
 * A command of your own that takes flows and a file (mitmproxy's commands-paths example): write
 * how many of the given flows went to each host, fewest first.
 *
 *     npx mitmproxy-ts web -s examples/host-histogram.ts
 *
 * then run it on the flows so far through mitmweb's API, with the token it printed (the API wants
 * an XSRF token for a POST: any value, sent as both the cookie and the header):
 *
 *     curl -H "Authorization: Bearer $TOKEN" -H 'Cookie: _mitmproxy_xsrf=x' -H 'X-XSRFToken: x' \
 *       -H 'Content-Type: application/json' -d '{"arguments": ["@all", "hosts.txt"]}' \
 *       http://127.0.0.1:8081/commands/histogram.save
 *
 * The parameter types in the spec are what mitmproxy reads from a command's annotations: `flow[]`
 * turns "@all", "@marked" or a filter into flows, `path` expands "~". A program with a `View`
 * addon runs it as `master.commands.execute('histogram.save @all hosts.txt')`.
 */
import { writeFile } from 'node:fs/promises';
import { HTTPFlow, type AnyFlow, type Loader, type Master } from 'mitmproxy-ts';

class HostHistogram {
  private master!: Master;

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addCommand(
      'histogram.save',
      {
        help: 'Write the number of flows per host to a file.',
        params: [
          { name: 'flows', type: 'flow[]' },
          { name: 'path', type: 'path' },
        ],
      },
      (flows: AnyFlow[], path: string) => this.save(flows, path),
    );
  }

  private async save(flows: AnyFlow[], path: string): Promise<void> {
    const counts = new Map<string, number>();
    for (const f of flows) {
      if (f instanceof HTTPFlow) counts.set(f.request.host, (counts.get(f.request.host) ?? 0) + 1);
    }
    const rows = [...counts].sort(([ha, a], [hb, b]) => a - b || (ha < hb ? -1 : ha > hb ? 1 : 0));
    await writeFile(path, rows.map(([host, n]) => `${n}: ${host}\n`).join(''));
    this.master.log.alert(`histogram of ${counts.size} hosts written to ${path}`);
  }
}

export default new HostHistogram();
