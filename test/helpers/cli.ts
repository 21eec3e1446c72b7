import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = `${ROOT}bin/mitmproxy-ts.js`;

export interface RunningTool {
  child: ChildProcess;
  /** Everything printed so far on stdout / stderr. */
  stdout(): string;
  stderr(): string;
  /** Port of the first "listening at" log line. */
  port: number;
  /** Resolves with the output once `pattern` appears on stdout (or rejects after `timeoutMs`). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Send SIGINT and wait for exit. */
  stop(): Promise<number | null>;
}

/**
 * Run the built `mitmproxy-ts dump|web` with args. Waits until the proxy listens (unless
 * `waitListening` is false) and kills it when the test ends.
 */
export async function runCli(t: TestContext, args: string[], opts: { waitListening?: boolean; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunningTool> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, NO_COLOR: '1', ...opts.env }, cwd: opts.cwd ?? ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  child.stdout!.on('data', (d) => {
    out += d;
    waiters.forEach((w) => w());
  });
  child.stderr!.on('data', (d) => {
    err += d;
    waiters.forEach((w) => w());
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => {
    done = true;
    waiters.forEach((w) => w());
  });
  t.after(async () => {
    if (!done) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  const waitFor = (pattern: RegExp, timeoutMs = 20000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        if (pattern.test(out)) {
          clearTimeout(timer);
          resolve(out);
        } else if (done) {
          clearTimeout(timer);
          reject(new Error(`process exited before ${pattern} appeared.\nstdout:\n${out}\nstderr:\n${err}`));
        }
      };
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}.\nstdout:\n${out}\nstderr:\n${err}`)), timeoutMs);
      waiters.push(check);
      check();
    });
  let port = 0;
  if (opts.waitListening ?? true) {
    const text = await waitFor(/listening at \S+:\d+\./);
    port = Number(/listening at \S+:(\d+)\./.exec(text)![1]);
  }
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    port,
    waitFor,
    stop: async () => {
      if (!done) child.kill('SIGINT');
      return exited;
    },
  };
}

/** Run a tool to completion (e.g. --version, -nr file) and return its output and exit code. */
export function runCliToEnd(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string | Buffer; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, NO_COLOR: '1', ...opts.env }, cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}
