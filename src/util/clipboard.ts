/**
 * The system clipboard, for `export.clip` and `cut.clip`: bytes are handed to the platform's copy
 * program, chosen in the order of pyperclip (mitmproxy's clipboard library): pbcopy on macOS,
 * clip on Windows and WSL, wl-copy under Wayland, then xclip or xsel under X.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { which } from './which.js';

export class ClipboardError extends Error {}

/** One copy program: how to run it, and the bytes it wants for the data. */
interface CopyProgram {
  argv: [string, ...string[]];
  encode(data: Buffer): Buffer;
}

const asIs = (data: Buffer) => data;
/** clip.exe reads UTF-16 (told so by a byte order mark) and would garble UTF-8. */
const utf16 = (data: Buffer) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(data.toString('utf8'), 'utf16le')]);

function isWsl(platform: NodeJS.Platform): boolean {
  if (platform !== 'linux') return false;
  try {
    return /microsoft/i.test(readFileSync('/proc/version', 'latin1'));
  } catch {
    return false;
  }
}

/** The copy program to use here, or null when there is none. */
export function copyProgram(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): CopyProgram | null {
  const path = env.PATH ?? '';
  if (platform === 'darwin') return { argv: ['pbcopy'], encode: asIs };
  if (platform === 'win32') return { argv: ['clip'], encode: utf16 };
  if (isWsl(platform) && which('clip.exe', path)) return { argv: ['clip.exe'], encode: utf16 };
  if (env.WAYLAND_DISPLAY && which('wl-copy', path)) return { argv: ['wl-copy'], encode: asIs };
  if (env.DISPLAY) {
    if (which('xclip', path)) return { argv: ['xclip', '-selection', 'clipboard'], encode: asIs };
    if (which('xsel', path)) return { argv: ['xsel', '--clipboard', '--input'], encode: asIs };
  }
  return null;
}

/** How long the copy program may take (xclip forks a process that keeps the selection and returns). */
const COPY_TIMEOUT_MS = 10_000;

/** Put `data` on the clipboard; throws a ClipboardError saying why when it cannot. */
export async function copyToClipboard(data: Buffer, env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): Promise<void> {
  const program = copyProgram(env, platform);
  if (!program) {
    throw new ClipboardError('No clipboard available: install xclip, xsel or wl-clipboard (with a display), or use export.file / cut.save instead.');
  }
  const [cmd, ...args] = program.argv;
  await new Promise<void>((resolve, reject) => {
    // Output is ignored, not piped: the process xclip leaves behind to serve the selection keeps
    // its inherited descriptors open, and waiting for them to close would never end.
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'ignore', 'ignore'], timeout: COPY_TIMEOUT_MS });
    child.once('error', (e) => reject(new ClipboardError(`Cannot copy to the clipboard with ${cmd}: ${e.message}`)));
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new ClipboardError(`Cannot copy to the clipboard: ${cmd} ${signal ? `was stopped (${signal})` : `exited with status ${code}`}.`));
    });
    // A program that exits without reading everything makes the write fail; its exit status says why.
    child.stdin.on('error', () => undefined);
    child.stdin.end(program.encode(data));
  });
}

/** For the clip commands: copy, or log why not as an error (mitmproxy logs it; the command does not fail). */
export async function copyOrLog(log: { error(message: string): void }, data: Buffer): Promise<void> {
  try {
    await copyToClipboard(data);
  } catch (e) {
    if (!(e instanceof ClipboardError)) throw e;
    log.error(e.message);
  }
}
