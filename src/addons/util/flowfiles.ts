/**
 * Reading saved flow files for an addon's option or command (client_replay, server_replay,
 * replay.client.file, replay.server.file): a file that is missing or damaged is the user's
 * mistake and is reported as the error type of the entry point that named it.
 */
import type { AnyFlow } from '../../flows.js';
import { FlowReadError, readFlowsFromPaths } from '../../io/flowreader.js';
import { pyStrerror } from './pyoserror.js';

/**
 * Read every flow of `paths` (in order, failing on the first bad file). A FlowReadError becomes
 * `asError` with the reader's message (OptionsError for an option, CommandError for a command);
 * any other error is a bug and passes through unchanged.
 */
export async function readFlowFiles(paths: readonly string[], asError: new (message: string) => Error): Promise<AnyFlow[]> {
  try {
    return await readFlowsFromPaths(paths);
  } catch (e) {
    // A file that cannot be opened or read is reported with the OS reason alone, as mitmproxy's
    // read_flows_from_paths does ("No such file or directory").
    if (e instanceof FlowReadError) throw new asError(e.osError ? pyStrerror(e.osError) : e.message);
    throw e;
  }
}
