import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { copyProgram } from '../../src/util/clipboard.js';
import { tempDir } from '../helpers/tempdir.js';

test("copyProgram picks the platform's copy program in pyperclip's order; clip gets UTF-16 with a byte order mark", (t) => {
  const dir = tempDir(t, 'mitmts-clipbin-');
  for (const name of ['wl-copy', 'xclip', 'xsel']) {
    writeFileSync(join(dir, name), '#!/bin/sh\n');
    chmodSync(join(dir, name), 0o755);
  }
  const argv = (env: NodeJS.ProcessEnv, platform: NodeJS.Platform = 'linux') => copyProgram(env, platform)?.argv ?? null;
  assert.deepEqual(argv({ PATH: dir }, 'darwin'), ['pbcopy']);
  assert.deepEqual(argv({ PATH: dir }, 'win32'), ['clip']);
  assert.deepEqual(argv({ PATH: dir, WAYLAND_DISPLAY: 'wayland-0', DISPLAY: ':0' }), ['wl-copy']);
  assert.deepEqual(argv({ PATH: dir, DISPLAY: ':0' }), ['xclip', '-selection', 'clipboard']);
  assert.equal(argv({ PATH: dir }), null, 'no display: nothing to copy to');
  assert.equal(argv({ PATH: '', DISPLAY: ':0' }), null, 'no program');
  const clip = copyProgram({}, 'win32')!;
  assert.deepEqual(clip.encode(Buffer.from('✓a')), Buffer.from([0xff, 0xfe, 0x13, 0x27, 0x61, 0x00]));
});
