import { realpathSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Loader } from '../addonmanager.js';
import { Response, type HTTPFlow } from '../http.js';
import type { Master } from '../master.js';
import { expandHome } from '../optmanager.js';
import { pyStrRepr } from '../io/pyrepr.js';
import { SERVER_HEADER } from '../version.js';
import { guessMimeType } from './util/mimetypes.js';
import { pyOsErrorText } from './util/pyoserror.js';
import { compileStrPattern, pySearch, PatternError, type PyPattern } from './util/pyre.js';
import { parseSpec, parseSpecListOption, SpecError, type FlowMatcher } from './util/spec.js';
import { stripChar } from '../util/strip-char.js';

export interface MapLocalSpec {
  filter: FlowMatcher;
  regex: PyPattern;
  /** The file or directory, made absolute with symlinks resolved. */
  localPath: string;
}

/** Parse "[/flow-filter]/url-regex/file-or-directory-path"; the path must exist. Throws SpecError. */
export function parseMapLocalSpec(option: string): MapLocalSpec {
  const { filter, subject, replacement } = parseSpec(option);
  let regex: PyPattern;
  try {
    regex = compileStrPattern(subject);
  } catch (e) {
    if (e instanceof PatternError) throw new SpecError(`Invalid regular expression ${pyStrRepr(subject)} (${e.message})`);
    throw e;
  }
  let localPath: string;
  try {
    localPath = realpathSync(expandHome(replacement));
  } catch (e) {
    throw new SpecError(`Invalid file path: ${replacement} (${pyOsErrorText(e, replacement)})`);
  }
  if (regex.groups > 0 && !regex.sameNumbering) {
    throw new SpecError(`Invalid regular expression ${pyStrRepr(subject)} (groups cannot be used with atomic groups or possessive quantifiers)`);
  }
  return { filter, regex, localPath };
}

/** Python's urllib.parse.unquote: %XX runs decoded as UTF-8, invalid sequences become U+FFFD. */
function unquote(s: string): string {
  if (!s.includes('%')) return s;
  return s.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => {
    const bytes = Buffer.from(run.replace(/%/g, ''), 'hex');
    return new TextDecoder('utf-8').decode(bytes);
  });
}

/**
 * Join an untrusted relative path below `root`, or return null when it would escape it (an
 * absolute path or a `..` component), as werkzeug's safe_join over pathlib parts.
 */
function safeJoin(root: string, untrusted: string): string | null {
  if (untrusted.startsWith('/')) return null;
  const parts = untrusted.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return null;
  return posix.join(root, ...parts);
}

/**
 * The files that could answer `url` under a directory spec, most preferred first: the URL part
 * after the match (or regex group 1), percent-decoded, then that plus "/index.html", then the same
 * two with unusual characters replaced by "_". An empty remainder means the directory's
 * index.html. Any candidate that would leave the directory voids them all.
 */
export function fileCandidates(url: string, spec: MapLocalSpec): string[] {
  const m = pySearch(spec.regex, url);
  if (!m) return [];
  let suffix: string | undefined;
  if (spec.regex.groups > 0) suffix = m.group(1);
  else suffix = stripChar(url.slice(m.end).split('?')[0]!, '/');
  if (!suffix) return [join(spec.localPath, 'index.html')];
  const decoded = unquote(suffix);
  const names = [decoded, `${decoded}/index.html`];
  const escaped = decoded.replace(/[^0-9a-zA-Z\-_.=(),/]/gu, '_');
  if (escaped !== decoded) names.push(escaped, `${escaped}/index.html`);
  const out: string[] = [];
  for (const n of names) {
    const p = safeJoin(spec.localPath, n);
    if (p === null) return [];
    out.push(p);
  }
  return out;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * `map_local`: answer matching requests from local files. A spec naming a file serves that file;
 * a directory serves the file the rest of the URL names (see fileCandidates), with a guessed
 * Content-Type. When specs matched but none of their candidate files exists, the answer is 404.
 */
export class MapLocal {
  readonly name = 'maplocal';
  private master!: Master;
  private replacements: MapLocalSpec[] = [];

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption(
      'map_local',
      'sequence of str',
      [],
      'Map remote resources to a local file using a pattern of the form "[/flow-filter]/url-regex/file-or-directory-path", where the separator can be any character.',
    );
  }

  configure(updated: Set<string>): void {
    if (!updated.has('map_local')) return;
    this.replacements = parseSpecListOption('map_local', this.master.options.get<string[]>('map_local'), parseMapLocalSpec);
  }

  request(flow: HTTPFlow): Promise<void> | undefined {
    if (this.replacements.length === 0 || flow.response || flow.error || !flow.live) return undefined;
    return this.mapToLocalFile(flow);
  }

  private async mapToLocalFile(flow: HTTPFlow): Promise<void> {
    const url = flow.request.prettyUrl;
    const allCandidates: string[] = [];
    for (const spec of this.replacements) {
      if (!spec.filter.match(flow) || !pySearch(spec.regex, url)) continue;
      const candidates = (await isFile(spec.localPath)) ? [spec.localPath] : fileCandidates(url, spec);
      allCandidates.push(...candidates);
      let localFile: string | null = null;
      for (const c of candidates) {
        if (await isFile(c)) {
          localFile = c;
          break;
        }
      }
      if (!localFile) continue;
      const headers: Record<string, string> = { Server: SERVER_HEADER };
      const mime = guessMimeType(localFile);
      if (mime) headers['Content-Type'] = mime;
      let contents: Buffer;
      try {
        contents = await readFile(localFile);
      } catch (e) {
        this.master.log.warn(`Could not read file: ${(e as Error).message}`);
        continue;
      }
      // Only the first matching rule with an existing file answers.
      flow.response = Response.make(200, contents, headers);
      return;
    }
    if (allCandidates.length) {
      flow.response = Response.make(404);
      this.master.log.info(`None of the local file candidates exist: ${allCandidates.join(', ')}`);
    }
  }
}
