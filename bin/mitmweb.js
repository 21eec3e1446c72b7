#!/usr/bin/env node
// mitmweb: the proxy with the web API (drop-in name for mitmproxy's tool).
import { runTool } from '../dist/src/tools/main.js';

process.exit(await runTool('web', process.argv.slice(2), 'mitmweb'));
