/**
 * The "[/flow-filter]/subject/[@]replacement" specs of modify_headers and modify_body
 * (mitmproxy's ModifySpec): subject and replacement are backslash-unescaped into bytes, and a
 * replacement starting with "@" names a file whose bytes are the replacement.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { expandHome } from '../../optmanager.js';
import { escapedStrToBytes, EscapeError } from './pyescape.js';
import { pyOsErrorText } from './pyoserror.js';
import { parseSpec, SpecError, type FlowMatcher } from './spec.js';

export interface ModifySpec {
  filter: FlowMatcher;
  /** The header name or the (bytes) regex, unescaped. */
  subject: Buffer;
  /** The replacement as written: literal (escaped) bytes, or "@path". */
  replacementStr: string;
}

/** The replacement bytes, read from the file for "@path" (synchronously: for option checks only). */
export function readReplacementSync(spec: ModifySpec): Buffer {
  if (spec.replacementStr.startsWith('@')) return readFileSync(expandHome(spec.replacementStr.slice(1)));
  return escapedStrToBytes(spec.replacementStr);
}

/** The replacement bytes, read from the file for "@path" on every use (so edits apply at once). */
export async function readReplacement(spec: ModifySpec): Promise<Buffer> {
  if (spec.replacementStr.startsWith('@')) return readFile(expandHome(spec.replacementStr.slice(1)));
  return escapedStrToBytes(spec.replacementStr);
}

/** Parse a modify spec; the replacement file must be readable now. Throws SpecError. */
export function parseModifySpec(option: string): ModifySpec {
  const { filter, subject, replacement } = parseSpec(option);
  let subjectBytes: Buffer;
  try {
    subjectBytes = escapedStrToBytes(subject);
  } catch (e) {
    if (e instanceof EscapeError) throw new SpecError(e.message);
    throw e;
  }
  const spec: ModifySpec = { filter, subject: subjectBytes, replacementStr: replacement };
  try {
    readReplacementSync(spec);
  } catch (e) {
    if (e instanceof EscapeError) throw new SpecError(e.message);
    throw new SpecError(`Invalid file path: ${replacement.slice(1)} (${pyOsErrorText(e, replacement.slice(1))})`);
  }
  return spec;
}
