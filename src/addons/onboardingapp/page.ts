/**
 * The onboarding page served at http://mitm.it/: one self-contained HTML document (inline CSS, no
 * scripts, no assets but its icon from the same app) so it works on a device that trusts nothing
 * yet and has no other network access than the proxy.
 */

export const PAGE_TITLE = "Install mitmproxy's Certificate Authority";

interface Platform {
  id: string;
  title: string;
  /** Download links: file extension -> label. */
  files: Array<'pem' | 'p12' | 'cer'>;
  steps: string;
}

const PLATFORMS: Platform[] = [
  {
    id: 'windows',
    title: 'Windows',
    files: ['p12'],
    steps: `
      <ol>
        <li>Open the downloaded <code>mitmproxy-ca-cert.p12</code>; the Certificate Import Wizard starts.</li>
        <li>Choose whether only you (<em>Current User</em>) or every user (<em>Local Machine</em>) should trust it, then continue.</li>
        <li>Leave the password field empty.</li>
        <li>When asked where to store it, pick <em>Place all certificates in the following store</em>, then
          <em>Browse</em> and select <strong>Trusted Root Certification Authorities</strong>.</li>
        <li>Finish the wizard and confirm the security warning.</li>
      </ol>
      <p>From an administrator prompt instead: <code>certutil.exe -addstore root mitmproxy-ca-cert.cer</code></p>`,
  },
  {
    id: 'linux',
    title: 'Linux',
    files: ['pem'],
    steps: `
      <p>Debian and Ubuntu:</p>
      <ol>
        <li><code>sudo cp mitmproxy-ca-cert.pem /usr/local/share/ca-certificates/mitmproxy.crt</code></li>
        <li><code>sudo update-ca-certificates</code></li>
      </ol>
      <p>Fedora, RHEL and derivatives:</p>
      <ol>
        <li><code>sudo cp mitmproxy-ca-cert.pem /etc/pki/ca-trust/source/anchors/</code></li>
        <li><code>sudo update-ca-trust</code></li>
      </ol>
      <p>Arch Linux: <code>sudo trust anchor --store mitmproxy-ca-cert.pem</code></p>
      <p>Some programs (Firefox, Java, Node.js, Python's requests) keep their own list of trusted authorities and need it added there as well.</p>`,
  },
  {
    id: 'macos',
    title: 'macOS',
    files: ['pem'],
    steps: `
      <ol>
        <li>Open the downloaded <code>mitmproxy-ca-cert.pem</code>; Keychain Access adds it to your login keychain.</li>
        <li>Find the certificate named <em>mitmproxy</em> and open it.</li>
        <li>Under <em>Trust</em>, set <em>When using this certificate</em> to <strong>Always Trust</strong>.</li>
        <li>Close the window and confirm with your password.</li>
      </ol>
      <p>From a terminal instead:
        <code>sudo security add-trusted-cert -d -p ssl -p basic -k /Library/Keychains/System.keychain mitmproxy-ca-cert.pem</code></p>`,
  },
  {
    id: 'ios',
    title: 'iOS',
    files: ['pem'],
    steps: `
      <ol>
        <li>Download the certificate with Safari (other browsers do not offer to install profiles) and allow the download.</li>
        <li>Install the downloaded profile in <em>Settings &rarr; General &rarr; VPN &amp; Device Management</em>.</li>
        <li><strong>Then enable full trust</strong>, which iOS does not do by itself: <em>Settings &rarr; General &rarr; About &rarr;
          Certificate Trust Settings</em>, switch <em>mitmproxy</em> on.</li>
      </ol>`,
  },
  {
    id: 'android',
    title: 'Android',
    files: ['cer'],
    steps: `
      <ol>
        <li>Open the downloaded <code>mitmproxy-ca-cert.cer</code>, or install it from <em>Settings &rarr; Security &rarr;
          Encryption &amp; credentials &rarr; Install a certificate &rarr; CA certificate</em> (names vary between vendors).</li>
        <li>Give it a name such as <em>mitmproxy</em> and confirm.</li>
      </ol>
      <p class="note">Since Android 7, apps only trust certificates a user installed when they opt in through their network
        security configuration. Browsers do; most other apps need to be rebuilt with such a configuration, or the
        certificate must go into the system store of a rooted device.</p>
      <p>On a rooted device with Magisk, <a href="/cert/magisk">this Magisk module</a> puts the certificate into the system
        store: install it from the Modules tab of the Magisk app and reboot.</p>`,
  },
  {
    id: 'firefox',
    title: 'Firefox',
    files: ['pem'],
    steps: `
      <p>Firefox uses its own list of authorities, not the operating system's.</p>
      <ol>
        <li>Open <em>Settings &rarr; Privacy &amp; Security</em> and click <em>View Certificates&hellip;</em> near the bottom.</li>
        <li>On the <em>Authorities</em> tab click <em>Import&hellip;</em> and choose the downloaded file.</li>
        <li>Tick <strong>Trust this CA to identify websites</strong> and confirm.</li>
      </ol>`,
  },
  {
    id: 'other',
    title: 'Other platforms',
    files: ['pem', 'p12'],
    steps: `
      <p>Most systems accept one of these two formats. Add the certificate to the system's or the application's list of
        trusted certificate authorities.</p>`,
  },
];

function platformHtml(p: Platform): string {
  const links = p.files
    .map((ext) => `<a class="get" href="/cert/${ext}">Get mitmproxy-ca-cert.${ext}</a>`)
    .join(' ');
  return `
  <section id="${p.id}">
    <h2>${p.title}</h2>
    <p>${links}</p>
    <details><summary>Show instructions</summary>${p.steps}
    </details>
  </section>`;
}

/** The HTML of the onboarding page. */
export function onboardingPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${PAGE_TITLE}</title>
<link rel="icon" href="/static/images/favicon.ico" type="image/x-icon">
<style>
  body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; color: #222; }
  h1 { font-size: 1.6rem; }
  h2 { font-size: 1.2rem; margin-bottom: 0.3rem; }
  section { border-top: 1px solid #ddd; padding: 0.5rem 0; }
  a.get { display: inline-block; background: #2a7a2a; color: #fff; padding: 0.2rem 0.7rem; border-radius: 4px; text-decoration: none; }
  code { background: #f2f2f2; padding: 0 0.2rem; word-break: break-all; }
  .note, footer { color: #666; }
</style>
</head>
<body>
<h1>${PAGE_TITLE}</h1>
<p>To inspect encrypted (HTTPS) traffic, this device must trust the certificate authority of the mitmproxy instance
  you are connected through. Download the certificate for your platform and follow the instructions.</p>
${PLATFORMS.map(platformHtml).join('\n')}
<footer>
  <p>This page is served by the mitmproxy instance your traffic goes through. Its certificate authority was generated
    on that instance's first start and is not shared with other installations, so other mitmproxy users cannot
    intercept your connections with it. Remove the certificate again when you no longer need it.</p>
</footer>
</body>
</html>
`;
}
