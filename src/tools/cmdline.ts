import { Command, Option, InvalidArgumentError } from 'commander';
import type { OptManager } from '../optmanager.js';

/** The tools that share this command line: mitmdump and mitmweb. */
export type ToolName = 'dump' | 'web';

/** Which options get a dedicated flag, with their short letter and metavar (mitmproxy's cmdline.py). */
interface FlagSpec {
  option: string;
  short?: string;
  metavar?: string;
}

const COMMON_FLAGS: FlagSpec[] = [
  { option: 'mode', short: 'm', metavar: 'MODE' },
  { option: 'anticache' },
  { option: 'showhost' },
  { option: 'show_ignored_hosts' },
  { option: 'rfile', short: 'r', metavar: 'PATH' },
  { option: 'scripts', short: 's', metavar: 'SCRIPT' },
  { option: 'stickycookie', metavar: 'FILTER' },
  { option: 'stickyauth', metavar: 'FILTER' },
  { option: 'save_stream_file', short: 'w', metavar: 'PATH' },
  { option: 'anticomp' },
  // Proxy options
  { option: 'listen_host', metavar: 'HOST' },
  { option: 'listen_port', short: 'p', metavar: 'PORT' },
  { option: 'server', short: 'n' },
  { option: 'ignore_hosts', metavar: 'HOST' },
  { option: 'allow_hosts', metavar: 'HOST' },
  { option: 'tcp_hosts', metavar: 'HOST' },
  { option: 'upstream_auth', metavar: 'USER:PASS' },
  { option: 'proxyauth', metavar: 'SPEC' },
  { option: 'store_streamed_bodies' },
  { option: 'rawtcp' },
  { option: 'http2' },
  // SSL
  { option: 'certs', metavar: 'SPEC' },
  { option: 'cert_passphrase', metavar: 'PASS' },
  { option: 'ssl_insecure', short: 'k' },
  // Replay
  { option: 'client_replay', short: 'C', metavar: 'PATH' },
  { option: 'server_replay', short: 'S', metavar: 'PATH' },
  { option: 'server_replay_kill_extra' },
  { option: 'server_replay_extra' },
  { option: 'server_replay_reuse' },
  { option: 'server_replay_refresh' },
  // Map, modify
  { option: 'map_remote', short: 'M', metavar: 'PATTERN' },
  { option: 'map_local', metavar: 'PATTERN' },
  { option: 'modify_body', short: 'B', metavar: 'PATTERN' },
  { option: 'modify_headers', short: 'H', metavar: 'PATTERN' },
];

const TOOL_FLAGS: Record<ToolName, FlagSpec[]> = {
  dump: [{ option: 'flow_detail', metavar: 'LEVEL' }],
  web: [
    { option: 'web_open_browser' },
    { option: 'web_port', metavar: 'PORT' },
    { option: 'web_host', metavar: 'HOST' },
    { option: 'intercept', metavar: 'FILTER' },
  ],
};

/** What the command line asked for, beyond option values. */
export interface ParsedCommandLine {
  version: boolean;
  showOptions: boolean;
  showCommands: boolean;
  quiet: boolean;
  verbose: boolean;
  /** `--set` specs in order. */
  setOptions: string[];
  /** Values of dedicated flags, by option name. */
  flagValues: Record<string, unknown>;
  /** mitmdump's positional filter words. */
  filterArgs: string[];
}

const flagName = (option: string) => `--${option.replace(/_/g, '-')}`;

/** Help texts keep mitmproxy's wording; runs of whitespace are folded for the terminal, as argparse does. */
const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

function parseIntArg(v: string): number {
  if (!/^[+-]?\d+$/.test(v.trim())) throw new InvalidArgumentError('Not an integer.');
  return Number(v);
}

/**
 * Build the command line of a tool from the option registry: every flag of mitmproxy's
 * cmdline.py whose option is declared, with the option's help text.
 */
export function buildCommandLine(
  tool: ToolName,
  options: OptManager,
  programName: string,
): { program: Command; flagOptions: Map<string, string>; conflict: () => string | null } {
  const program = new Command(programName);
  program
    .usage(tool === 'dump' ? '[options] [filter...]' : '[options]')
    .helpOption('-h, --help', 'show this help message and exit')
    .option('--version', 'show version number and exit')
    .option('--options', 'Show all options and their default values')
    .option('--commands', 'Show all commands and their signatures')
    .option(
      '--set <option[=value]>',
      'Set an option. When the value is omitted, booleans are set to true, strings and integers are set to None (if permitted), and sequences are emptied. Boolean values can be true, false or toggle. Sequences are set using multiple invocations to set for the same option.',
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .option('-q, --quiet', 'Quiet.')
    .option('-v, --verbose', 'Increase log verbosity.')
    .allowExcessArguments(tool === 'dump')
    // As argparse: the usage line and "prog: error: ...", not the whole help.
    .configureOutput({ outputError: (text, write) => write(`${usageLine(tool, programName)}\n${programName}: ${text.replace(/^error: /, '')}`) });
  /** Commander attribute name -> option name. */
  const flagOptions = new Map<string, string>();
  /** The --x / --no-x pairs: argparse makes each a mutually exclusive group. */
  const boolPairs: Array<[Option, Option]> = [];
  const specs = tool === 'dump' ? [...COMMON_FLAGS, ...TOOL_FLAGS.dump] : [...TOOL_FLAGS.web, ...COMMON_FLAGS];
  for (const spec of specs) {
    if (!options.has(spec.option)) continue;
    const d = options.def(spec.option);
    const long = flagName(spec.option);
    let opt: Option;
    if (d.type === 'bool') {
      const on = new Option(`${spec.short && !d.defaultValue ? `-${spec.short}, ` : ''}${long}`, oneLine(d.help));
      const off = new Option(`${spec.short && d.defaultValue ? `-${spec.short}, ` : ''}--no-${spec.option.replace(/_/g, '-')}`);
      program.addOption(on);
      program.addOption(off);
      flagOptions.set(on.attributeName(), spec.option);
      boolPairs.push([on, off]);
      continue;
    }
    const metavar = spec.metavar ?? spec.option.toUpperCase();
    const flags = `${spec.short ? `-${spec.short}, ` : ''}${long} <${metavar}>`;
    if (d.type === 'sequence of str') {
      opt = new Option(flags, `${oneLine(d.help)} May be passed multiple times.`).argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
    } else if (d.type === 'int' || d.type === 'optional int') {
      opt = new Option(flags, oneLine(d.help)).argParser(parseIntArg);
    } else {
      opt = new Option(flags, oneLine(d.help));
      if (d.choices) opt.choices(d.choices);
    }
    program.addOption(opt);
    flagOptions.set(opt.attributeName(), spec.option);
  }
  if (tool === 'dump') {
    program.argument('[filter...]', 'Filter expression, equivalent to setting both the view_filter and save_stream_filter options.');
  }
  // Which halves of the pairs the command line gave (both is an error: parseCommandLine).
  const given = new Set<Option>();
  for (const [on, off] of boolPairs) {
    program.on(`option:${on.name()}`, () => given.add(on));
    program.on(`option:${off.name()}`, () => given.add(off));
  }
  const conflict = (): string | null => {
    for (const [on, off] of boolPairs) if (given.has(on) && given.has(off)) return `argument ${off.long}: not allowed with argument ${on.long}`;
    return null;
  };
  return { program, flagOptions, conflict };
}

/**
 * argparse accepts any unambiguous prefix of a long flag (`--ignore` for `--ignore-hosts`,
 * `--script` for `--scripts`), and scripts written for mitmdump use them; commander does not.
 * Such prefixes are written out in full before commander parses the line.
 */
function expandAbbreviations(program: Command, argv: string[]): string[] {
  const flags = new Map<string, Option>();
  for (const o of program.options) if (o.long) flags.set(o.long, o);
  const longs = [...flags.keys(), '--help'];
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (!arg.startsWith('--') || arg.length === 2) {
      out.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg : arg.slice(0, eq);
    let full = name;
    if (!longs.includes(name)) {
      const candidates = longs.filter((l) => l.startsWith(name));
      if (candidates.length > 1) program.error(`ambiguous option: ${name} could match ${candidates.join(', ')}`, { exitCode: 1 });
      if (candidates.length === 1) full = candidates[0]!;
    }
    out.push(eq < 0 ? full : full + arg.slice(eq));
    // The value of a flag that takes one is never a flag itself.
    if (eq < 0 && flags.get(full)?.required && i + 1 < argv.length) out.push(argv[++i]!);
  }
  return out;
}

/** argparse's usage line. */
function usageLine(tool: ToolName, programName: string): string {
  return `usage: ${programName} [options]${tool === 'dump' ? ' [filter]' : ''}`;
}

/** Parse argv (without the node and script paths). Commander prints errors and usage and exits. */
export function parseCommandLine(tool: ToolName, options: OptManager, programName: string, argv: string[]): ParsedCommandLine {
  const { program, flagOptions, conflict } = buildCommandLine(tool, options, programName);
  program.exitOverride(() => {
    // mitmdump exits 1 whenever argparse stops it: a command line it cannot parse, and -h too.
    process.exit(1);
  });
  program.parse(expandAbbreviations(program, argv), { from: 'user' });
  const clash = conflict();
  if (clash) program.error(clash, { exitCode: 1 });
  const o = program.opts<Record<string, unknown>>();
  const flagValues: Record<string, unknown> = {};
  for (const [attr, name] of flagOptions) if (o[attr] !== undefined) flagValues[name] = o[attr];
  return {
    version: Boolean(o.version),
    showOptions: Boolean(o.options),
    showCommands: Boolean(o.commands),
    quiet: Boolean(o.quiet),
    verbose: Boolean(o.verbose),
    setOptions: (o.set as string[] | undefined) ?? [],
    flagValues,
    filterArgs: tool === 'dump' ? (program.args as string[]) : [],
  };
}
