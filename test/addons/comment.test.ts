import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Comment } from '../../src/addons/comment.js';
import type { AnyFlow } from '../../src/flows.js';
import { addonMaster, makeFlow } from './helpers.js';

test('flow.comment sets the comment on every flow and announces the update', async () => {
  const updates: AnyFlow[][] = [];
  const m = await addonMaster([new Comment(), { name: 'watch', update: (flows: AnyFlow[]) => void updates.push(flows) }]);
  const a = makeFlow();
  const b = makeFlow();
  await m.commands.call('flow.comment', [a, b], 'hello');
  assert.equal(a.comment, 'hello');
  assert.equal(b.comment, 'hello');
  assert.deepEqual(updates, [[a, b]]);
  const cmd = m.commands.get('flow.comment')!;
  assert.equal(cmd.signatureHelp(), 'flow.comment flow comment');
  assert.equal(cmd.help, 'Add a comment to a flow');
});
