/**
 * Log a warning for every request whose response took longer than a threshold to complete.
 *
 *     npx mitmproxy-ts dump -s examples/log-slow-requests.ts --set slow_threshold_ms=500
 */
import type { HTTPFlow, Loader, Master } from 'mitmproxy-ts';

class LogSlowRequests {
  private master!: Master;

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption('slow_threshold_ms', 'int', 1000, 'Log requests that take longer than this many milliseconds.');
  }

  response(flow: HTTPFlow): void {
    const end = flow.response?.timestampEnd ?? null;
    if (end === null) return;
    const ms = Math.round((end - flow.request.timestampStart) * 1000);
    if (ms > this.master.options.get<number>('slow_threshold_ms')) {
      this.master.log.warn(`slow request: ${ms} ms for ${flow.request.method} ${flow.request.prettyUrl}`);
    }
  }
}

export default new LogSlowRequests();
