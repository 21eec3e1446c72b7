import { promises as fsp } from 'node:fs';
import type { Loader } from '../addonmanager.js';
import { join } from 'node:path';
import { loadOrCreateCa, confdirPaths, pemCertificates } from '../certs/index.js';
import { Headers } from '../headers.js';
import { Response, type HTTPFlow } from '../http.js';
import type { Master } from '../master.js';
import { onboardingPage } from './onboardingapp/page.js';
import { MAGISK_MODULE_FILE, magiskModule } from './onboardingapp/magisk.js';
import { faviconIco } from './onboardingapp/favicon.js';

/** mitmproxy's APP_HOST. */
export const APP_HOST = 'mitm.it';

/** The certificate downloads: path -> [confdir file extension, Content-Type]. */
const CERT_ROUTES: Record<string, [ext: 'pem' | 'cer' | 'p12', contentType: string]> = {
  '/cert/pem': ['pem', 'application/x-x509-ca-cert'],
  '/cert/cer': ['cer', 'application/x-x509-ca-cert'],
  '/cert/p12': ['p12', 'application/x-pkcs12'],
};

/** Static files (mitmproxy's page loads its icon, styles and logo from /static/; ours needs the icon only). */
const STATIC_ROUTES: Record<string, () => [body: Buffer, contentType: string]> = {
  '/static/images/favicon.ico': () => [faviconIco(), 'image/vnd.microsoft.icon'],
};

/**
 * The onboarding app (http://mitm.it/): answers requests for `onboarding_host` inside the proxy,
 * without an upstream connection, with a page explaining how to install the CA, the CA
 * certificate downloads, a Magisk module for rooted Android devices and the page's icon. The files are read from confdir on each request (as mitmproxy does), so
 * they always match the CA the TLS layer uses; when they are missing the CA is created first.
 */
export class Onboarding {
  readonly name = 'onboarding';
  private master!: Master;

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption('onboarding', 'bool', true, 'Toggle the mitmproxy onboarding app.');
    loader.addOption(
      'onboarding_host',
      'str',
      APP_HOST,
      'Onboarding app domain. For transparent mode, use an IP when a DNS entry for the app domain is not present.',
    );
  }

  request(flow: HTTPFlow): Promise<void> | undefined {
    const o = this.master.options;
    if (!o.get<boolean>('onboarding')) return undefined;
    // Same conditions as mitmproxy's in-proxy apps: a live flow nobody has answered or failed yet.
    if (!flow.live || flow.error || flow.response) return undefined;
    if (flow.request.prettyHost !== o.get<string>('onboarding_host')) return undefined;
    return this.respond(flow.request.method, flow.request.path).then((response) => {
      flow.response = response;
    });
  }

  private async respond(method: string, target: string): Promise<Response> {
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    const known = path === '/' || path === '/cert/magisk' || path in CERT_ROUTES || path in STATIC_ROUTES;
    if (!known) return textResponse(404, 'Not Found', 'The requested URL was not found on this server.');
    if (method !== 'GET' && method !== 'HEAD') {
      const r = textResponse(405, 'Method Not Allowed', 'The method is not allowed for the requested URL.');
      r.headers.set('Allow', 'GET, HEAD');
      return r;
    }

    let body: Buffer;
    const headers = new Headers();
    if (path === '/') {
      body = Buffer.from(onboardingPage(), 'utf8');
      headers.set('Content-Type', 'text/html; charset=utf-8');
    } else if (path in STATIC_ROUTES) {
      const [data, contentType] = STATIC_ROUTES[path]!();
      body = data;
      headers.set('Content-Type', contentType);
    } else if (path === '/cert/magisk') {
      try {
        body = await this.magiskModuleFile();
      } catch (e) {
        this.master.log.error(`onboarding: cannot serve the Magisk module: ${(e as Error).message}`);
        return textResponse(500, 'Internal Server Error', 'The Magisk module could not be written; the reason is in the proxy event log.');
      }
      headers.set('Content-Type', 'application/zip');
      headers.set('Content-Disposition', `attachment; filename=${MAGISK_MODULE_FILE}`);
    } else {
      const [ext, contentType] = CERT_ROUTES[path]!;
      try {
        body = await this.readCertFile(ext);
      } catch (e) {
        // The reason (with local paths) goes to the proxy's event log, not to the device.
        this.master.log.error(`onboarding: cannot serve the CA certificate: ${(e as Error).message}`);
        return textResponse(500, 'Internal Server Error', 'The CA certificate could not be read; the reason is in the proxy event log.');
      }
      const filename = `mitmproxy-ca-cert.${ext}`;
      headers.set('Content-Type', contentType);
      headers.set('Content-Disposition', `attachment; filename=${filename}`);
    }
    const response = Response.make(200, body, headers);
    // HEAD: the headers of the GET response (with its Content-Length), no body.
    if (method === 'HEAD') response.rawContent = Buffer.alloc(0);
    return response;
  }

  /**
   * confdir's Magisk module for the current CA, written there when missing, as mitmproxy does;
   * also rewritten when it is for another CA (one created after the module was), where
   * mitmproxy would keep serving the stale one.
   */
  private async magiskModuleFile(): Promise<Buffer> {
    const der = pemCertificates((await this.readCertFile('pem')).toString('utf8'))[0];
    if (!der) throw new Error('the CA certificate file holds no certificate');
    const zip = magiskModule(der);
    const file = join(confdirPaths(this.master.options.get<string>('confdir')).dir, MAGISK_MODULE_FILE);
    const existing = await fsp.readFile(file).catch(() => null);
    if (!existing?.equals(zip)) await fsp.writeFile(file, zip);
    return zip;
  }

  /** The bytes of confdir's mitmproxy-ca-cert.<ext>, creating the CA files first when they are missing. */
  private async readCertFile(ext: 'pem' | 'cer' | 'p12'): Promise<Buffer> {
    const o = this.master.options;
    const confdir = o.get<string>('confdir');
    const paths = confdirPaths(confdir);
    const file = ext === 'pem' ? paths.caCertPem : ext === 'cer' ? paths.caCertCer : paths.caCertP12;
    try {
      return await fsp.readFile(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    await loadOrCreateCa({
      confdir,
      keySize: o.get<number>('key_size'),
      passphrase: o.get<string | null>('cert_passphrase'),
      onWarning: (m) => this.master.log.warn(m),
    });
    return fsp.readFile(file);
  }
}

function textResponse(status: number, title: string, detail: string): Response {
  const html = `<!doctype html>\n<html lang="en">\n<title>${status} ${title}</title>\n<h1>${title}</h1>\n<p>${escapeHtml(detail)}</p>\n</html>\n`;
  return Response.make(status, html, { 'Content-Type': 'text/html; charset=utf-8' });
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
