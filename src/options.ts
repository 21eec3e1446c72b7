import type { OptManager } from './optmanager.js';

/** Default configuration directory (CA files, config.yaml). */
export const CONF_DIR = '~/.mitmproxy';
/** Basename of the CA files in confdir (mitmproxy-ca.pem, ...). */
export const CONF_BASENAME = 'mitmproxy';
export const CONTENT_VIEW_LINES_CUTOFF = 512;
export const KEY_SIZE = 2048;

/**
 * Declare the core options: the ones the proxy core itself reads. Addons declare their own in
 * `load()`. Names, types, defaults and help texts are mitmproxy's (they are part of the web API).
 */
export function declareCoreOptions(o: OptManager): void {
  o.add('server', 'bool', true, 'Start a proxy server. Enabled by default.');
  o.add(
    'showhost',
    'bool',
    false,
    'Use the Host header to construct URLs for display.              This option is disabled by default because malicious apps may send misleading host headers to evade             your analysis. If this is not a concern, enable this options for better flow display.',
  );
  o.add(
    'show_ignored_hosts',
    'bool',
    false,
    "Record ignored flows in the UI even if we do not perform TLS interception. This option will keep ignored flows' contents in memory, which can greatly increase memory usage. A future release will fix this issue, record ignored flows by default, and remove this option.",
  );
  o.add(
    'add_upstream_certs_to_client_chain',
    'bool',
    false,
    'Add all certificates of the upstream server to the certificate chain that will be served to the proxy client, as extras.',
  );
  o.add('confdir', 'str', CONF_DIR, 'Location of the default mitmproxy configuration files.');
  o.add(
    'certs',
    'sequence of str',
    [],
    'SSL certificates of the form "[domain=]path". The domain may include a wildcard, and is equal to "*" if not specified. The file at path is a certificate in PEM format. If a private key is included in the PEM, it is used, else the default key in the conf dir is used. The PEM file should contain the full certificate chain, with the leaf certificate as the first entry.',
  );
  o.add(
    'cert_passphrase',
    'optional str',
    null,
    "Passphrase for decrypting the private key provided in the --cert option.  Note that passing cert_passphrase on the command line makes your passphrase visible in your system's process list. Specify it in config.yaml to avoid this.",
  );
  o.add('client_certs', 'optional str', null, 'Client certificate file or directory.');
  o.add(
    'ignore_hosts',
    'sequence of str',
    [],
    'Ignore host and forward all traffic without processing it. In transparent mode, it is recommended to use an IP address (range), not the hostname. In regular mode, only SSL traffic is ignored and the hostname should be used. The supplied value is interpreted as a regular expression and matched on the ip or the hostname.',
  );
  o.add('allow_hosts', 'sequence of str', [], 'Opposite of --ignore-hosts.');
  o.add('listen_host', 'str', '', 'Address to bind proxy server(s) to (may be overridden for individual modes, see `mode`).');
  o.add(
    'listen_port',
    'optional int',
    null,
    'Port to bind proxy server(s) to (may be overridden for individual modes, see `mode`). By default, the port is mode-specific. The default regular HTTP proxy spawns on port 8080.',
  );
  o.add(
    'mode',
    'sequence of str',
    ['regular'],
    'The proxy server type(s) to spawn. Can be passed multiple times.  Mitmproxy supports "regular" (HTTP), "local", "transparent", "socks5", "reverse:SPEC", "upstream:SPEC", and "wireguard[:PATH]" proxy servers. For reverse and upstream proxy modes, SPEC is host specification in the form of "http[s]://host[:port]". For WireGuard mode, PATH may point to a file containing key material. If no such file exists, it will be created on startup.  You may append `@listen_port` or `@listen_host:listen_port` to override `listen_host` or `listen_port` for a specific proxy mode. Features such as client playback will use the first mode to determine which upstream server to use.',
  );
  o.add('upstream_cert', 'bool', true, 'Connect to upstream server to look up certificate details.');
  o.add('http2', 'bool', true, 'Enable/disable HTTP/2 support. HTTP/2 support is enabled by default.');
  o.add(
    'http2_ping_keepalive',
    'int',
    58,
    'Send a PING frame if an HTTP/2 connection is idle for more than the specified number of seconds to prevent the remote site from closing it. Set to 0 to disable this feature.',
  );
  o.add('http3', 'bool', true, 'Enable/disable support for QUIC and HTTP/3. Enabled by default.');
  o.add('http_connect_send_host_header', 'bool', true, 'Include host header with CONNECT requests. Enabled by default.');
  o.add('websocket', 'bool', true, 'Enable/disable WebSocket support. WebSocket support is enabled by default.');
  o.add('rawtcp', 'bool', true, 'Enable/disable raw TCP connections. TCP connections are enabled by default.');
  o.add(
    'ssl_insecure',
    'bool',
    false,
    'Do not verify upstream server SSL/TLS certificates.              If this option is enabled, certificate validation is skipped and mitmproxy itself will be vulnerable to             TLS interception.',
  );
  o.add(
    'ssl_verify_upstream_trusted_confdir',
    'optional str',
    null,
    'Path to a directory of trusted CA certificates for upstream server verification prepared using the c_rehash tool.',
  );
  o.add('ssl_verify_upstream_trusted_ca', 'optional str', null, 'Path to a PEM formatted trusted CA certificate.');
  o.add(
    'tcp_hosts',
    'sequence of str',
    [],
    'Generic TCP SSL proxy mode for all hosts that match the pattern. Similar to --ignore-hosts, but SSL connections are intercepted. The communication contents are printed to the log in verbose mode.',
  );
  o.add(
    'udp_hosts',
    'sequence of str',
    [],
    'Generic UDP SSL proxy mode for all hosts that match the pattern. Similar to --ignore-hosts, but SSL connections are intercepted. The communication contents are printed to the log in verbose mode.',
  );
  o.add(
    'content_view_lines_cutoff',
    'int',
    CONTENT_VIEW_LINES_CUTOFF,
    'Flow content view lines limit. Limit is enabled by default to speedup flows browsing.',
  );
  o.add('key_size', 'int', KEY_SIZE, 'TLS key size for certificates and CA.');
  o.add(
    'protobuf_definitions',
    'optional str',
    null,
    "Path to a .proto file that's used to resolve Protobuf field names when pretty-printing.",
  );
  o.add(
    'tcp_timeout',
    'int',
    600,
    'Timeout in seconds for inactive TCP connections. Connections will be closed after this period of inactivity.',
  );
}
