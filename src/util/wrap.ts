/** Word wrapping for help text (`--options` listings, config.yaml comments). */

/**
 * Split text into lines of at most `width` characters at white space; runs of white space
 * become one space, and a word longer than `width` stands alone on its line, unbroken.
 */
export function wrapWords(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (word === '') continue;
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}
