/**
 * A minimal ZIP archive writer: stored (uncompressed) entries with ASCII or UTF-8 names, enough
 * for small generated downloads such as the onboarding app's Magisk module. The output depends
 * only on the entries and `modified`, so an archive can be compared with one written before.
 * (The reading side, for the content view, is contentviews/views/zip.ts.)
 */

export interface ZipEntry {
  name: string;
  data: Buffer | string;
}

let crcTable: Uint32Array | null = null;

/** CRC-32 (the ZIP/PNG polynomial); zlib.crc32 needs Node 20.15, we support 20.6. */
function crc32(data: Buffer): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const b of data) crc = crcTable[(crc ^ b) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** MS-DOS time and date fields (local time, 2-second resolution, from 1980). */
function dosDateTime(d: Date): { time: number; date: number } {
  const year = Math.max(1980, d.getFullYear());
  return {
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | Math.floor(d.getSeconds() / 2),
    date: ((year - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
  };
}

interface SharedFields {
  utf8: number;
  time: number;
  date: number;
  crc: number;
  size: number;
  nameLength: number;
}

/** The fields a local header and its central directory entry share, flags to name length, from `at`. */
function writeSharedFields(b: Buffer, at: number, f: SharedFields): void {
  b.writeUInt16LE(f.utf8, at);
  b.writeUInt16LE(0, at + 2); // stored
  b.writeUInt16LE(f.time, at + 4);
  b.writeUInt16LE(f.date, at + 6);
  b.writeUInt32LE(f.crc, at + 8);
  b.writeUInt32LE(f.size, at + 12); // compressed
  b.writeUInt32LE(f.size, at + 16); // uncompressed
  b.writeUInt16LE(f.nameLength, at + 20);
}

/** The bytes of a ZIP archive holding `entries` in order, each a regular file (mode 0644). */
export function writeZip(entries: readonly ZipEntry[], modified: Date): Buffer {
  const { time, date } = dosDateTime(modified);
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const data = typeof entry.data === 'string' ? Buffer.from(entry.data, 'utf8') : entry.data;
    const utf8 = /[^\x00-\x7f]/.test(entry.name) ? 0x0800 : 0;
    const crc = crc32(data);

    const shared: SharedFields = { utf8, time, date, crc, size: data.length, nameLength: name.length };
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0
    writeSharedFields(local, 6, shared);
    locals.push(local, name, data);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, 2.0 (so the mode below counts)
    central.writeUInt16LE(20, 6);
    writeSharedFields(central, 8, shared);
    // extra length, comment length, disk number, internal attributes: 0
    central.writeUInt32LE((0o100644 << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += 30 + name.length + data.length;
  }
  const centralSize = centrals.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, ...centrals, end]);
}
