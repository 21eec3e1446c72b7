/**
 * Python's text for an OSError about a file, as mitmproxy prints it in its messages
 * ("[Errno 2] No such file or directory: 'x'"). Python's OSError puts the repr of the file name
 * after the reason, so the path is quoted (and escaped) the way Python's repr does.
 */
import { pyStrRepr } from '../../io/pyrepr.js';

/** Node error codes and the errno number and strerror text Python shows for them on Linux. */
const PY_ERRNO: ReadonlyMap<string, readonly [number, string]> = new Map([
  ['EPERM', [1, 'Operation not permitted']],
  ['ENOENT', [2, 'No such file or directory']],
  ['EACCES', [13, 'Permission denied']],
  ['ENOTDIR', [20, 'Not a directory']],
  ['EISDIR', [21, 'Is a directory']],
  // Opening a FIFO that nothing reads, without waiting (see FlowWriter.open).
  ['ENXIO', [6, 'No such device or address']],
]);

/** The errno number and strerror for a Node errno error, if the table has its code. */
function pyErrno(e: unknown): readonly [number, string] | undefined {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? PY_ERRNO.get(code) : undefined;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Python's `strerror` for this file-system error ("No such file or directory"), else its message. */
export function pyStrerror(e: unknown): string {
  return pyErrno(e)?.[1] ?? messageOf(e);
}

/**
 * The text Python would show for this file-system error on `path`; for an error code not in the
 * table (or something that is not a Node errno error) the error's own message.
 */
export function pyOsErrorText(e: unknown, path: string): string {
  const known = pyErrno(e);
  return known ? `[Errno ${known[0]}] ${known[1]}: ${pyStrRepr(path)}` : messageOf(e);
}
