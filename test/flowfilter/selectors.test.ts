/** spec/filters.md §7: flow selectors for `flow` / `flow[]` command arguments. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveFlowSpec, resolveSingleFlow, FilterError, FlowSpecError, type FlowSpecContext } from '../../src/flowfilter/index.js';
import type { AnyFlow } from '../../src/flows.js';
import { D, R, S, T } from './flows.js';

function store(): { flows: AnyFlow[]; ctx: FlowSpecContext } {
  const flows: AnyFlow[] = [R(), S(), T(), D()];
  flows[1]!.marked = ':default:';
  flows[2]!.marked = ':star:';
  const hidden = new Set([flows[0], flows[3]]);
  return { flows, ctx: { flows, isShown: (f) => !hidden.has(f), focus: flows[1]! } };
}

const ids = (list: AnyFlow[], all: AnyFlow[]): number[] => list.map((f) => all.indexOf(f));

test('@all, @shown, @hidden, @marked, @unmarked, @focus', () => {
  const { flows, ctx } = store();
  assert.deepEqual(ids(resolveFlowSpec('@all', ctx), flows), [0, 1, 2, 3]);
  assert.deepEqual(ids(resolveFlowSpec('@shown', ctx), flows), [1, 2]);
  assert.deepEqual(ids(resolveFlowSpec('@hidden', ctx), flows), [0, 3]);
  assert.deepEqual(ids(resolveFlowSpec('@marked', ctx), flows), [1, 2]);
  assert.deepEqual(ids(resolveFlowSpec('@unmarked', ctx), flows), [0, 3]);
  assert.deepEqual(ids(resolveFlowSpec('@focus', ctx), flows), [1]);
  assert.deepEqual(resolveFlowSpec('@focus', { ...ctx, focus: null }), []);
});

test('@shown keeps the view order when the context gives it', () => {
  const { flows, ctx } = store();
  assert.deepEqual(ids(resolveFlowSpec('@shown', { ...ctx, shown: [flows[2]!, flows[1]!] }), flows), [2, 1]);
});

test('@<id>[,<id>...] selects by id (at least 36 characters of hex, - and ,)', () => {
  const { flows, ctx } = store();
  assert.deepEqual(ids(resolveFlowSpec(`@${flows[2]!.id}`, ctx), flows), [2]);
  assert.deepEqual(ids(resolveFlowSpec(`@${flows[3]!.id},${flows[0]!.id}`, ctx), flows), [0, 3], 'store order, not the order given');
  assert.deepEqual(resolveFlowSpec('@' + '0'.repeat(36), ctx), []);
});

test('anything else is a filter over every stored flow (shown or not)', () => {
  const { flows, ctx } = store();
  assert.deepEqual(ids(resolveFlowSpec('~http', ctx), flows), [0, 1]);
  assert.deepEqual(ids(resolveFlowSpec('~q', ctx), flows), [0, 3]);
  assert.deepEqual(ids(resolveFlowSpec('@nothing', ctx), flows), [], '"@nothing" is the URL regex @nothing');
  assert.throws(() => resolveFlowSpec('~x', ctx), FilterError);
  assert.throws(() => resolveFlowSpec('', ctx), /Empty filter expression/);
});

test('a single flow argument must match exactly one flow', () => {
  const { flows, ctx } = store();
  assert.equal(resolveSingleFlow('@focus', ctx), flows[1]);
  assert.throws(() => resolveSingleFlow('@all', ctx), (e: unknown) => e instanceof FlowSpecError && e.message === 'Command requires one flow, specification matched 4.');
  assert.throws(() => resolveSingleFlow('~websocket', ctx), /specification matched 0\./);
});
