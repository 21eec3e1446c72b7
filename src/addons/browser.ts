import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { Loader } from '../addonmanager.js';
import type { Master } from '../master.js';
import { which } from '../util/which.js';

const CHROME_EXECUTABLES = [
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
  'C:\\Program Files (x86)\\Google\\Chrome\\Application\\chrome.exe',
  'C:\\Program Files (x86)\\Google\\Application\\chrome.exe',
  'google-chrome',
  'google-chrome-stable',
  'chrome',
  'chromium',
  'chromium-browser',
  'google-chrome-unstable',
];
const CHROME_FLATPAKS = ['com.google.Chrome', 'org.chromium.Chromium', 'com.github.Eloston.UngoogledChromium', 'com.google.ChromeDev'];
const FIREFOX_EXECUTABLES = ['/Applications/Firefox.app/Contents/MacOS/firefox', 'C:\\Program Files\\Mozilla Firefox\\firefox.exe', 'firefox', 'mozilla-firefox', 'mozilla'];
const FIREFOX_FLATPAKS = ['org.mozilla.firefox'];

/** Firefox preferences for a quiet, isolated profile (no first-run pages, updates, telemetry or prefetching). */
const FIREFOX_PREFS = [
  ['datareporting.policy.firstRunURL', '""'],
  ['network.proxy.type', '1'],
  ['network.proxy.share_proxy_settings', 'true'],
  ['datareporting.healthreport.uploadEnabled', 'false'],
  ['app.normandy.enabled', 'false'],
  ['app.update.auto', 'false'],
  ['app.update.enabled', 'false'],
  ['app.update.autoInstallEnabled', 'false'],
  ['app.shield.optoutstudies.enabled', 'false'],
  ['extensions.blocklist.enabled', 'false'],
  ['browser.safebrowsing.downloads.remote.enabled', 'false'],
  ['browser.region.network.url', '""'],
  ['browser.region.update.enabled', 'false'],
  ['browser.region.local-geocoding', 'false'],
  ['extensions.pocket.enabled', 'false'],
  ['network.captive-portal-service.enabled', 'false'],
  ['network.connectivity-service.enabled', 'false'],
  ['toolkit.telemetry.server', '""'],
  ['dom.push.serverURL', '""'],
  ['services.settings.enabled', 'false'],
  ['browser.newtab.preload', 'false'],
  ['browser.safebrowsing.provider.google4.updateURL', '""'],
  ['browser.safebrowsing.provider.mozilla.updateURL', '""'],
  ['browser.newtabpage.activity-stream.feeds.topsites', 'false'],
  ['browser.newtabpage.activity-stream.default.sites', '""'],
  ['browser.newtabpage.activity-stream.showSponsoredTopSites', 'false'],
  ['browser.bookmarks.restore_default_bookmarks', 'false'],
  ['browser.bookmarks.file', '""'],
] as const;

function findExecutable(names: readonly string[]): string[] | null {
  for (const n of names) if (which(n)) return [n];
  return null;
}

function findFlatpak(ids: readonly string[]): string[] | null {
  if (!which('flatpak')) return null;
  for (const id of ids) {
    if (spawnSync('flatpak', ['info', id], { stdio: 'ignore' }).status === 0) return ['flatpak', 'run', '-p', id];
  }
  return null;
}

/**
 * `browser.start [chrome|chromium|firefox]`: start a browser with a fresh temporary profile that
 * uses this proxy, so browsing there is intercepted without touching the user's own profile.
 * Browsers and profiles are removed again on shutdown.
 */
export class Browser {
  readonly name = 'browser';
  private master!: Master;
  readonly browsers: ChildProcess[] = [];
  private readonly profiles: string[] = [];

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addCommand('browser.start', { params: [{ name: 'browser', type: 'str', default: 'chrome' }] }, (browser: string = 'chrome') => this.start(browser));
  }

  /** Where the browser should send its traffic: the first listener if the proxy runs, else the options. */
  proxyAddress(): { host: string; port: number } {
    const ps = this.master.addons.get('proxyserver') as { listenAddresses?: () => Array<{ host: string; port: number }> } | undefined;
    const first = ps?.listenAddresses?.()[0];
    const o = this.master.options;
    const host = (first?.host || o.get<string>('listen_host')) || '127.0.0.1';
    const port = first?.port || o.get<number | null>('listen_port') || 8080;
    // A wildcard bind address is reachable on loopback.
    return { host: host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host, port };
  }

  /**
   * What cannot be started is said in the event log (an alert, which mitmweb shows), and the
   * command still succeeds with no value, as mitmproxy's does: a missing browser is no error of
   * the command line or API call that asked.
   */
  start(browser: string): void {
    if (this.browsers.length > 0) this.master.log.alert('Starting additional browser');
    if (browser === 'chrome' || browser === 'chromium') this.launchChrome();
    else if (browser === 'firefox') this.launchFirefox();
    else this.master.log.alert(`Invalid browser name: ${browser}. Use chrome, chromium or firefox.`);
  }

  private notFound(kind: string, names: readonly string[]): void {
    this.master.log.alert(
      `No ${kind} executable found (looked for ${names.filter((n) => !isAbsolute(n) && !n.includes('\\')).join(', ')} on PATH, the usual macOS/Windows locations and flatpak). Install one, or point any browser at the proxy yourself.`,
    );
  }

  private spawnBrowser(argv: string[], profile: string): void {
    const [cmd, ...args] = argv as [string, ...string[]];
    const child = spawn(cmd, args, { stdio: 'ignore' });
    child.on('error', (e) => this.master.log.warn(`Browser ${cmd} failed: ${e.message}`));
    this.browsers.push(child);
    this.profiles.push(profile);
  }

  private launchChrome(): void {
    const cmd = findExecutable(CHROME_EXECUTABLES) ?? findFlatpak(CHROME_FLATPAKS);
    if (!cmd) return this.notFound('Chrome or Chromium', CHROME_EXECUTABLES);
    const { host, port } = this.proxyAddress();
    const profile = mkdtempSync(join(tmpdir(), 'mitmproxy-browser-'));
    this.spawnBrowser(
      [
        ...cmd,
        `--user-data-dir=${profile}`,
        `--proxy-server=${host.includes(':') ? `[${host}]` : host}:${port}`,
        '--disable-fre',
        '--no-default-browser-check',
        '--no-first-run',
        '--disable-extensions',
        'about:blank',
      ],
      profile,
    );
  }

  private launchFirefox(): void {
    const cmd = findExecutable(FIREFOX_EXECUTABLES) ?? findFlatpak(FIREFOX_FLATPAKS);
    if (!cmd) return this.notFound('Firefox', FIREFOX_EXECUTABLES);
    const { host, port } = this.proxyAddress();
    const profile = mkdtempSync(join(tmpdir(), 'mitmproxy-browser-'));
    const prefs = FIREFOX_PREFS.map(([k, v]) => `user_pref("${k}", ${v});`);
    for (const service of ['http', 'ssl']) {
      prefs.push(`user_pref("network.proxy.${service}", "${host}");`, `user_pref("network.proxy.${service}_port", ${port});`);
    }
    writeFileSync(join(profile, 'prefs.js'), prefs.join('\n') + '\n');
    this.spawnBrowser([...cmd, '--profile', profile, '--new-window', 'about:blank'], profile);
  }

  done(): void {
    for (const b of this.browsers.splice(0)) if (b.exitCode === null && b.signalCode === null) b.kill('SIGKILL');
    for (const p of this.profiles.splice(0)) rmSync(p, { recursive: true, force: true });
  }
}
