/**
 * Content-Type guessing from a file name, like Python's `mimetypes.guess_type(path)[0]` which
 * map_local uses: the extension decides (case-insensitively, then exactly), a compression
 * suffix (.gz, .bz2, .xz, .br, .Z) is skipped to find the type of what was compressed, and
 * unknown extensions give no type. The table holds the types web servers commonly serve.
 */
import { extname } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html', '.htm': 'text/html', '.xhtml': 'application/xhtml+xml',
  '.css': 'text/css', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.json': 'application/json', '.jsonld': 'application/ld+json', '.webmanifest': 'application/manifest+json',
  '.xml': 'text/xml', '.txt': 'text/plain', '.csv': 'text/csv', '.tsv': 'text/tab-separated-values',
  '.md': 'text/markdown', '.ics': 'text/calendar', '.vcf': 'text/vcard', '.rtf': 'application/rtf',
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.svg': 'image/svg+xml',
  '.ico': 'image/vnd.microsoft.icon', '.webp': 'image/webp', '.avif': 'image/avif', '.bmp': 'image/bmp',
  '.tif': 'image/tiff', '.tiff': 'image/tiff', '.heic': 'image/heic',
  '.woff': 'font/woff', '.woff2': 'font/woff2', '.ttf': 'font/ttf', '.otf': 'font/otf',
  '.mp4': 'video/mp4', '.m4v': 'video/mp4', '.webm': 'video/webm', '.ogv': 'video/ogg', '.mpeg': 'video/mpeg',
  '.mpg': 'video/mpeg', '.mov': 'video/quicktime', '.avi': 'video/x-msvideo',
  '.mp3': 'audio/mpeg', '.wav': 'audio/x-wav', '.ogg': 'audio/ogg', '.oga': 'audio/ogg', '.opus': 'audio/ogg',
  '.flac': 'audio/flac', '.aac': 'audio/aac', '.m4a': 'audio/mp4',
  '.pdf': 'application/pdf', '.zip': 'application/zip', '.tar': 'application/x-tar', '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream', '.jar': 'application/java-archive',
  '.sh': 'application/x-sh', '.py': 'text/x-python',
  '.atom': 'application/atom+xml', '.rss': 'application/rss+xml',
  '.crt': 'application/x-x509-ca-cert', '.cer': 'application/pkix-cert', '.pem': 'application/x-pem-file',
  '.p12': 'application/x-pkcs12', '.pfx': 'application/x-pkcs12',
};

const COMPRESSION_SUFFIXES = new Set(['.gz', '.bz2', '.xz', '.br', '.Z']);

/** The MIME type for a file name, or null when the extension is unknown. */
export function guessMimeType(path: string): string | null {
  let p = path;
  let ext = extname(p);
  if (COMPRESSION_SUFFIXES.has(ext) || COMPRESSION_SUFFIXES.has(ext.toLowerCase())) {
    p = p.slice(0, -ext.length);
    ext = extname(p);
  }
  return TYPES[ext] ?? TYPES[ext.toLowerCase()] ?? null;
}
