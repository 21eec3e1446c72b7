import { Message } from '../../http.js';
import { decodeUtf8BackslashReplace, looksLikeXml, pyStrip } from '../text.js';
import type { ContentView } from '../types.js';

/*
 * A whitespace-only XML/HTML prettifier in the manner of mitmproxy's: it never fails, keeps every
 * character of the input except indentation and line breaks between tags, puts each tag on its
 * own line indented by two spaces per open element, and keeps short `<a>text</a>` runs inline.
 */

const TAG_NAME = /[a-zA-Z0-9._:-]+(?!=)/;
const VOID_ELEMENTS = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'keygen', 'link', 'meta', 'param', 'source', 'track', 'wbr']);
const NO_INDENT_TAGS = new Set(['xml', 'doctype', 'html']);
const INDENT = 2;
const MAX_DEPTH = 16;

class Text {
  constructor(public data: string) {}
  get text(): string {
    return pyStrip(this.data);
  }
}

class Tag {
  /** What the tag's data starts with, known from its first piece. */
  private opening: 'comment' | 'cdata' | 'other' | null = null;
  /** The piece read last: the tag is done when it ends the tag. */
  private last = '';

  constructor(public data: string) {}

  /**
   * Add the next piece of the tag (up to and including a ">"). Asking the whole, growing text
   * what it starts and ends with flattened it on every piece: quadratic, and a CDATA section of
   * 1 MB of ">" took minutes.
   */
  append(piece: string): void {
    this.data += piece;
    this.last = piece;
    // The first piece runs to the first ">", so it holds "<!--" or "<![CDATA[" if the tag starts with it.
    this.opening ??= this.data.startsWith('<!--') ? 'comment' : this.data.startsWith('<![CDATA[') ? 'cdata' : 'other';
  }
  get tag(): string {
    const m = TAG_NAME.exec(this.data);
    return m ? m[0].toLowerCase() : '<empty>';
  }
  get isComment(): boolean {
    return (this.opening ?? (this.data.startsWith('<!--') ? 'comment' : 'other')) === 'comment';
  }
  get isCdata(): boolean {
    return (this.opening ?? (this.data.startsWith('<![CDATA[') ? 'cdata' : 'other')) === 'cdata';
  }
  get isClosing(): boolean {
    return this.data.startsWith('</');
  }
  get isSelfClosing(): boolean {
    return this.isComment || this.isCdata || this.data.endsWith('/>') || VOID_ELEMENTS.has(this.tag);
  }
  get isOpening(): boolean {
    return !this.isClosing && !this.isSelfClosing;
  }
  get done(): boolean {
    // Every piece but the last ends with ">", so "-->" and "]]>" can only end the last one.
    if (this.isComment) return this.last.endsWith('-->');
    if (this.isCdata) return this.last.endsWith(']]>');
    return this.last.endsWith('>');
  }
}

type Token = Text | Tag;

function tokenize(data: string): Token[] {
  const tokens: Token[] = [];
  let token: Token = new Text('');
  let i = 0;
  const readUntil = (ch: string, include: number): string => {
    let end = data.indexOf(ch, i);
    if (end === -1) end = data.length;
    const ret = data.slice(i, end + include);
    i = end + include;
    return ret;
  };
  while (i < data.length) {
    if (token instanceof Text) {
      token.data = readUntil('<', 0);
      if (token.text) tokens.push(token);
      token = new Tag('');
    } else {
      token.append(readUntil('>', 1));
      if (token.done) {
        tokens.push(token);
        token = new Text('');
      }
    }
  }
  if (pyStrip(token.data)) tokens.push(token);
  return tokens;
}

/** textwrap.dedent: remove the common leading blanks (spaces/tabs) of all non-blank lines. */
function dedent(text: string): string {
  text = text.replace(/^[ \t]+$/gm, '');
  let margin: string | null = null;
  for (const m of text.matchAll(/^([ \t]*)[^ \t\n]/gm)) {
    const ws = m[1]!;
    if (margin === null) margin = ws;
    else if (ws.startsWith(margin)) continue;
    else if (margin.startsWith(ws)) margin = ws;
    else {
      let k = 0;
      while (k < margin.length && k < ws.length && margin[k] === ws[k]) k++;
      margin = margin.slice(0, k);
    }
  }
  // The margin is blanks only, and as a regex of its own a margin of 100,000 tabs was too large to compile.
  if (margin) text = text.replace(/^[ \t]+/gm, (blanks) => (blanks.startsWith(margin) ? blanks.slice(margin.length) : blanks));
  return text;
}

/** textwrap.indent: prefix every line that is not blank. */
function indentLines(text: string, prefix: string): string {
  if (!prefix) return text;
  const lines = text.match(/[^\n\r]*(?:\r\n|\n|\r)|[^\n\r]+$/g) ?? [];
  return lines.map((l) => (pyStrip(l) ? prefix + l : l)).join('');
}

function indentText(data: string, prefix: string): string {
  // The leading spaces make dedent ignore the first line's own (missing) indentation.
  const dedented = pyStrip(dedent(' '.repeat(32) + data));
  return indentLines(dedented, prefix.slice(0, 32));
}

function isInlineText(a: Token | undefined, b: Token | undefined, c: Token | undefined): boolean {
  return a instanceof Tag && b instanceof Text && c instanceof Tag && a.isOpening && !b.data.includes('\n') && c.isClosing && a.tag === c.tag;
}

function isInline(p2: Token | undefined, p1: Token | undefined, t: Token, n1: Token | undefined, n2: Token | undefined): boolean {
  if (t instanceof Text) return isInlineText(p1, t, n1);
  if (isInlineText(p2, p1, t) || isInlineText(t, n1, n2)) return true;
  if (n1 instanceof Tag && t.isOpening && n1.isClosing && t.tag === n1.tag) return true;
  if (p1 instanceof Tag && p1.isOpening && t.isClosing && p1.tag === t.tag) return true;
  return false;
}

class ElementStack {
  openTags: string[] = [];
  indent = '';
  push(tag: string): void {
    if (this.openTags.length > MAX_DEPTH) return;
    this.openTags.push(tag);
    if (!NO_INDENT_TAGS.has(tag)) this.indent += ' '.repeat(INDENT);
  }
  pop(tag: string): void {
    // A closing tag without an opening one keeps the indentation as it is.
    if (!this.openTags.includes(tag)) return;
    let remove = 0;
    for (;;) {
      const t = this.openTags.pop()!;
      if (!NO_INDENT_TAGS.has(t)) remove += INDENT;
      if (t === tag) break;
    }
    // mitmproxy slices indent[:-remove]; with remove == 0 (closing <html>) that empties it.
    this.indent = remove === 0 ? '' : this.indent.slice(0, -remove);
  }
}

export function formatXml(data: string, maxLines?: number): string {
  const tokens = tokenize(data);
  const out: string[] = [];
  const ctx = new ElementStack();
  let lines = 0;
  const nl = (): void => {
    out.push('\n');
    lines++;
  };
  for (let i = 0; i < tokens.length; i++) {
    if (maxLines !== undefined && lines > maxLines) break;
    const t = tokens[i]!;
    const p2 = tokens[i - 2];
    const p1 = tokens[i - 1];
    const n1 = tokens[i + 1];
    const n2 = tokens[i + 2];
    if (t instanceof Tag) {
      if (t.isOpening) {
        out.push(indentText(t.data, ctx.indent));
        if (!isInline(p2, p1, t, n1, n2)) nl();
        ctx.push(t.tag);
      } else if (t.isClosing) {
        ctx.pop(t.tag);
        out.push(isInline(p2, p1, t, n1, n2) ? t.data : indentText(t.data, ctx.indent));
        nl();
      } else {
        out.push(indentText(t.data, ctx.indent));
        nl();
      }
    } else if (isInline(p2, p1, t, n1, n2)) {
      out.push(t.text);
    } else {
      out.push(indentText(t.data, ctx.indent));
      nl();
    }
  }
  return out.join('');
}

export const xmlHtml: ContentView = {
  name: 'XML/HTML',
  syntaxHighlight: 'xml',
  render(data, metadata, hints) {
    // An HTTP body is read in its declared (or sniffed) charset, as mitmproxy does.
    const text = metadata.httpMessage instanceof Message ? (metadata.httpMessage.getText(false) ?? '') : decodeUtf8BackslashReplace(data);
    return formatXml(text, hints?.maxLines);
  },
  renderPriority(data, metadata) {
    if (data.length === 0) return 0;
    if (metadata.contentType === 'text/xml' || metadata.contentType === 'text/html') return 1;
    if (looksLikeXml(data)) return 0.4;
    return 0;
  },
};
