#!/usr/bin/env node
// mitmproxy-ts dump|web [flags]: the same tools under one name that never collides with an
// installed Python mitmproxy (npx prefers mitmdump/mitmweb from PATH).
import { runTool, versionText } from '../dist/src/tools/main.js';

const [sub, ...rest] = process.argv.slice(2);
if (sub === 'dump' || sub === 'web') {
  process.exit(await runTool(sub, rest, `mitmproxy-ts ${sub}`));
} else if (sub === '--version' || sub === '-V') {
  console.log(versionText());
} else {
  const usage = 'usage: mitmproxy-ts dump [options] [filter...]\n       mitmproxy-ts web [options]\n\n  dump  run the proxy with terminal output (mitmdump)\n  web   run the proxy with the web API (mitmweb)\n\nRun "mitmproxy-ts dump --help" for every option.';
  if (sub === '--help' || sub === '-h' || sub === 'help') console.log(usage);
  else {
    console.error(sub === undefined ? usage : `mitmproxy-ts: unknown command ${JSON.stringify(sub)}\n\n${usage}`);
    process.exit(2);
  }
}
