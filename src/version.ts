/** Our own release, printed by `--version` and sent in `Server:` headers of answers we make ourselves. */
export const VERSION = '0.1.0';
/** The mitmproxy release whose behaviour we follow (spec/core.md). */
export const MITMPROXY_COMPAT_VERSION = '13.0.0.dev';
/** The newest flow file format version we write (spec/flow-format.md §2.0). */
export const FLOW_FORMAT_VERSION = 21;
/**
 * Value of the `Server` header on responses the proxy and the web API make themselves (errors,
 * block_list, map_local, mitmweb): mitmproxy's, so what matches mitmproxy's answers matches ours.
 */
export const SERVER_HEADER = `mitmproxy ${MITMPROXY_COMPAT_VERSION}`;
