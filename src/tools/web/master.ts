import { Master } from '../../master.js';
import { defaultAddons } from '../../addons/index.js';
import { TermLog } from '../../addons/termlog.js';
import { ErrorCheck } from '../../addons/errorcheck.js';

/**
 * mitmweb's master. Until the web API lands this runs the proxy with terminal logging only
 * (issue: mitmweb REST and WebSocket API).
 */
export async function createWebMaster(): Promise<Master> {
  const m = new Master();
  await m.addons.add(new TermLog());
  await m.addons.add(...defaultAddons());
  await m.addons.add(new ErrorCheck());
  return m;
}
