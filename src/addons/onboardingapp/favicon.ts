/**
 * The onboarding page's icon (/static/images/favicon.ico, the path mitmproxy's page uses): a
 * green disc with a white centre, 16x16, drawn here rather than shipped as a binary file. An ICO
 * holding one 32-bit bitmap: directory, BITMAPINFOHEADER (height doubled for the AND mask),
 * BGRA rows bottom-up, then the AND mask (all zero: the alpha channel decides).
 */
const SIZE = 16;

function draw(): Buffer {
  const pixels = Buffer.alloc(SIZE * SIZE * 4);
  const c = (SIZE - 1) / 2;
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const r = Math.hypot(x - c, y - c);
      const i = ((SIZE - 1 - y) * SIZE + x) * 4; // bottom-up rows
      if (r > 7.5) continue; // transparent
      const white = r < 3;
      pixels.set(white ? [0xff, 0xff, 0xff, 0xff] : [0x2a, 0x7a, 0x2a, 0xff], i); // B, G, R, A
    }
  }
  const header = Buffer.alloc(6 + 16 + 40);
  header.writeUInt16LE(0, 0);
  header.writeUInt16LE(1, 2); // an icon
  header.writeUInt16LE(1, 4); // one image
  header.writeUInt8(SIZE, 6);
  header.writeUInt8(SIZE, 7);
  header.writeUInt16LE(1, 10); // planes
  header.writeUInt16LE(32, 12); // bits per pixel
  const mask = Buffer.alloc(SIZE * 4); // 1 bit per pixel, rows padded to 4 bytes
  header.writeUInt32LE(40 + pixels.length + mask.length, 14);
  header.writeUInt32LE(6 + 16, 18);
  header.writeUInt32LE(40, 22);
  header.writeInt32LE(SIZE, 26);
  header.writeInt32LE(SIZE * 2, 30);
  header.writeUInt16LE(1, 34);
  header.writeUInt16LE(32, 36);
  return Buffer.concat([header, pixels, mask]);
}

let icon: Buffer | null = null;

/** The icon's bytes (drawn once). */
export function faviconIco(): Buffer {
  icon ??= draw();
  return icon;
}
