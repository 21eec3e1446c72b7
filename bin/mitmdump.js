#!/usr/bin/env node
// mitmdump: the proxy with terminal output (drop-in name for mitmproxy's tool).
import { runTool } from '../dist/src/tools/main.js';

process.exit(await runTool('dump', process.argv.slice(2), 'mitmdump'));
