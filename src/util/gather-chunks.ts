/**
 * Pieces of a large output (text is written as UTF-8) gathered into Buffers of about `size`
 * bytes, made as they are pulled: the whole output never exists at once, and each Buffer is big
 * enough that writing it costs one call, not one per piece.
 */
export function* gatherChunks(pieces: Iterable<string | Buffer>, size: number): Generator<Buffer> {
  let parts: Array<string | Buffer> = [];
  let length = 0;
  for (const piece of pieces) {
    parts.push(piece);
    length += piece.length;
    if (length >= size) {
      yield joinParts(parts);
      parts = [];
      length = 0;
    }
  }
  if (parts.length) yield joinParts(parts);
}

function joinParts(parts: Array<string | Buffer>): Buffer {
  if (parts.length === 1) return typeof parts[0] === 'string' ? Buffer.from(parts[0], 'utf8') : parts[0]!;
  if (parts.every((p) => typeof p === 'string')) return Buffer.from(parts.join(''), 'utf8');
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
}
