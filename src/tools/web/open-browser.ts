/**
 * `web_open_browser`: open the web UI's URL in the user's browser when mitmweb starts, from the
 * same short list of candidates as mitmweb (Python's webbrowser module limited to real browsers),
 * so a headless server opens nothing (not even a console browser) and says so instead.
 */
import { spawn } from 'node:child_process';
import { which } from '../../util/which.js';

/**
 * One way of opening a URL. `wait`: the command's exit status says whether it worked (Python's
 * GenericBrowser, for openers that return at once); otherwise a started process counts as an
 * opened browser (BackgroundBrowser and the browser classes).
 */
interface Opener {
  argv: (url: string) => string[];
  wait: boolean;
}

/**
 * The candidates in mitmweb's order (windows-default, macosx, wslview, gio, x-www-browser,
 * gnome-open, xdg-open, google-chrome, chrome, chromium, chromium-browser, firefox, opera,
 * safari). On Linux and the BSDs Python only registers the graphical ones when there is a
 * display (DISPLAY or WAYLAND_DISPLAY) and the program is on PATH; the two given as command
 * lines ("wslview %s", "gnome-open %s") are run whenever they exist.
 */
function browserCandidates(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): Opener[] {
  const path = env.PATH ?? '';
  if (platform === 'win32') return [{ argv: (url) => ['rundll32', 'url.dll,FileProtocolHandler', url], wait: false }];
  if (platform === 'darwin') return [{ argv: (url) => ['open', url], wait: true }];
  const out: Opener[] = [];
  const ifFound = (name: string, opener: Opener) => {
    if (which(name, path)) out.push(opener);
  };
  const display = Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
  const graphical = (name: string, argv: (url: string) => string[] = (url) => [name, url]) => {
    if (display) ifFound(name, { argv, wait: false });
  };
  ifFound('wslview', { argv: (url) => ['wslview', url], wait: true });
  graphical('gio', (url) => ['gio', 'open', '--', url]);
  graphical('x-www-browser');
  ifFound('gnome-open', { argv: (url) => ['gnome-open', url], wait: true });
  graphical('xdg-open');
  for (const name of ['google-chrome', 'chrome', 'chromium', 'chromium-browser', 'firefox', 'opera']) graphical(name);
  return out;
}

/** How long an opener whose exit status counts (wslview, gnome-open, open) may take. */
const OPENER_TIMEOUT_MS = 10_000;

/** Run one opener; resolves with whether it counts as having opened the URL. */
function tryOpener(opener: Opener, url: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  const [cmd, ...args] = opener.argv(url) as [string, ...string[]];
  return new Promise((resolve) => {
    let child;
    try {
      // An opener that hangs is killed after a while (its exit then counts as a failure), so the
      // next candidate, or the "No web browser found" hint, still comes.
      child = spawn(cmd, args, { env, stdio: 'ignore', detached: !opener.wait, ...(opener.wait ? { timeout: OPENER_TIMEOUT_MS } : {}) });
    } catch {
      resolve(false);
      return;
    }
    child.once('error', () => resolve(false));
    if (opener.wait) {
      child.once('exit', (code) => resolve(code === 0));
    } else {
      // The browser lives on its own: it neither holds mitmweb open nor dies with it.
      child.once('spawn', () => {
        child.unref();
        resolve(true);
      });
    }
  });
}

/** Open `url` with the first candidate that works; false when none does. */
export async function openBrowser(url: string, env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): Promise<boolean> {
  for (const opener of browserCandidates(env, platform)) {
    if (await tryOpener(opener, url, env)) return true;
  }
  return false;
}
