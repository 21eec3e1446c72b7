import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StickyAuth } from '../../src/addons/stickyauth.js';
import { addonMaster, makeFlow } from './helpers.js';

test('stickyauth remembers Authorization per host and adds it to matching requests', async () => {
  const sa = new StickyAuth();
  const m = await addonMaster([sa]);
  await assert.rejects(m.options.update({ stickyauth: '~b' }), /Invalid filter expression/);
  const first = makeFlow({ url: 'http://example.com/', headers: { Authorization: 'Basic abc' } });
  sa.request(first);
  assert.equal(sa.hosts.size, 0, 'nothing is recorded while off');

  await m.options.update({ stickyauth: '~d example.com' });
  sa.request(first);
  assert.deepEqual([...sa.hosts], [['example.com', 'Basic abc']]);
  const later = makeFlow({ url: 'http://example.com/other' });
  sa.request(later);
  assert.equal(later.request.headers.get('authorization'), 'Basic abc');
  const own = makeFlow({ url: 'http://example.com/', headers: { Authorization: 'Bearer new' } });
  sa.request(own);
  assert.equal(own.request.headers.get('authorization'), 'Bearer new', 'a request with its own credentials keeps them');
  assert.equal(sa.hosts.get('example.com'), 'Bearer new', 'and they become the remembered ones');
  const other = makeFlow({ url: 'http://example.org/' });
  sa.request(other);
  assert.equal(other.request.headers.has('authorization'), false);

  await m.options.update({ stickyauth: '~d nomatch.test' });
  const filtered = makeFlow({ url: 'http://example.com/x' });
  sa.request(filtered);
  assert.equal(filtered.request.headers.has('authorization'), false, 'requests outside the filter get nothing');
});
