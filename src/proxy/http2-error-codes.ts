/** HTTP/2 error codes (RFC 9113 §7) by name, as mitmproxy (hyper-h2) spells them in flow errors. */
const NAMES: Record<number, string> = {
  0: 'NO_ERROR',
  1: 'PROTOCOL_ERROR',
  2: 'INTERNAL_ERROR',
  3: 'FLOW_CONTROL_ERROR',
  4: 'SETTINGS_TIMEOUT',
  5: 'STREAM_CLOSED',
  6: 'FRAME_SIZE_ERROR',
  7: 'REFUSED_STREAM',
  8: 'CANCEL',
  9: 'COMPRESSION_ERROR',
  10: 'CONNECT_ERROR',
  11: 'ENHANCE_YOUR_CALM',
  12: 'INADEQUATE_SECURITY',
  13: 'HTTP_1_1_REQUIRED',
};

/** The name of an HTTP/2 error code, or the number itself for a code the RFC does not define. */
export function http2ErrorName(code: number): string {
  return NAMES[code] ?? String(code);
}
