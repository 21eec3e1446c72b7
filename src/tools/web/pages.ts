/**
 * The two HTML pages the API serves itself: the landing page at `/` (mitmproxy-ts has no bundled
 * front end) and the login form shown to unauthenticated browsers. Every link is relative, so the
 * pages work behind a path prefix too.
 */
import { escapeHtml } from './errors.js';

const STYLE = `body{font-family:system-ui,sans-serif;max-width:46em;margin:2em auto;padding:0 1em;line-height:1.5;color:#222}
code,pre{background:#f3f3f3;padding:.1em .3em;border-radius:3px}pre{padding:.6em;overflow-x:auto}`;

export interface IndexPageInfo {
  version: string;
  /** The token to put in links, or null when a password is configured. */
  token: string | null;
  /** The URL the API was started at (from the startup log line). */
  webUrl: string;
}

/** The landing page: what this is, links to the main resources, how to use a front end with it. */
export function indexPage(info: IndexPageInfo): string {
  const q = info.token !== null ? `?token=${encodeURIComponent(info.token)}` : '';
  const link = (path: string, label: string) => `<li><a href="./${path}${q}">${escapeHtml(label)}</a></li>`;
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>mitmweb API (mitmproxy-ts)</title><style>${STYLE}</style></head>
<body>
<h1>mitmweb API</h1>
<p>This is the mitmweb REST and WebSocket API of <b>mitmproxy-ts</b> ${escapeHtml(info.version)}, compatible with mitmproxy's web interface. No browser front end is bundled.</p>
<ul>
${link('flows', 'Flows in the view (JSON)')}
${link('state', 'Proxy state (JSON)')}
${link('events', 'Event log (JSON)')}
${link('options', 'Options (JSON)')}
${link('commands', 'Commands (JSON)')}
${link('filter-help', 'Filter expressions (JSON)')}
</ul>
<p>Live updates are pushed on the WebSocket <code>./updates</code>.</p>
<h2>Scripts</h2>
<p>Send the token as <code>Authorization: Bearer &lt;token&gt;</code> (or <code>?token=</code>). Requests other than GET must also send an XSRF token twice, as a cookie and as a header with the same value:</p>
<pre>curl -H 'Authorization: Bearer TOKEN' -H 'Cookie: _mitmproxy_xsrf=x' -H 'X-XSRFToken: x' -X POST ${escapeHtml(info.webUrl.replace(/\?.*$/, ''))}flows/resume</pre>
<h2>A front end</h2>
<p>mitmproxy's web front end (the <code>web/</code> directory of the mitmproxy repository) works with this API unchanged:</p>
<ul>
<li>run its development server with its backend proxy pointed at this address, or</li>
<li>build it and start mitmproxy-ts with <code>MITMWEB_STATIC_DIR=&lt;directory with index.html and static/&gt;</code>; this page is then replaced by the front end.</li>
</ul>
</body></html>
`;
}

/** The login form (status 403): a password field named `token` and the hidden XSRF field. */
export function loginPage(invalidPassword: boolean, xsrfToken: string): string {
  const heading = invalidPassword ? '403 Invalid Password' : '403 Authentication Required';
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>mitmweb: ${heading}</title><style>${STYLE}</style></head>
<body>
<h1>${heading}</h1>
<p>Open the link with the token that mitmweb printed at startup, or enter the token or password:</p>
<form action="./" method="post">
<input type="hidden" name="_xsrf" value="${escapeHtml(xsrfToken)}">
<input type="password" name="token" autofocus placeholder="token or password">
<button type="submit">Log in</button>
</form>
</body></html>
`;
}
