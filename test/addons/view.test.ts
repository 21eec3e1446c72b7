/**
 * The view addon: the store, the filtered and ordered view, its change events, the options and
 * the `view.*` commands (including `view.flows.resolve`, which typed `flow[]` arguments use).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Master } from '../../src/master.js';
import { View } from '../../src/addons/view.js';
import { Core } from '../../src/addons/core.js';
import type { AnyFlow } from '../../src/flows.js';
import { HTTPFlow } from '../../src/http.js';
import { writeFlowsToFile } from '../../src/io/flowwriter.js';
import { tdnsflow, tflow, ttcpflow } from '../web/fixtures.js';

async function setup(): Promise<{ m: Master; v: View; events: string[] }> {
  const m = new Master();
  const v = new View();
  await m.addons.add(new Core(), v);
  await m.run();
  const events: string[] = [];
  v.subscribe({
    add: (f) => events.push(`add ${f.id}`),
    update: (f) => events.push(`update ${f.id}`),
    remove: (f, i) => events.push(`remove ${f.id} ${i}`),
    refresh: () => events.push('refresh'),
    storeRemove: (f) => events.push(`storeRemove ${f.id}`),
    storeRefresh: () => events.push('storeRefresh'),
  });
  return { m, v, events };
}

function flowAt(ts: number, opts: { method?: string; path?: string; body?: string; id?: string } = {}): HTTPFlow {
  const f = tflow({ resp: true });
  f.timestampCreated = ts;
  if (opts.id) f.id = opts.id;
  if (opts.method) f.request.method = opts.method;
  if (opts.path) f.request.path = opts.path;
  if (opts.body !== undefined) f.request.content = Buffer.from(opts.body);
  return f;
}

const ids = (flows: Iterable<AnyFlow>) => [...flows].map((f) => f.id);

test('flows are kept in store order and shown sorted by time; duplicates ignored', async () => {
  const { v, events } = await setup();
  const a = flowAt(3, { id: 'a' });
  const b = flowAt(1, { id: 'b' });
  const c = flowAt(2, { id: 'c' });
  v.add([a, b, c, a]);
  assert.deepEqual(ids(v), ['b', 'c', 'a']);
  assert.deepEqual(ids(v.storedFlows()), ['a', 'b', 'c']);
  assert.equal(v.length, 3);
  assert.equal(v.storeCount, 3);
  assert.deepEqual(events, ['add a', 'add b', 'add c']);
  assert.equal(v.at(0), b);
  assert.equal(v.indexOf(a), 2);
  assert.equal(v.getById('c'), c);
  // Equal keys keep insertion order.
  const d = flowAt(2, { id: 'd' });
  v.add([d]);
  assert.deepEqual(ids(v), ['b', 'c', 'd', 'a']);
});

test('view_filter hides flows; updates move flows in and out with add/remove events', async () => {
  const { m, v, events } = await setup();
  const a = flowAt(1, { id: 'a', body: 'foo' });
  const b = flowAt(2, { id: 'b', body: 'bar' });
  v.add([a, b]);
  events.length = 0;
  await m.options.update({ view_filter: '~bq foo' });
  assert.deepEqual(ids(v), ['a']);
  assert.deepEqual(events, ['refresh']);
  assert.equal(v.getById('b'), b, 'hidden flows stay in the store');
  events.length = 0;
  b.request.content = Buffer.from('foo');
  v.update([b]);
  a.request.content = Buffer.from('nope');
  v.update([a]);
  a.comment = 'x';
  v.update([a]);
  b.comment = 'y';
  v.update([b]);
  assert.deepEqual(events, ['add b', 'remove a 0', 'update b']);
  assert.deepEqual(ids(v), ['b']);
  await assert.rejects(m.options.update({ view_filter: '~~' }), /Invalid filter expression/);
  assert.equal(m.options.get('view_filter'), '~bq foo');
  await m.options.update({ view_filter: null });
  assert.deepEqual(ids(v), ['a', 'b']);
});

test('view_order: method, url, size, time; reversed; a changed key refreshes', async () => {
  const { m, v, events } = await setup();
  const a = flowAt(1, { id: 'a', method: 'POST', path: '/b', body: 'xx' });
  const b = flowAt(2, { id: 'b', method: 'GET', path: '/c', body: 'xxxxxx' });
  const c = flowAt(3, { id: 'c', method: 'DELETE', path: '/a', body: '' });
  const t = ttcpflow();
  t.id = 't';
  t.timestampCreated = 4;
  v.add([a, b, c, t]);
  await m.options.update({ view_order: 'method' });
  assert.deepEqual(ids(v), ['c', 'b', 'a', 't']);
  await m.options.update({ view_order: 'url' });
  assert.deepEqual(ids(v), ['t', 'c', 'a', 'b'], 'TCP flows sort by their server address');
  // Sizes: request and response bodies (7 bytes each response), TCP message bytes (12).
  await m.options.update({ view_order: 'size' });
  assert.deepEqual(ids(v), ['c', 'a', 't', 'b']);
  await m.options.update({ view_order_reversed: true });
  assert.deepEqual(ids(v), ['b', 't', 'a', 'c']);
  assert.equal(v.at(0), b);
  assert.equal(v.indexOf(t), 1);
  events.length = 0;
  c.request.content = Buffer.alloc(100);
  v.update([c]);
  assert.deepEqual(events, ['refresh', 'update c']);
  assert.deepEqual(ids(v), ['c', 'b', 't', 'a']);
  await m.options.update({ view_order: 'time', view_order_reversed: false });
  assert.deepEqual(ids(v), ['a', 'b', 'c', 't']);
  await assert.rejects(m.options.updateUnchecked({ view_order: 'bogus' }), /Invalid value/);
});

test('remove kills live flows and tells where the flow was; clear and clear_unmarked', async () => {
  const { m, v, events } = await setup();
  const a = flowAt(1, { id: 'a' });
  const b = flowAt(2, { id: 'b' });
  const c = flowAt(3, { id: 'c' });
  v.add([a, b, c]);
  events.length = 0;
  v.remove([b]);
  assert.equal(b.error?.msg, 'Connection killed.');
  assert.deepEqual(events, ['remove b 1', 'storeRemove b']);
  assert.equal(v.getById('b'), undefined);
  a.marked = ':default:';
  await m.commands.call('view.clear_unmarked');
  assert.deepEqual(ids(v.storedFlows()), ['a']);
  await m.commands.call('view.clear');
  assert.equal(v.storeCount, 0);
  assert.equal(v.length, 0);
  assert.ok(events.includes('storeRefresh'));
});

test('view.flows.resolve: @all, @shown, @hidden, @marked, @unmarked, @focus, ids, filters', async () => {
  const { m, v } = await setup();
  const a = flowAt(1, { id: 'aaaaaaaa-0000-4000-8000-000000000001', body: 'foo' });
  const b = flowAt(2, { id: 'aaaaaaaa-0000-4000-8000-000000000002' });
  const dns = tdnsflow();
  dns.id = 'aaaaaaaa-0000-4000-8000-000000000003';
  dns.timestampCreated = 3;
  v.add([a, b, dns]);
  b.marked = ':grapes:';
  await m.options.update({ view_filter: '!~dns' });
  const r = (spec: string) => ids(v.resolve(spec));
  assert.deepEqual(r('@all'), [a.id, b.id, dns.id]);
  assert.deepEqual(r('@shown'), [a.id, b.id]);
  assert.deepEqual(r('@hidden'), [dns.id]);
  assert.deepEqual(r('@marked'), [b.id]);
  assert.deepEqual(r('@unmarked'), [a.id, dns.id]);
  assert.deepEqual(r('@focus'), [a.id], 'the first flow got the focus');
  assert.deepEqual(r(`@${b.id},${dns.id}`), [b.id, dns.id]);
  assert.deepEqual(r('~bq foo'), [a.id]);
  assert.throws(() => v.resolve('~~'), /Invalid filter expression/);
  // Typed command arguments resolve through it.
  await m.commands.execute(`flow.mark @${a.id} :default:`);
  assert.equal(a.marked, ':default:');
  const resolved = (await m.commands.callStrings('view.flows.resolve', ['@marked'])) as AnyFlow[];
  assert.deepEqual(ids(resolved), [a.id, b.id]);
});

test('focus follows the commands and the view', async () => {
  const { m, v } = await setup();
  const fs = [1, 2, 3, 4].map((i) => flowAt(i, { id: `f${i}` }));
  v.add(fs);
  assert.equal(v.focus.flow, fs[0]);
  await m.commands.call('view.focus.go', -1);
  assert.equal(v.focus.flow, fs[3]);
  await m.commands.call('view.focus.prev');
  assert.equal(v.focus.flow, fs[2]);
  await m.commands.call('view.focus.next');
  await m.commands.call('view.focus.next');
  assert.equal(v.focus.flow, fs[3]);
  v.remove([fs[3]!]);
  assert.equal(v.focus.flow, fs[2], 'the focus moves to the neighbour');
  await m.commands.call('view.focus.go', 0);
  assert.equal(v.focus.index, 0);
  await m.options.update({ console_focus_follow: true });
  const late = flowAt(9, { id: 'late' });
  v.add([late]);
  assert.equal(v.focus.flow, late);
  await m.commands.call('view.clear');
  assert.equal(v.focus.flow, null);
});

test('order, properties and settings commands', async () => {
  const { m, v } = await setup();
  const a = flowAt(1, { id: 'a' });
  const b = flowAt(2, { id: 'b' });
  v.add([a, b]);
  assert.deepEqual(await m.commands.call('view.order.options'), ['method', 'size', 'time', 'url']);
  assert.equal(await m.commands.call('view.order'), 'time');
  await m.commands.call('view.order.set', 'url');
  assert.equal(await m.commands.call('view.order'), 'url');
  await assert.rejects(m.commands.call('view.order.set', 'nope'), /Unknown flow order: nope/);
  await m.commands.call('view.order.reverse', true);
  assert.equal(v.orderReversed, true);
  assert.equal(await m.commands.call('view.properties.length'), 2);
  assert.equal(await m.commands.call('view.properties.inbounds', 1), true);
  assert.equal(await m.commands.call('view.properties.inbounds', 2), false);
  assert.equal(await m.commands.call('view.properties.marked'), false);
  a.marked = 'x';
  await m.commands.call('view.properties.marked.toggle');
  assert.deepEqual(ids(v), ['a']);
  await m.commands.call('view.properties.marked.toggle');
  await m.commands.callStrings('view.settings.setval', ['@all', 'key', 'value']);
  assert.equal(await m.commands.callStrings('view.settings.getval', ['~m GET', 'key', 'dflt']).catch((e: Error) => e.message), 'Command requires one flow, specification matched 2.');
  assert.equal(v.settings(a).key, 'value');
  await m.commands.callStrings('view.settings.setval.toggle', ['@all', 'flag']);
  assert.equal(v.settings(b).flag, 'true');
  await m.commands.callStrings('view.settings.setval.toggle', ['@all', 'flag']);
  assert.equal(v.settings(b).flag, 'false');
  await m.commands.callStrings('view.filter.set', ['~m POST']);
  assert.equal(v.length, 0);
  await assert.rejects(m.commands.callStrings('view.filter.set', ['~~']), /Invalid filter expression/);
  await m.commands.callStrings('view.filter.set', ['']);
  assert.equal(v.length, 2);
});

test('create, duplicate, load a file', async (t) => {
  const { m, v } = await setup();
  await m.commands.call('view.flows.create', 'post', 'https://example.com:8443/x?y=1');
  const created = v.at(0) as HTTPFlow;
  assert.equal(created.request.method, 'POST');
  assert.equal(created.request.url, 'https://example.com:8443/x?y=1');
  assert.equal(created.request.headers.get('host'), 'example.com');
  assert.deepEqual(created.serverConn.address, ['example.com', 8443]);
  await assert.rejects(m.commands.call('view.flows.create', 'get', 'not a url'), /Invalid URL/);
  await m.commands.callStrings('view.flows.duplicate', ['@all']);
  assert.equal(v.length, 2);
  assert.notEqual(v.at(1)!.id, created.id);
  assert.equal(v.focus.flow, v.at(1));
  const dir = mkdtempSync(join(tmpdir(), 'view-load-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'flows');
  const saved = [flowAt(100, { id: 'saved' })];
  writeFlowsToFile(file, saved);
  await m.commands.call('view.flows.load', file);
  await m.commands.call('view.flows.load', file);
  assert.equal(v.length, 4, 'each load adds copies with new ids');
  assert.ok(!ids(v).includes('saved'));
  const errors: string[] = [];
  m.log.subscribe((e) => e.level === 'error' && errors.push(e.message));
  await m.commands.call('view.flows.load', join(dir, 'missing'));
  assert.equal(errors.length, 1);
});

test('hooks: requestheaders/tcp_start/dns_request add, later hooks update', async () => {
  const { m, v, events } = await setup();
  const h = flowAt(1, { id: 'h' });
  await m.addons.trigger('requestheaders', h);
  await m.addons.trigger('response', h);
  const t = ttcpflow();
  t.id = 't';
  await m.addons.trigger('tcp_start', t);
  await m.addons.trigger('tcp_message', t);
  const d = tdnsflow();
  d.id = 'd';
  await m.addons.trigger('dns_request', d);
  await m.addons.trigger('dns_response', d);
  assert.equal(v.storeCount, 3);
  assert.deepEqual(events, ['add h', 'update h', 'add t', 'update t', 'add d', 'update d']);
  // The update hook (after every flow hook) updates too; unknown flows are ignored.
  events.length = 0;
  await m.addons.trigger('update', [h, tflow()]);
  assert.deepEqual(events, ['update h']);
});
