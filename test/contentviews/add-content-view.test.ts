import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addContentView, removeContentView, type ContentViewMetadata } from '../../src/index.js';
import { availableViews, prettify } from '../../src/contentviews/index.js';

test('addContentView: a class or an object, named after its class unless it says, with mitmproxy defaults; auto picks it by priority', (t) => {
  class ShoutContentView {
    render(data: Buffer): string {
      return data.toString().toUpperCase();
    }
    renderPriority(_data: Buffer, metadata: ContentViewMetadata): number {
      return metadata.contentType === 'text/shout' ? 2 : -1;
    }
  }
  t.after(() => {
    removeContentView('shout');
    removeContentView('Reversed');
  });
  assert.equal(addContentView(ShoutContentView), 'Shout');
  assert.ok(availableViews().includes('shout'));
  const shout = prettify('auto', Buffer.from('hey'), { contentType: 'text/shout' });
  assert.deepEqual([shout.text, shout.viewName, shout.syntaxHighlight], ['HEY', 'Shout', 'none']);
  assert.notEqual(prettify('auto', Buffer.from('hey'), { contentType: 'text/plain' }).viewName, 'Shout');

  // An object with a name; no renderPriority means 0, so auto never prefers it to raw, but it can be chosen by name.
  assert.equal(addContentView({ name: 'Reversed', syntaxHighlight: 'yaml', render: (d) => [...d.toString()].reverse().join('') }), 'Reversed');
  const r = prettify('reversed', Buffer.from('abc'));
  assert.deepEqual([r.text, r.syntaxHighlight], ['cba', 'yaml']);
  // The same name again replaces the view instead of adding a second (a reloaded script).
  addContentView({ name: 'reversed', render: () => 'v2' });
  assert.equal(prettify('Reversed', Buffer.from('abc')).text, 'v2');
  assert.equal(availableViews().filter((v) => v === 'reversed').length, 1);

  assert.equal(removeContentView('SHOUT'), true);
  assert.ok(!availableViews().includes('shout'));
  assert.throws(() => addContentView({ prettify: () => 'x' } as never), /needs a render\(data, metadata\) method \(mitmproxy calls it prettify\)/);
  assert.throws(() => addContentView({ render: () => 'x' }), /needs a name/);
});
