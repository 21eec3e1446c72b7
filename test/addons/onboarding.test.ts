import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Master } from '../../src/master.js';
import { Onboarding, APP_HOST } from '../../src/addons/onboarding.js';
import { HTTPFlow, Request, Response } from '../../src/http.js';
import { Client, Server } from '../../src/connection.js';
import { FlowError } from '../../src/flow.js';
import { Headers } from '../../src/headers.js';
import { zipFileNames } from '../../src/contentviews/views/zip.js';

const HAS_OPENSSL = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;
const HAS_PYTHON = spawnSync('python3', ['--version'], { stdio: 'ignore' }).status === 0;

function flowFor(method: string, url: string, headers?: Record<string, string>): HTTPFlow {
  const req = Request.make(method, url, '', headers ? new Headers(Object.entries(headers)) : undefined);
  return new HTTPFlow(new Client({ peername: ['127.0.0.1', 50000], sockname: ['127.0.0.1', 8080] }), new Server(), true, req);
}

describe('onboarding addon', () => {
  const confdir = join(mkdtempSync(join(tmpdir(), 'mitmts-onboarding-')), 'conf');
  after(() => rmSync(join(confdir, '..'), { recursive: true, force: true }));
  let master: Master;

  before(async () => {
    master = new Master();
    await master.addAddons(new Onboarding());
    await master.options.update({ confdir, key_size: 1024 });
  });

  async function request(method: string, url: string, headers?: Record<string, string>): Promise<HTTPFlow> {
    const f = flowFor(method, url, headers);
    await master.addons.trigger('request', f);
    return f;
  }

  it("declares mitmproxy's options", () => {
    const o = master.options.toJSON();
    assert.deepEqual(o.onboarding, { type: 'bool', default: true, value: true, help: 'Toggle the mitmproxy onboarding app.', choices: null });
    assert.equal(o.onboarding_host!.default, APP_HOST);
    assert.equal(o.onboarding_host!.help, 'Onboarding app domain. For transparent mode, use an IP when a DNS entry for the app domain is not present.');
  });

  it('creates the CA on first download and serves the confdir files byte for byte', async () => {
    assert.equal(existsSync(join(confdir, 'mitmproxy-ca.pem')), false);
    const cases: Array<[string, string, string]> = [
      ['pem', 'application/x-x509-ca-cert', 'mitmproxy-ca-cert.pem'],
      ['cer', 'application/x-x509-ca-cert', 'mitmproxy-ca-cert.cer'],
      ['p12', 'application/x-pkcs12', 'mitmproxy-ca-cert.p12'],
    ];
    for (const [ext, type, file] of cases) {
      const f = await request('GET', `http://mitm.it/cert/${ext}`);
      assert.ok(f.response, ext);
      assert.equal(f.response.statusCode, 200);
      assert.equal(f.response.headers.get('content-type'), type);
      assert.equal(f.response.headers.get('content-disposition'), `attachment; filename=${file}`);
      assert.deepEqual(f.response.content, readFileSync(join(confdir, file)));
      assert.equal(f.response.headers.get('content-length'), String(readFileSync(join(confdir, file)).length));
    }
    assert.match(readFileSync(join(confdir, 'mitmproxy-ca-cert.pem'), 'utf8'), /^-----BEGIN CERTIFICATE-----/);
  });

  it('serves a Magisk module, written to confdir: the CA in DER under its subject_hash_old name, in a zip Python reads', { skip: !HAS_OPENSSL || !HAS_PYTHON }, async () => {
    const f = await request('GET', 'http://mitm.it/cert/magisk');
    assert.equal(f.response!.statusCode, 200);
    assert.equal(f.response!.headers.get('content-type'), 'application/zip');
    assert.equal(f.response!.headers.get('content-disposition'), 'attachment; filename=mitmproxy-magisk-module.zip');
    const zip = f.response!.content!;
    assert.deepEqual(readFileSync(join(confdir, 'mitmproxy-magisk-module.zip')), zip);
    const hash = spawnSync('openssl', ['x509', '-noout', '-subject_hash_old', '-in', join(confdir, 'mitmproxy-ca-cert.pem')], { encoding: 'utf8' }).stdout.trim();
    assert.match(hash, /^[0-9a-f]{8}$/);
    const caEntry = `system/etc/security/cacerts/${hash}.0`;
    assert.deepEqual(zipFileNames(zip), [
      caEntry,
      'module.prop',
      'config.sh',
      'META-INF/com/google/android/updater-script',
      'META-INF/com/google/android/update-binary',
      'common/file_contexts_image',
      'common/post-fs-data.sh',
      'common/service.sh',
      'common/system.prop',
    ]);
    const py = spawnSync(
      'python3',
      ['-c', 'import sys, zipfile, io; z = zipfile.ZipFile(io.BytesIO(sys.stdin.buffer.read())); assert z.testzip() is None; sys.stdout.buffer.write(z.read(sys.argv[1]) + b"\\n---\\n" + z.read("module.prop"))', caEntry],
      { input: zip },
    );
    assert.equal(py.status, 0, py.stderr.toString());
    const [der, prop] = [py.stdout.subarray(0, py.stdout.indexOf('\n---\n')), py.stdout.subarray(py.stdout.indexOf('\n---\n') + 5).toString()];
    const pemDer = Buffer.from(readFileSync(join(confdir, 'mitmproxy-ca-cert.pem'), 'utf8').replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    assert.deepEqual(der, pemDer, 'the CA certificate in DER');
    assert.match(prop, /^id=mitmproxycert$/m);
    assert.deepEqual((await request('GET', 'http://mitm.it/cert/magisk')).response!.content, zip, 'the same CA gives the same module');
  });

  it('serves the page icon under /static/ and nothing else there', async () => {
    const f = await request('GET', 'http://mitm.it/static/images/favicon.ico');
    assert.equal(f.response!.statusCode, 200);
    assert.equal(f.response!.headers.get('content-type'), 'image/vnd.microsoft.icon');
    assert.deepEqual(f.response!.content!.subarray(0, 6), Buffer.from([0, 0, 1, 0, 1, 0]), 'an ICO file with one image');
    assert.match((await request('GET', 'http://mitm.it/')).response!.text!, /<link rel="icon" href="\/static\/images\/favicon\.ico"/);
    assert.equal((await request('GET', 'http://mitm.it/static/mitmproxy.css')).response!.statusCode, 404);
  });

  it('serves a p12 openssl opens without a password', { skip: !HAS_OPENSSL }, async () => {
    const f = await request('GET', 'http://mitm.it/cert/p12');
    const r = spawnSync('openssl', ['pkcs12', '-info', '-nodes', '-passin', 'pass:'], { input: f.response!.content!, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /friendlyName: mitmproxy/);
  });

  it('serves the instructions page', async () => {
    const f = await request('GET', 'http://mitm.it/');
    assert.equal(f.response!.statusCode, 200);
    assert.equal(f.response!.headers.get('content-type'), 'text/html; charset=utf-8');
    const html = f.response!.text!;
    assert.match(html, /<title>Install mitmproxy's Certificate Authority<\/title>/);
    for (const [platform, ext] of [
      ['Windows', 'p12'],
      ['Linux', 'pem'],
      ['macOS', 'pem'],
      ['iOS', 'pem'],
      ['Android', 'cer'],
      ['Android', 'magisk'],
      ['Firefox', 'pem'],
      ['Other platforms', 'p12'],
    ] as const) {
      const start = html.indexOf(`<h2>${platform}</h2>`);
      assert.ok(start >= 0, platform);
      const section = html.slice(start, html.indexOf('</section>', start));
      assert.match(section, new RegExp(`href="/cert/${ext}"`), platform);
    }
  });

  it('answers HEAD with the headers only', async () => {
    const f = await request('HEAD', 'http://mitm.it/cert/pem');
    assert.equal(f.response!.statusCode, 200);
    assert.equal(f.response!.rawContent!.length, 0);
    assert.equal(f.response!.headers.get('content-length'), String(readFileSync(join(confdir, 'mitmproxy-ca-cert.pem')).length));
    assert.match(f.response!.headers.get('content-disposition')!, /^attachment/);
  });

  it('ignores the query string, answers 404 for unknown paths and 405 for other methods', async () => {
    assert.equal((await request('GET', 'http://mitm.it/cert/pem?download=1')).response!.statusCode, 200);
    assert.equal((await request('GET', 'http://mitm.it/cert/der')).response!.statusCode, 404);
    assert.equal((await request('GET', 'http://mitm.it/cert/pem/')).response!.statusCode, 404);
    const post = await request('POST', 'http://mitm.it/cert/pem');
    assert.equal(post.response!.statusCode, 405);
    assert.equal(post.response!.headers.get('allow'), 'GET, HEAD');
  });

  it('matches the pretty host (Host header), not the connection target', async () => {
    const viaHost = await request('GET', 'http://10.9.9.9/', { Host: 'mitm.it' });
    assert.equal(viaHost.response!.statusCode, 200);
    assert.equal((await request('GET', 'http://example.com/')).response, null);
    assert.equal((await request('GET', 'http://mitm.it.example.com/')).response, null);
    assert.equal((await request('GET', 'https://mitm.it:8443/cert/cer')).response!.statusCode, 200);
  });

  it('leaves flows alone that are answered, failed or not live, or when turned off', async () => {
    const answered = flowFor('GET', 'http://mitm.it/');
    const existing = Response.make(204);
    answered.response = existing;
    await master.addons.trigger('request', answered);
    assert.equal(answered.response, existing);

    const failed = flowFor('GET', 'http://mitm.it/');
    failed.error = new FlowError('boom');
    await master.addons.trigger('request', failed);
    assert.equal(failed.response, null);

    const replayed = flowFor('GET', 'http://mitm.it/');
    replayed.live = false;
    await master.addons.trigger('request', replayed);
    assert.equal(replayed.response, null);

    await master.options.update({ onboarding: false });
    try {
      assert.equal((await request('GET', 'http://mitm.it/')).response, null);
    } finally {
      await master.options.update({ onboarding: true });
    }
  });

  it('follows onboarding_host, e.g. an IP for transparent mode', async () => {
    await master.options.update({ onboarding_host: '10.0.0.1' });
    try {
      assert.equal((await request('GET', 'http://10.0.0.1/cert/pem')).response!.statusCode, 200);
      assert.equal((await request('GET', 'http://mitm.it/cert/pem')).response, null);
    } finally {
      await master.options.update({ onboarding_host: APP_HOST });
    }
  });

  it('follows confdir changes', async () => {
    const other = join(confdir, '..', 'other');
    await master.options.update({ confdir: other });
    try {
      const f = await request('GET', 'http://mitm.it/cert/pem');
      assert.deepEqual(f.response!.content, readFileSync(join(other, 'mitmproxy-ca-cert.pem')));
      assert.notDeepEqual(f.response!.content, readFileSync(join(confdir, 'mitmproxy-ca-cert.pem')));
    } finally {
      await master.options.update({ confdir });
    }
  });

  it('answers 500 with the reason when the CA cannot be loaded', async () => {
    const broken = join(confdir, '..', 'broken');
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, 'mitmproxy-ca.pem'), 'not a CA\n');
    await master.options.update({ confdir: broken });
    const logged: string[] = [];
    const unsubscribe = master.log.subscribe((e) => logged.push(`${e.level}: ${e.message}`));
    try {
      const f = await request('GET', 'http://mitm.it/cert/pem');
      assert.equal(f.response!.statusCode, 500);
      assert.doesNotMatch(f.response!.text!, new RegExp(broken), 'no local paths are sent to the device');
      assert.equal(logged.length, 1);
      assert.match(logged[0]!, /^error: onboarding: cannot serve the CA certificate: .*no private key found/);
    } finally {
      unsubscribe();
      await master.options.update({ confdir });
    }
  });
});
