import { join } from 'node:path';
import { versions, platform, arch } from 'node:process';
import type { Master } from '../master.js';
import { expandHome } from '../optmanager.js';
import { MITMPROXY_COMPAT_VERSION, VERSION } from '../version.js';
import { parseCommandLine, type ToolName } from './cmdline.js';
import { DumpMaster } from './dump.js';
import { createWebMaster } from './web/master.js';
import type { ErrorCheck } from '../addons/errorcheck.js';
import { userStack } from '../addonmanager.js';

/**
 * mitmdump's shape (label, padded to 11 columns, value), so a script that reads the `Mitmproxy:`
 * line finds the mitmproxy version whose behaviour we follow, and ours after it.
 */
export function versionText(): string {
  return [
    `Mitmproxy: ${MITMPROXY_COMPAT_VERSION} (mitmproxy-ts ${VERSION})`,
    `Node.js:   ${versions.node}`,
    `OpenSSL:   OpenSSL ${versions.openssl}`,
    `Platform:  ${platform}-${arch}`,
  ].join('\n');
}

/** `--commands` output, as mitmproxy's CommandManager.dump: by signature, each help as comment lines above it. */
function commandsText(master: Master): string {
  const lines: string[] = [];
  const commands = [...master.commands.all()].map((c) => ({ signature: c.signatureHelp(), help: c.help }));
  // Code point order, as Python's sort (localeCompare would not be).
  commands.sort((a, b) => (a.signature < b.signature ? -1 : a.signature > b.signature ? 1 : 0));
  for (const c of commands) {
    if (c.help) for (const l of c.help.split('\n')) lines.push(`# ${l}`);
    lines.push(c.signature, '');
  }
  return lines.join('\n');
}

/**
 * When whatever reads our output goes away (`mitmdump | head`, once head has its lines), writes
 * to it fail with EPIPE. As mitmdump, say so once on stderr and keep proxying; what would have
 * been printed is dropped from then on.
 */
function keepServingWhenOutputCloses(): void {
  let told = false;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (told) return;
    told = true;
    if (process.stderr.writable) process.stderr.write(`Standard output closed (${e.code ?? e.message}); flow and event log output is dropped from now on.\n`);
  });
  process.stderr.on('error', () => undefined);
}

/**
 * An exception nothing awaits or catches (a promise a script started and forgot, such as an
 * unawaited `commands.call` or a background loop, or a timer callback that throws) would end the
 * node process, and with it every connection. mitmproxy logs such an error as "Unhandled error in
 * task." with its traceback and keeps proxying; so do the tools while they run. At startup it is
 * an error like any other, so the tool exits as mitmdump does. Returns what removes the handlers.
 */
function logUnhandledErrors(master: Master): () => void {
  const report = (e: unknown) => {
    const text = e instanceof Error ? userStack(e) : String(e);
    try {
      master.log.error(`Unhandled error in task.\n${text}`, undefined, e);
    } catch {
      // The log is all there is to tell; never let reporting take the proxy down.
    }
  };
  process.on('unhandledRejection', report);
  process.on('uncaughtException', report);
  return () => {
    process.off('unhandledRejection', report);
    process.off('uncaughtException', report);
  };
}

/**
 * Run mitmdump or mitmweb with a command line: build the master, apply `--set`, config.yaml
 * and flags (in mitmproxy's order: config.yaml beats --set, flags beat both), run until
 * interrupted. Returns the exit code.
 */
export async function runTool(tool: ToolName, argv: string[], programName = tool === 'dump' ? 'mitmdump' : 'mitmweb'): Promise<number> {
  keepServingWhenOutputCloses();
  const master = tool === 'dump' ? await DumpMaster.create() : await createWebMaster();
  const errorcheck = master.addons.get('errorcheck') as ErrorCheck | undefined;
  const args = parseCommandLine(tool, master.options, programName, argv);
  if (args.version) {
    console.log(versionText());
    return 0;
  }
  try {
    await master.options.setFromSpecs(args.setOptions);
    const confdir = expandHome(master.options.get<string>('confdir'));
    await master.options.loadFile(join(confdir, 'config.yaml'));
    await master.options.loadFile(join(confdir, 'config.yml'));
    const flags: Record<string, unknown> = { ...args.flagValues };
    if (args.quiet) {
      flags.termlog_verbosity = 'error';
      flags.flow_detail = 0;
    }
    if (args.verbose) {
      flags.termlog_verbosity = 'debug';
      flags.flow_detail = 2;
    }
    if (args.filterArgs.length) {
      const filter = args.filterArgs.join(' ');
      for (const name of ['save_stream_filter', 'readfile_filter', 'dumper_filter']) if (master.options.has(name)) flags[name] = filter;
    }
    for (const k of Object.keys(flags)) if (!master.options.has(k)) delete flags[k];
    await master.options.updateUnchecked(flags);
    // After --set, config.yaml and the flags, as mitmdump: a bad value is refused here too.
    if (args.showOptions) {
      process.stdout.write(master.options.toYaml());
      return 0;
    }
    if (args.showCommands) {
      process.stdout.write(commandsText(master));
      return 0;
    }
    if (args.filterArgs.length) master.log.info(`Only processing flows that match "${args.filterArgs.join(' & ')}"`);
  } catch (e) {
    // As mitmdump: the program name, the reason, status 1.
    console.error(`${programName}: ${(e as Error).message}`);
    return 1;
  }

  const stop = () => void master.shutdown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const stopLoggingUnhandled = logUnhandledErrors(master);
  // Run until told to stop, even with nothing listening (-n without -r, say), and while starting:
  // a script whose load hook never settles would otherwise leave an empty event loop, and node
  // would end the process (status 13) without a word.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  try {
    return await runUntilExit(master, errorcheck, programName);
  } finally {
    clearInterval(keepAlive);
    stopLoggingUnhandled();
  }
}

/** Run a configured master until it is told to stop; returns the exit code. */
async function runUntilExit(master: Master, errorcheck: ErrorCheck | undefined, programName: string): Promise<number> {
  try {
    // Ctrl-C or SIGTERM while an addon's load, configure or running hook never finishes ends the
    // process instead of being ignored until SIGKILL.
    const started = await Promise.race([master.run().then(() => true), master.shouldExit.then(() => false)]);
    if (!started) {
      console.error(`${programName}: stopped while starting (an addon's load, configure or running hook had not finished).`);
      await master.shutdown();
      return 1;
    }
  } catch (e) {
    // An option an addon refused at startup (a -w path, a -S file): as mitmdump, the program name first.
    console.error(`${programName}: ${(e as Error).message}`);
    await master.shutdown();
    return 1;
  }
  // Options for scripts are declared when the scripts load (during run). What is left belongs to
  // another tool (a config.yaml shared with mitmweb or mitmproxy names web_port or console_*) or
  // is a typo: mitmdump goes on without a word; we go on and say which.
  const unknown = master.options.unknownDeferred();
  if (unknown.length) master.log.warn(`Ignoring unknown option(s): ${unknown.join(', ')}`);
  if (errorcheck?.hasErrored) {
    console.error(errorcheck.message());
    await master.shutdown();
    return 1;
  }
  errorcheck?.finish();
  await master.shouldExit;
  await master.shutdown();
  return master.exitCode;
}
