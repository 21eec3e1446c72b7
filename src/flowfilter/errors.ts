import { pyStrRepr } from '../io/pyrepr.js';

/**
 * A filter expression that cannot be used. The message starts with mitmproxy's wording
 * (`Invalid filter expression: '<text>'`, or `Empty filter expression`) and then says where and why.
 */
export class FilterError extends Error {
  /** The filter text as given. */
  readonly pattern: string;
  /** Offset in `pattern` where the problem was found; null when it is not about one place. */
  readonly position: number | null;
  /** Why the expression was refused, without the mitmproxy prefix. */
  readonly reason: string;

  constructor(message: string, details?: { pattern?: string; position?: number | null; reason?: string }) {
    super(message);
    this.name = 'FilterError';
    this.pattern = details?.pattern ?? '';
    this.position = details?.position ?? null;
    this.reason = details?.reason ?? message;
  }

  static empty(): FilterError {
    return new FilterError('Empty filter expression', { pattern: '', position: null, reason: 'Empty filter expression' });
  }

  static invalid(pattern: string, position: number | null, reason: string): FilterError {
    const where = position === null ? '' : `at char ${position}: `;
    return new FilterError(`Invalid filter expression: ${pyStrRepr(pattern)} (${where}${reason})`, { pattern, position, reason });
  }
}
