import { promises as fsp } from 'node:fs';
import type { Loader } from '../addonmanager.js';
import { loadOrCreateCa, confdirPaths } from '../certs/index.js';
import { Headers } from '../headers.js';
import { Response, type HTTPFlow } from '../http.js';
import type { Master } from '../master.js';
import { onboardingPage } from './onboardingapp/page.js';

/** mitmproxy's APP_HOST. */
export const APP_HOST = 'mitm.it';

/** The certificate downloads: path -> [confdir file extension, Content-Type]. */
const CERT_ROUTES: Record<string, [ext: 'pem' | 'cer' | 'p12', contentType: string]> = {
  '/cert/pem': ['pem', 'application/x-x509-ca-cert'],
  '/cert/cer': ['cer', 'application/x-x509-ca-cert'],
  '/cert/p12': ['p12', 'application/x-pkcs12'],
};

/**
 * The onboarding app (http://mitm.it/): answers requests for `onboarding_host` inside the proxy,
 * without an upstream connection, with a page explaining how to install the CA and the CA
 * certificate downloads. The files are read from confdir on each request (as mitmproxy does), so
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
    const known = path === '/' || path in CERT_ROUTES;
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
