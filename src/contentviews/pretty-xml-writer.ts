/**
 * Writes an XML document given as a stream of events (start element, end element, text, CDATA)
 * in the layout of Python's `xml.dom.minidom` `Document.toprettyxml(indent, "\n")`, which is what
 * mitmproxy's WBXML view prints:
 *
 * - the declaration `<?xml version="1.0" ?>` on the first line;
 * - an element without children as `<Tag/>`;
 * - an element whose only child is one text or CDATA node on one line: `<Tag>text</Tag>`;
 * - otherwise the start tag, each child on its own line one indent deeper, and the end tag at the
 *   element's own indentation. A text child there is written as indentation + text + newline,
 *   a CDATA child as `<![CDATA[...]]>` with neither (minidom's quirk, kept so the output agrees);
 * - `&`, `<` and `>` escaped in text (Python 3.13 and later; older Pythons also wrote `"` as
 *   `&quot;`).
 *
 * Only the current path of open elements is kept: each element's layout depends only on its own
 * children, so everything before the path is already final text. A document has at most one root
 * element and no text outside it, as in minidom; breaking either rule throws.
 */

export class PrettyXmlError extends Error {
  override name = 'ValueError';
}

const EMPTY = 0; // no child yet: the start tag is written without its closing ">"
const ONE_TEXT = 1; // exactly one child, a text or CDATA node, held back in `held`
const BLOCK = 2; // children written one per line

interface HeldText {
  readonly cdata: boolean;
  readonly data: string;
}

interface OpenElement {
  readonly name: string;
  readonly indent: string;
  layout: typeof EMPTY | typeof ONE_TEXT | typeof BLOCK;
  held: HeldText | undefined;
}

export interface PrettyXmlWriterOptions {
  /** Added per nesting level (mitmproxy's WBXML view: four spaces). */
  indent: string;
  /**
   * Stop producing text once it holds more than this many newlines; events are still checked,
   * so a later error is still reported. The caller cuts the text to its line limit.
   */
  maxLines?: number;
  /** Throw when the text would grow beyond this many characters. */
  maxChars: number;
}

function escapeText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A CDATA section; "]]>" inside is split over two sections (minidom refuses such data). */
function cdataSection(data: string): string {
  return `<![CDATA[${data.replace(/]]>/g, ']]]]><![CDATA[>')}]]>`;
}

export class PrettyXmlWriter {
  private readonly chunks: string[] = [];
  private readonly open: OpenElement[] = [];
  private chars = 0;
  private lines = 0;
  private full = false;
  private hasRoot = false;

  constructor(private readonly opts: PrettyXmlWriterOptions) {
    this.write('<?xml version="1.0" ?>\n');
  }

  /** How many elements are open. */
  get depth(): number {
    return this.open.length;
  }

  startElement(name: string): void {
    const parent = this.beforeChild('element');
    // Once the line limit is reached nothing more is written: only the structure is still checked.
    const indent = parent && !this.full ? parent.indent + this.opts.indent : '';
    this.write(`${indent}<${name}`);
    this.open.push({ name, indent, layout: EMPTY, held: undefined });
  }

  endElement(): void {
    const el = this.open.pop();
    if (!el) throw new PrettyXmlError('end of an element that was never started');
    if (this.full) return;
    if (el.layout === EMPTY) this.write('/>\n');
    else if (el.layout === ONE_TEXT) this.write(`>${this.inline(el.held!)}</${el.name}>\n`);
    else this.write(`${el.indent}</${el.name}>\n`);
  }

  text(data: string): void {
    this.addText({ cdata: false, data });
  }

  cdata(data: string): void {
    this.addText({ cdata: true, data });
  }

  /** Close the elements still open and return the document. */
  finish(): string {
    while (this.open.length > 0) this.endElement();
    return this.chunks.join('');
  }

  private addText(t: HeldText): void {
    const parent = this.beforeChild('text');
    if (!parent) throw new PrettyXmlError(`${t.cdata ? 'CDATA' : 'text'} outside the root element`);
    if (parent.layout === EMPTY) {
      parent.layout = ONE_TEXT;
      parent.held = t;
    } else {
      this.writeBlockText(parent, t);
    }
  }

  /**
   * Make the innermost open element ready for one more child written in block layout (unless
   * the child is its first and a text node, which is held back), and return it; undefined at
   * document level, where only a single root element may go.
   */
  private beforeChild(kind: 'element' | 'text'): OpenElement | undefined {
    const parent = this.open[this.open.length - 1];
    if (!parent) {
      if (kind === 'element') {
        if (this.hasRoot) throw new PrettyXmlError('a second root element');
        this.hasRoot = true;
      }
      return undefined;
    }
    if (parent.layout === EMPTY && kind === 'element') {
      this.write('>\n');
      parent.layout = BLOCK;
    } else if (parent.layout === ONE_TEXT) {
      this.write('>\n');
      parent.layout = BLOCK;
      this.writeBlockText(parent, parent.held!);
      parent.held = undefined;
    }
    return parent;
  }

  private writeBlockText(parent: OpenElement, t: HeldText): void {
    if (this.full) return;
    if (t.cdata) this.write(cdataSection(t.data));
    else this.write(`${parent.indent}${this.opts.indent}${escapeText(t.data)}\n`);
  }

  private inline(t: HeldText): string {
    return t.cdata ? cdataSection(t.data) : escapeText(t.data);
  }

  private write(s: string): void {
    if (this.full) return;
    this.chars += s.length;
    if (this.chars > this.opts.maxChars) throw new PrettyXmlError(`the XML text would be longer than ${this.opts.maxChars} characters`);
    this.chunks.push(s);
    if (this.opts.maxLines === undefined) return;
    for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) this.lines++;
    if (this.lines > this.opts.maxLines) this.full = true;
  }
}
