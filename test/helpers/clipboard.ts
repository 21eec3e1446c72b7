import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { tempDir } from './tempdir.js';

/**
 * A stand-in `xclip` first on PATH, with an X display set and Wayland unset, for the rest of the
 * test (the environment is restored after it): what is copied lands in a file. `status` makes
 * the stand-in fail with that exit status instead; `programs: false` leaves no copy program at all.
 */
export function fakeClipboard(t: TestContext, opts: { status?: number; programs?: boolean } = {}): { copied: () => string | null } {
  const dir = tempDir(t, 'mitmts-clip-');
  const out = join(dir, 'clipboard');
  const saved = { PATH: process.env.PATH, DISPLAY: process.env.DISPLAY, WAYLAND_DISPLAY: process.env.WAYLAND_DISPLAY };
  t.after(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  delete process.env.WAYLAND_DISPLAY;
  if (opts.programs === false) {
    delete process.env.DISPLAY;
    process.env.PATH = dir;
  } else {
    const script = join(dir, 'xclip');
    writeFileSync(script, `#!/bin/sh\n[ "$1 $2" = "-selection clipboard" ] || exit 64\ncat > '${out}'\nexit ${opts.status ?? 0}\n`);
    chmodSync(script, 0o755);
    process.env.DISPLAY = ':99';
    process.env.PATH = `${dir}:${saved.PATH ?? ''}`;
  }
  return {
    copied: () => {
      try {
        return readFileSync(out, 'utf8');
      } catch {
        return null;
      }
    },
  };
}
