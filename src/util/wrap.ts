/** Word wrapping for help text (`--options` and `--commands` listings), as Python's textwrap. */

/**
 * Split text into lines of at most `width` characters, the way Python's `textwrap.wrap` does
 * with its defaults (mitmproxy wraps its help texts with it): runs of white space become one
 * space, words may also break after a hyphen between letters ("url-" / "encoded"), and a word
 * longer than a line fills the rest of the current line (up to a hyphen in it, if one fits) and
 * goes on in the next ones.
 */
export function wrapWords(text: string, maxWidth: number): string[] {
  // As textwrap, a line holds at least one character, whatever the width.
  const width = Math.max(1, maxWidth);
  const chunks = toChunks(text);
  const lines: string[] = [];
  let i = 0;
  while (i < chunks.length) {
    // A line never starts with the space that ended the one before.
    if (lines.length > 0 && chunks[i] === ' ') i++;
    const line: string[] = [];
    let length = 0;
    while (i < chunks.length && length + chunks[i]!.length <= width) {
      line.push(chunks[i]!);
      length += chunks[i]!.length;
      i++;
    }
    if (i < chunks.length && chunks[i]!.length > width) {
      // What is left of this line (possibly nothing: textwrap then keeps the space before it),
      // ending after the word's last hyphen that fits, if there is one after something else.
      const room = width - length;
      const piece = chunks[i]!;
      const hyphen = room > 0 ? piece.lastIndexOf('-', room - 1) : -1;
      const end = hyphen > 0 && /[^-]/.test(piece.slice(0, hyphen)) ? hyphen + 1 : room;
      line.push(piece.slice(0, end));
      chunks[i] = piece.slice(end);
    }
    // textwrap drops one trailing white-space chunk (an empty piece of a long word counts as one).
    if (line.length && line[line.length - 1]!.trim() === '') line.pop();
    if (line.length) lines.push(line.join(''));
  }
  return lines;
}

/** Words, the pieces of hyphenated words, and single spaces between words. */
function toChunks(text: string): string[] {
  const chunks: string[] = [];
  for (const word of text.trim().split(/\s+/)) {
    if (word === '') continue;
    if (chunks.length) chunks.push(' ');
    // An em-dash ("--") between words is a chunk of its own. textwrap breaks after a hyphen with
    // two letters (or letter, hyphen, letter) before it and a letter (possibly hyphenated) after
    // it: "not-|modified", but not "304-|not".
    for (const part of word.split(/(?<=[\w!"'&.,?])(-{2,})(?=\w)/)) {
      if (part === '') continue;
      for (const piece of part.split(/(?<=(?:[A-Za-z_]{2}|[A-Za-z_]-[A-Za-z_])-)(?=[A-Za-z_]-?[A-Za-z_])/)) chunks.push(piece);
    }
  }
  return chunks;
}
