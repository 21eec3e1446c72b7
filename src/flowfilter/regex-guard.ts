/**
 * A time limit for filter regexes whose backtracking can run away.
 *
 * A pattern with nested repetition (`~u "(a+)+b"`, `~b "(\w+\s?)*$"`) can take exponential time
 * on a text that almost matches, and the text comes from the traffic. Python's `re` (mitmproxy)
 * and JavaScript's engine both just run: the whole proxy, its API and its signal handlers stop
 * until the match ends, which can be never. V8's linear-time engine would avoid this, but it
 * takes no `u`/`v`/`i` flags and no look-arounds, which the Python translation needs.
 *
 * So such a pattern is matched in a worker thread while this thread waits, at most TIME_LIMIT_MS.
 * A filter pattern with a long repetition (`~b ".*x"`), whose failed search of a long text
 * backtracks quadratically, is matched there too, on texts over INLINE_TEXT_LENGTH; the others run
 * as plain RegExps. A pattern that runs out of time is given up (for every text, or with a long
 * repetition for texts as long or longer): it matches nothing there from then on, and the event
 * log says so. Filters use it, and for nested repetition only so do the
 * patterns of modify_body, map_remote and map_local (addons/util/pyre.ts) and of ignore_hosts,
 * allow_hosts and tcp_hosts (proxy/proxy-options.ts).
 */
import { MessageChannel, type MessagePort, Worker, receiveMessageOnPort } from 'node:worker_threads';
import { ctx } from '../ctx.js';

/** What a filter operator needs of its regex. */
export interface RegexTester {
  test(subject: string): boolean;
}

/** One match as a worker reports it: the text of each group (0 is the whole match) and where it starts. */
export type FoundMatch = ArrayLike<string | undefined> & { readonly 0: string; readonly index: number };

/** How long one match may take in the worker before its pattern is given up. */
const TIME_LIMIT_MS = 2000;
/** How long a new worker may take to start (not counted against a match). */
const START_LIMIT_MS = 10_000;

// Slots of the shared state: whether the current request is answered, and whether the worker is ready.
const DONE = 0;
const READY = 1;

/**
 * The worker: compiles each pattern once; answers a request on its port (a boolean for a test, or
 * the matches, each as its groups and index, up to a limit), then says so through the shared state.
 */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { port } = workerData;
const state = new Int32Array(workerData.state);
const compiled = new Map();
port.on('message', ({ source, flags, subject, limit }) => {
  // Keyed by flags too: a filter (v) and modify_body (gv) can share a source, and matchAll
  // throws on a regex without g.
  const key = flags + '/' + source;
  let answer = null;
  try {
    let regex = compiled.get(key);
    if (!regex) {
      // Patterns come and go with the filters typed into mitmweb: keep the recent ones only.
      if (compiled.size >= 256) compiled.clear();
      compiled.set(key, (regex = new RegExp(source, flags)));
    }
    if (limit === 0) {
      regex.lastIndex = 0;
      answer = regex.test(subject);
    } else {
      answer = [];
      for (const m of subject.matchAll(regex)) {
        answer.push({ groups: [...m], index: m.index });
        if (answer.length === limit) break;
      }
    }
  } catch {
    // Answered as a failure at once rather than by dying and leaving the caller to wait out the limit.
    answer = null;
  }
  port.postMessage(answer);
  Atomics.store(state, ${DONE}, 1);
  Atomics.notify(state, ${DONE});
});
Atomics.store(state, ${READY}, 1);
Atomics.notify(state, ${READY});
`;

interface Matcher {
  worker: Worker;
  state: Int32Array;
  port: MessagePort;
}

let matcher: Matcher | null = null;

function startWorker(): Matcher | null {
  const state = new Int32Array(new SharedArrayBuffer(8));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { state: state.buffer, port: port2 }, transferList: [port2] });
  // Never what keeps the process alive; a worker that fails is replaced on the next match.
  worker.unref();
  port1.unref();
  worker.on('error', () => {
    if (matcher?.worker === worker) matcher = null;
  });
  if (Atomics.wait(state, READY, 0, START_LIMIT_MS) === 'timed-out') {
    void worker.terminate();
    return null;
  }
  return { worker, state, port: port1 };
}

/** Ask the worker (limit 0: test; otherwise up to `limit` matches); null when the time limit ran out. */
function askWorker(regex: RegExp, subject: string, limit: number): unknown {
  matcher ??= startWorker();
  if (!matcher) return null;
  const { worker, state, port } = matcher;
  Atomics.store(state, DONE, 0);
  port.postMessage({ source: regex.source, flags: regex.flags, subject, limit });
  if (Atomics.wait(state, DONE, 0, TIME_LIMIT_MS) === 'timed-out') {
    // V8 interrupts a running regex when its isolate is terminated.
    void worker.terminate();
    port.close();
    matcher = null;
    return null;
  }
  return receiveMessageOnPort(port)?.message ?? null;
}

/** Why a pattern runs under a time limit, and what to do about it, for the log line when it is given up. */
const WHY = {
  nested: { cause: 'nested repetition backtracks exponentially', advice: 'Rewrite it without a repetition inside a repetition.' },
  long: {
    cause: 'a repetition tried at every position of a long text takes time quadratic in its length',
    advice: 'A leading ".*" is not needed (filters search anywhere); anchor the pattern or bound its repetitions.',
  },
} as const;

/**
 * The time limit of one pattern (with nested repetition, or with a long one on a long text): its
 * matches run in the worker, and once one runs out of time the pattern matches nothing from then
 * on, said once in the event log.
 */
export class TimeLimit {
  /**
   * Texts at least this long are no longer tried (they match nothing). A pattern with nested
   * repetition is given up for every text once one ran out of time (exponential backtracking can
   * strike at any length); one with a long repetition only for texts as long as the one that did,
   * as its cost grows with the text's length: one huge body must not switch a filter off for all
   * the small ones.
   */
  private givenUpFrom = Infinity;

  /** `pattern` is the pattern as the user wrote it, for the log line. */
  constructor(
    private readonly pattern: string,
    private readonly why: keyof typeof WHY = 'nested',
  ) {}

  test(regex: RegExp, subject: string): boolean {
    if (subject.length >= this.givenUpFrom) return false;
    const answer = askWorker(regex, subject, 0);
    if (answer === null) return this.giveUp(subject, false);
    return answer === true;
  }

  /** Up to `limit` non-overlapping matches, left to right, as `String.prototype.matchAll` finds them. */
  matchAll(regex: RegExp, subject: string, limit = Infinity): FoundMatch[] {
    if (subject.length >= this.givenUpFrom) return [];
    const answer = askWorker(regex, subject, limit === Infinity ? -1 : limit) as Array<{ groups: [string, ...Array<string | undefined>]; index: number }> | null;
    if (answer === null) return this.giveUp(subject, []);
    return answer.map((m): FoundMatch => Object.assign(m.groups, { index: m.index }));
  }

  private giveUp<T>(subject: string, result: T): T {
    this.givenUpFrom = this.why === 'nested' ? 0 : Math.min(this.givenUpFrom, subject.length);
    const scope = this.why === 'nested' ? 'it matches nothing from now on' : `it matches nothing in texts of ${subject.length} characters or more from now on`;
    try {
      ctx.log.warn(`The regex ${JSON.stringify(this.pattern)} took more than ${TIME_LIMIT_MS / 1000} s on one text (${WHY[this.why].cause}); ${scope}. ${WHY[this.why].advice}`);
    } catch {
      // No master (a filter used on its own): the result is the same, unlogged.
    }
    return result;
  }
}

/**
 * Texts up to this long are matched in this thread by a pattern with a long repetition: even
 * quadratic backtracking over them takes milliseconds.
 */
export const INLINE_TEXT_LENGTH = 4096;

/**
 * The regex itself, or a time-limited stand-in: for a pattern with nested repetition always, for
 * one with a long repetition (`~b ".*x"`) on texts longer than INLINE_TEXT_LENGTH, which come
 * from the traffic (a 64 KB body without "x" held the whole proxy for 17 s, 1 MB for an hour).
 */
export function guardRegex(regex: RegExp, pattern: string, nestedRepetition: boolean, longRepetition = false): RegexTester {
  if (nestedRepetition) {
    const limit = new TimeLimit(pattern);
    return { test: (subject) => limit.test(regex, subject) };
  }
  if (!longRepetition) return regex;
  const limit = new TimeLimit(pattern, 'long');
  return { test: (subject) => (subject.length <= INLINE_TEXT_LENGTH ? regex.test(subject) : limit.test(regex, subject)) };
}
