import { register, createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/**
 * How addon scripts are imported: TypeScript files are compiled to ES modules by esbuild as they
 * load (whatever the package type of their directory, so `import ... from 'mitmproxy-ts'` always
 * works), and the bare name 'mitmproxy-ts' resolves to this very copy of the package, so classes
 * and state are shared with the running proxy. Both happen in a module loader hook (node's
 * `module.register`, Node >= 20.6).
 */

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
export async function resolve(specifier, context, next) {
  if (specifier === 'mitmproxy-ts') return { url: packageIndex, shortCircuit: true };
  try {
    return await next(specifier, context);
  } catch (e) {
    // TypeScript sources import "./util.js" meaning "./util.ts".
    const parent = context.parentURL ? context.parentURL.split('?')[0] : '';
    if (TS.test(parent) && /^\\.\\.?\\//.test(specifier) && /\\.[cm]?js$/.test(specifier)) {
      return next(specifier.replace(/\\.([cm]?)js$/, '.$1ts'), context);
    }
    throw e;
  }
}
export async function load(url, context, next) {
  const bare = url.split('?')[0];
  if (bare.startsWith('file:') && TS.test(bare)) {
    const path = fileURLToPath(bare);
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
