import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCheck } from '../../src/addons/errorcheck.js';
import type { Loader } from '../../src/addonmanager.js';
import type { Master } from '../../src/master.js';
import { runningMaster } from '../helpers/master.js';

test('errorcheck keeps the errors logged while starting, and stops collecting once the master runs', async (t) => {
  let master: Master | null = null;
  const noisy = {
    name: 'noisy',
    load(loader: Loader) {
      master = loader.master;
    },
    // (Scripts load here, when the master starts.)
    configure() {
      master!.log.error('broken while configuring');
    },
    running() {
      master!.log.error('broken while starting');
    },
  };
  const check = new ErrorCheck();
  await runningMaster(t, noisy, check);
  master!.log.error('a failure long after startup');
  assert.deepEqual(
    [...new Set(check.errors.map((e) => e.message))],
    ['broken while configuring', 'broken while starting'],
  );
  assert.equal(check.message(), 'Errors logged during startup, exiting...');
});
