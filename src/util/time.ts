/** Current wall-clock time in seconds since the epoch, with sub-millisecond precision, as mitmproxy's time.time(). */
export function now(): number {
  return (performance.timeOrigin + performance.now()) / 1000;
}
