import { imageType, parseGif, parseIco, parseJpeg, parsePng, parseWebp, type ImageMetadata } from '../image-parsers.js';
import { mergeRepeatedKeys, ruamelDump } from '../yaml-emit.js';
import type { ContentView } from '../types.js';

const PARSERS: Record<string, (data: Buffer) => ImageMetadata> = {
  png: parsePng,
  gif: parseGif,
  jpeg: parseJpeg,
  ico: parseIco,
  webp: parseWebp,
};

/** "# PNG Image" and the image's format, size and metadata as YAML. */
export const image: ContentView = {
  name: 'Image',
  syntaxHighlight: 'yaml',
  render(data) {
    const type = imageType(data);
    const parser = type ? PARSERS[type] : undefined;
    const meta = parser ? parser(data) : [];
    const heading = type ? `${type.toUpperCase()} Image` : 'Unknown Image';
    return `# ${heading}\n` + ruamelDump(mergeRepeatedKeys(meta));
  },
  renderPriority(_data, metadata) {
    const ct = metadata.contentType;
    return ct && ct.startsWith('image/') && !ct.endsWith('+xml') ? 1 : 0;
  },
};
