/** PEM text <-> DER bytes. */

/** One `-----BEGIN X-----` ... `-----END X-----` block found in a PEM file. */
export interface PemBlock {
  label: string;
  /** The block as written, including BEGIN/END lines and any headers (Proc-Type, DEK-Info). */
  text: string;
  /** The decoded body; meaningless for blocks with headers (legacy encrypted keys). */
  der: Buffer;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

/** Every PEM block in `text`, in order. Text between blocks (comments, "Bag Attributes") is ignored. */
export function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const body = m[2]!;
    // Headers ("Proc-Type: ...") end with an empty line; base64 never contains ':'.
    const b64 = body.includes(':') ? '' : body.replace(/\s+/g, '');
    out.push({ label: m[1]!, text: m[0] + '\n', der: Buffer.from(b64, 'base64') });
  }
  return out;
}

/** DER as PEM with 64-character lines and a final newline (the layout OpenSSL and cryptography write). */
export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The DER of every CERTIFICATE block in `text`. */
export function pemCertificates(text: string): Buffer[] {
  return pemBlocks(text)
    .filter((b) => b.label === 'CERTIFICATE' || b.label === 'X509 CERTIFICATE')
    .map((b) => b.der);
}

/** The first private key block (any flavour: RSA/EC/PKCS#8, encrypted or not), or null. */
export function pemPrivateKeyBlock(text: string): PemBlock | null {
  return pemBlocks(text).find((b) => /PRIVATE KEY$/.test(b.label)) ?? null;
}
