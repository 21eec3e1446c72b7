/**
 * A time limit for filter regexes whose backtracking can run away.
 *
 * A pattern with nested repetition (`~u "(a+)+b"`, `~b "(\w+\s?)*$"`) can take exponential time
 * on a text that almost matches, and the text comes from the traffic. Python's `re` (mitmproxy)
 * and JavaScript's engine both just run: the whole proxy, its API and its signal handlers stop
 * until the match ends, which can be never. V8's linear-time engine would avoid this, but it
 * takes no `u`/`v`/`i` flags and no look-arounds, which the Python translation needs.
 *
 * So such a pattern (only such a pattern: the others run as plain RegExps) is matched in a worker
 * thread while this thread waits, at most TIME_LIMIT_MS. A pattern that runs out of time is given
 * up: it matches nothing from then on, and the event log says so once.
 */
import { Worker } from 'node:worker_threads';
import { ctx } from '../ctx.js';

/** What a filter operator needs of its regex. */
export interface RegexTester {
  test(subject: string): boolean;
}

/** How long one match may take in the worker before its pattern is given up. */
const TIME_LIMIT_MS = 2000;
/** How long a new worker may take to start (not counted against a match). */
const START_LIMIT_MS = 10_000;

// Slots of the shared state: the answer to the current request, and whether the worker is ready.
const ANSWER = 0;
const READY = 1;
const PENDING = 0;
const NO_MATCH = 1;
const MATCH = 2;

/** The worker: compiles each pattern once, answers each subject through the shared state. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const state = new Int32Array(workerData.state);
const compiled = new Map();
parentPort.on('message', ({ source, flags, subject }) => {
  let regex = compiled.get(source);
  if (!regex) compiled.set(source, (regex = new RegExp(source, flags)));
  regex.lastIndex = 0;
  Atomics.store(state, ${ANSWER}, regex.test(subject) ? ${MATCH} : ${NO_MATCH});
  Atomics.notify(state, ${ANSWER});
});
Atomics.store(state, ${READY}, 1);
Atomics.notify(state, ${READY});
`;

let matcher: { worker: Worker; state: Int32Array } | null = null;

function startWorker(): { worker: Worker; state: Int32Array } | null {
  const state = new Int32Array(new SharedArrayBuffer(8));
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { state: state.buffer } });
  // Never what keeps the process alive; a worker that fails is replaced on the next match.
  worker.unref();
  worker.on('error', () => {
    if (matcher?.worker === worker) matcher = null;
  });
  if (Atomics.wait(state, READY, 0, START_LIMIT_MS) === 'timed-out') {
    void worker.terminate();
    return null;
  }
  return { worker, state };
}

/** Match in the worker: true or false, or null when the time limit ran out (the worker is then ended). */
function testInWorker(regex: RegExp, subject: string): boolean | null {
  matcher ??= startWorker();
  if (!matcher) return null;
  const { worker, state } = matcher;
  Atomics.store(state, ANSWER, PENDING);
  worker.postMessage({ source: regex.source, flags: regex.flags, subject });
  if (Atomics.wait(state, ANSWER, PENDING, TIME_LIMIT_MS) === 'timed-out') {
    // V8 interrupts a running regex when its isolate is terminated.
    void worker.terminate();
    matcher = null;
    return null;
  }
  return Atomics.load(state, ANSWER) === MATCH;
}

class TimeLimitedRegex implements RegexTester {
  private givenUp = false;

  constructor(
    private readonly regex: RegExp,
    /** The pattern as the user wrote it, for the log line. */
    private readonly pattern: string,
  ) {}

  test(subject: string): boolean {
    if (this.givenUp) return false;
    const matched = testInWorker(this.regex, subject);
    if (matched !== null) return matched;
    this.givenUp = true;
    try {
      ctx.log.warn(
        `The filter regex ${JSON.stringify(this.pattern)} took more than ${TIME_LIMIT_MS / 1000} s on one text (nested repetition backtracks ` +
          'exponentially); it matches nothing from now on. Rewrite it without a repetition inside a repetition.',
      );
    } catch {
      // No master (a filter used on its own): the result is the same, unlogged.
    }
    return false;
  }
}

/** The regex itself, or for a pattern with nested repetition, a time-limited stand-in. */
export function guardRegex(regex: RegExp, pattern: string, nestedRepetition: boolean): RegexTester {
  return nestedRepetition ? new TimeLimitedRegex(regex, pattern) : regex;
}
