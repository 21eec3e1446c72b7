import { execFile } from 'node:child_process';
import type http from 'node:http';
import net from 'node:net';

export interface CurlResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The last response's status (from -w), 0 when none. */
  status: number;
  /** Bytes of body curl received. */
  sizeDownload: number;
}

/** Run curl (never blocking the event loop, so an in-process proxy keeps working). */
export function curl(args: string[], opts: { timeoutMs?: number; input?: string | Buffer } = {}): Promise<CurlResult> {
  return new Promise((resolve) => {
    const child = execFile(
      'curl',
      ['-sS', '--max-time', String(Math.ceil((opts.timeoutMs ?? 20000) / 1000)), '-w', '\n%{http_code} %{size_download}', ...args],
      { maxBuffer: 256 * 1024 * 1024, encoding: 'latin1' },
      (err, stdout, stderr) => {
        const i = stdout.lastIndexOf('\n');
        const [status, size] = stdout.slice(i + 1).split(' ');
        resolve({
          code: err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code?: unknown }).code as number) : 1) : 0,
          stdout: stdout.slice(0, i),
          stderr,
          status: Number(status) || 0,
          sizeDownload: Number(size) || 0,
        });
      },
    );
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/**
 * Send raw bytes to host:port and collect everything until the peer closes (or `idleMs` pass
 * without data, or `until` matches what was received).
 */
export function rawRequest(port: number, data: string | Buffer, opts: { idleMs?: number; until?: (received: Buffer) => boolean; host?: string } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, opts.host ?? '127.0.0.1');
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | null = null;
    const finish = () => {
      if (timer) clearTimeout(timer);
      s.destroy();
      resolve(Buffer.concat(chunks));
    };
    const arm = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(finish, opts.idleMs ?? 3000);
    };
    s.on('connect', () => {
      s.write(data);
      arm();
    });
    s.on('data', (d) => {
      chunks.push(d);
      if (opts.until?.(Buffer.concat(chunks))) finish();
      else arm();
    });
    s.on('end', finish);
    s.on('close', finish);
    s.on('error', (e) => (chunks.length ? finish() : reject(e)));
  });
}

/** The status and (latin-1) body of the response to `req`, once it has ended. */
export function responseText(req: http.ClientRequest): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    req.on('response', (r) => {
      let text = '';
      r.setEncoding('latin1');
      r.on('data', (d: string) => (text += d));
      r.on('end', () => resolve({ status: r.statusCode!, text }));
      r.on('error', reject);
    });
  });
}
