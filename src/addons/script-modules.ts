import { register, createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/**
 * How addon scripts are imported: TypeScript files are compiled to ES modules by esbuild as they
 * load (whatever the package type of their directory, so `import ... from 'mitmproxy-ts'` always
 * works), and the bare name 'mitmproxy-ts' resolves to this very copy of the package, so classes
 * and state are shared with the running proxy. Both happen in a module loader hook (node's
 * `module.register`, Node >= 20.6).
 *
 * The hook is process-wide, so it only touches what belongs to a script: the script's URL carries
 * a marker query (`SCRIPT_MARK`), and the files it imports from outside node_modules inherit it.
 * A program that embeds the proxy keeps its own module resolution and its own TypeScript loader;
 * and a script's helper files reload with it, since the marker changes with every load.
 */
export const SCRIPT_MARK = 'mitmproxy-ts-script';

const require = createRequire(import.meta.url);

// Runs in node's loader thread: plain JavaScript, no imports of our own code.
const HOOKS = `
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
let esbuild;
let packageIndex;
export async function initialize(data) {
  esbuild = await import(data.esbuild);
  packageIndex = data.index;
}
const TS = /\\.[cm]?ts$/;
const MARK = /[?&]${SCRIPT_MARK}=([^&#]*)/;
const withoutQuery = (url) => url.split(/[?#]/)[0];
export async function resolve(specifier, context, next) {
  const mark = MARK.exec(context.parentURL ?? '');
  if (!mark) return next(specifier, context);
  if (specifier === 'mitmproxy-ts') return { url: packageIndex, shortCircuit: true };
  let resolved;
  try {
    resolved = await next(specifier, context);
  } catch (e) {
    // TypeScript sources import "./util.js" meaning "./util.ts".
    if (!(TS.test(withoutQuery(context.parentURL)) && /^\\.\\.?\\//.test(specifier) && /\\.[cm]?js$/.test(specifier))) throw e;
    resolved = await next(specifier.replace(/\\.([cm]?)js$/, '.$1ts'), context);
  }
  const url = resolved.url;
  if (url.startsWith('file:') && !url.includes('/node_modules/') && !/[?#]/.test(url)) {
    return { ...resolved, url: url + '?${SCRIPT_MARK}=' + mark[1], shortCircuit: true };
  }
  return resolved;
}
export async function load(url, context, next) {
  if (url.startsWith('file:') && MARK.test(url) && TS.test(withoutQuery(url))) {
    const path = fileURLToPath(withoutQuery(url));
    const source = await readFile(path, 'utf8');
    const out = await esbuild.transform(source, { loader: 'ts', format: 'esm', sourcefile: path, sourcemap: 'inline', target: 'node20' });
    return { format: 'module', source: out.code, shortCircuit: true };
  }
  return next(url, context);
}
`;

let installed = false;

/** Install the loader hook once per process. */
export function installScriptLoaderHooks(): void {
  if (installed) return;
  installed = true;
  // Stack traces of TypeScript scripts point at their own lines.
  process.setSourceMapsEnabled(true);
  register(`data:text/javascript,${encodeURIComponent(HOOKS)}`, {
    data: {
      esbuild: pathToFileURL(require.resolve('esbuild')).href,
      index: new URL('../index.js', import.meta.url).href,
    },
  });
}

/**
 * Where a syntax error is: esbuild parses the file again to find the line (node's own
 * SyntaxError from a dynamic import does not carry the location).
 */
export async function syntaxErrorLocation(path: string): Promise<{ line: number; column: number; text: string } | null> {
  try {
    const esbuild = (await import('esbuild')) as typeof import('esbuild');
    const source = readFileSync(path, 'utf8');
    const loader = /\.[cm]?ts$/.test(path) ? 'ts' : 'js';
    await esbuild.transform(source, { loader, sourcefile: path, format: 'esm' });
    return null;
  } catch (e) {
    const first = (e as { errors?: Array<{ text: string; location: { line: number; column: number } | null }> }).errors?.[0];
    if (first?.location) return { line: first.location.line, column: first.location.column, text: first.text };
    return null;
  }
}
