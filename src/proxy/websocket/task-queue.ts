/** Work that either finished synchronously (undefined) or is still running. */
export type MaybePromise = Promise<void> | undefined;

/**
 * Runs tasks one at a time, in the order they were queued. A synchronous task on an idle queue
 * costs nothing (no promise, no microtask); a task queued while another runs (for instance an
 * addon injecting a message from inside its hook) waits for it.
 */
export class TaskQueue {
  private busy = false;
  private waiting: Array<() => void> = [];

  run(task: () => MaybePromise): MaybePromise {
    if (this.busy) {
      return new Promise<void>((resolve, reject) => {
        this.waiting.push(() => {
          let r: MaybePromise;
          try {
            r = task();
          } catch (e) {
            reject(e);
            this.next();
            return;
          }
          if (!r) {
            resolve();
            this.next();
          } else {
            r.then(resolve, reject).finally(() => this.next());
          }
        });
      });
    }
    this.busy = true;
    let r: MaybePromise;
    try {
      r = task();
    } catch (e) {
      this.next();
      throw e;
    }
    if (!r) {
      this.next();
      return undefined;
    }
    return r.finally(() => this.next());
  }

  /** Hand the queue to the next waiting task (it inherits `busy`), or mark it idle. */
  private next(): void {
    const w = this.waiting.shift();
    if (w) w();
    else this.busy = false;
  }
}
