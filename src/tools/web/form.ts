/**
 * Request bodies as form data: `application/x-www-form-urlencoded` fields, and
 * `multipart/form-data` fields and files (the front end uploads flow files and bodies as the
 * multipart field `file`).
 */
import { headerParam } from '../../util/header-param.js';

export interface UploadedFile {
  field: string;
  filename: string;
  contentType: string | null;
  body: Buffer;
}

export interface FormData {
  /** Non-file fields, name -> values in order. */
  fields: Map<string, string[]>;
  files: UploadedFile[];
}

function addField(fields: Map<string, string[]>, name: string, value: string): void {
  const list = fields.get(name);
  if (list) list.push(value);
  else fields.set(name, [value]);
}

/** Parse a body by its Content-Type; other types give an empty result. Malformed parts are skipped. */
export function parseForm(contentType: string | undefined, body: Buffer): FormData {
  const out: FormData = { fields: new Map(), files: [] };
  if (!contentType || body.length === 0) return out;
  const essence = contentType.split(';', 1)[0]!.trim().toLowerCase();
  if (essence === 'application/x-www-form-urlencoded') {
    for (const [k, v] of new URLSearchParams(body.toString('latin1'))) {
      addField(out.fields, Buffer.from(k, 'latin1').toString('utf8'), Buffer.from(v, 'latin1').toString('utf8'));
    }
  } else if (essence === 'multipart/form-data') {
    const boundary = headerParam(contentType, 'boundary');
    if (boundary) parseMultipart(body, boundary, out);
  }
  return out;
}

function parseMultipart(body: Buffer, boundary: string, out: FormData): void {
  const delim = Buffer.from(`--${boundary}`, 'latin1');
  let pos = body.indexOf(delim);
  while (pos >= 0) {
    let start = pos + delim.length;
    // "--" after the delimiter ends the body.
    if (body[start] === 0x2d && body[start + 1] === 0x2d) return;
    if (body[start] === 0x0d && body[start + 1] === 0x0a) start += 2;
    else if (body[start] === 0x0a) start += 1;
    const next = body.indexOf(delim, start);
    if (next < 0) return;
    let end = next;
    if (body[end - 1] === 0x0a) end--;
    if (body[end - 1] === 0x0d) end--;
    const part = body.subarray(start, end);
    const headerEnd = part.indexOf('\r\n\r\n');
    const sepLen = 4;
    const altEnd = headerEnd < 0 ? part.indexOf('\n\n') : -1;
    const hEnd = headerEnd >= 0 ? headerEnd : altEnd;
    if (hEnd >= 0) {
      const headerText = part.subarray(0, hEnd).toString('utf8');
      const content = part.subarray(hEnd + (headerEnd >= 0 ? sepLen : 2));
      let disposition = '';
      let ctype: string | null = null;
      for (const line of headerText.split(/\r?\n/)) {
        const colon = line.indexOf(':');
        if (colon < 0) continue;
        const k = line.slice(0, colon).trim().toLowerCase();
        const v = line.slice(colon + 1).trim();
        if (k === 'content-disposition') disposition = v;
        else if (k === 'content-type') ctype = v;
      }
      if (/^form-data\b/i.test(disposition)) {
        const name = headerParam(disposition, 'name');
        const filename = headerParam(disposition, 'filename');
        if (name !== null) {
          if (filename !== null) out.files.push({ field: name, filename, contentType: ctype, body: Buffer.from(content) });
          else addField(out.fields, name, content.toString('utf8'));
        }
      }
    }
    pos = next;
  }
}
