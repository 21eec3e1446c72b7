import { test } from 'node:test';
import assert from 'node:assert/strict';
import { strftime } from '../../src/io/strftime.js';

test('strftime directives (local time, C locale), as Python formats them', () => {
  const d = new Date(2024, 0, 7, 15, 4, 5, 123); // Sunday 7 January 2024, 15:04:05.123
  const cases: Array<[string, string]> = [
    ['dump-%Y-%m-%d.mitm', 'dump-2024-01-07.mitm'],
    ['%H%M%S', '150405'],
    ['%y %j %I %p', '24 007 03 PM'],
    ['%a %A %b %B', 'Sun Sunday Jan January'],
    ['%w %u %U %W %V %G', '0 7 01 01 01 2024'],
    ['%F %T %D %R', '2024-01-07 15:04:05 01/07/24 15:04'],
    ['%f', '123000'],
    ['%e|%k|%l', ' 7|15| 3'],
    ['100%% %q', '100% %q'],
    ['no directives', 'no directives'],
    ['trailing %', 'trailing %'],
  ];
  for (const [pattern, want] of cases) assert.equal(strftime(pattern, d), want, pattern);
  assert.match(strftime('%z', d), /^[+-]\d{4}$/);
});
