import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpdateAltSvc, updateAltSvcHeader } from '../../src/addons/update_alt_svc.js';
import { Client } from '../../src/connection.js';
import { addonMaster, makeFlow } from './helpers.js';

test('updateAltSvcHeader rewrites every host:port', () => {
  assert.equal(updateAltSvcHeader('h3=":443"; ma=86400', 8443), 'h3=":8443"; ma=86400');
  assert.equal(updateAltSvcHeader('h3="example.com:443", h2="alt.example.com:8443"', 1234), 'h3=":1234", h2=":1234"');
  assert.equal(updateAltSvcHeader('clear', 1234), 'clear');
});

test('only reverse mode, only with the header, unless keep_alt_svc_header', async () => {
  const a = new UpdateAltSvc();
  const m = await addonMaster([a]);
  const client = (mode: string) => new Client({ peername: ['127.0.0.1', 5000], sockname: ['127.0.0.1', 8443], timestampStart: 1, proxyMode: mode });
  const rev = makeFlow({ client: client('reverse:https://example.com'), response: { headers: { 'Alt-Svc': 'h3="example.com:443"' } } });
  a.responseheaders(rev);
  assert.equal(rev.response!.headers.get('alt-svc'), 'h3=":8443"');
  const reg = makeFlow({ client: client('regular'), response: { headers: { 'Alt-Svc': 'h3=":443"' } } });
  a.responseheaders(reg);
  assert.equal(reg.response!.headers.get('alt-svc'), 'h3=":443"');
  const none = makeFlow({ client: client('reverse:https://example.com'), response: {} });
  a.responseheaders(none);
  assert.equal(none.response!.headers.has('alt-svc'), false);
  await m.options.update({ keep_alt_svc_header: true });
  const kept = makeFlow({ client: client('reverse:https://example.com'), response: { headers: { 'Alt-Svc': 'h3=":443"' } } });
  a.responseheaders(kept);
  assert.equal(kept.response!.headers.get('alt-svc'), 'h3=":443"');
});
