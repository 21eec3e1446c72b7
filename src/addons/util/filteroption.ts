/**
 * Options whose value is an optional flow filter expression (save_stream_filter,
 * readfile_filter, stickyauth, stickycookie, dumper_filter, intercept, view_filter): compiled
 * once when the option changes, so a bad expression is refused as the option is set.
 */
import { parse as parseFilter, FilterError, type Filter } from '../../flowfilter/index.js';
import { OptionsError } from '../../optmanager.js';

/** Compile a filter option value (null or empty: no filter); a bad expression becomes an OptionsError with the filter's message. */
export function filterOption(value: string | null): Filter | null {
  if (!value) return null;
  try {
    return parseFilter(value);
  } catch (e) {
    if (e instanceof FilterError) throw new OptionsError(e.message);
    throw e;
  }
}
