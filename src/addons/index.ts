import type { Addon } from '../hooks.js';
import { Core } from './core.js';
import { Browser } from './browser.js';
import { Block } from './block.js';
import { BlockList } from './blocklist.js';
import { StripDnsHttpsRecords } from './strip-dns-https-records.js';
import { AntiCache } from './anticache.js';
import { AntiComp } from './anticomp.js';
import { ClientPlayback } from './clientplayback.js';
import { CommandHistory } from './command_history.js';
import { Comment } from './comment.js';
import { Cut } from './cut.js';
import { DisableH2C } from './disable_h2c.js';
import { Export } from './export.js';
import { Onboarding } from './onboarding.js';
import { Inject } from './inject.js';
import { ProxyAuth } from './proxyauth.js';
import { ProxyServer } from './proxyserver.js';
import { ScriptLoader } from './script.js';
import { DnsResolver } from './dns-resolver.js';
import { ServerPlayback } from './serverplayback.js';
import { MapRemote } from './mapremote.js';
import { MapLocal } from './maplocal.js';
import { ModifyBody } from './modifybody.js';
import { ModifyHeaders } from './modifyheaders.js';
import { StickyAuth } from './stickyauth.js';
import { StickyCookie } from './stickycookie.js';
import { Save } from './save.js';
import { SaveHar } from './savehar.js';
import { TlsConfig } from './tlsconfig.js';
import { UpstreamAuth } from './upstream_auth.js';
import { UpdateAltSvc } from './update_alt_svc.js';

/**
 * The addons every tool runs, in mitmproxy's chain order (which decides hook order). Each
 * feature is one addon; a tool adds its own (termlog, dumper, view, web) around these.
 * NextLayer is not an addon here: its decisions (ignore_hosts, allow_hosts, tcp_hosts) live in
 * the proxy core (proxy/host-patterns.ts), and addons can still override them through the
 * next_layer and tls_clienthello hooks.
 */
export function defaultAddons(): Addon[] {
  return [
    new Core(),
    new Browser(),
    new Block(),
    new StripDnsHttpsRecords(),
    new BlockList(),
    new AntiCache(),
    new AntiComp(),
    new ClientPlayback(),
    new CommandHistory(),
    new Comment(),
    new Cut(),
    new DisableH2C(),
    new Export(),
    new Onboarding(),
    new ProxyAuth(),
    new ProxyServer(),
    new Inject(),
    new ScriptLoader(),
    // After the scripts, as in mitmproxy: a script's dns_request answer wins.
    new DnsResolver(),
    new ServerPlayback(),
    new MapRemote(),
    new MapLocal(),
    new ModifyBody(),
    new ModifyHeaders(),
    new StickyAuth(),
    new StickyCookie(),
    new Save(),
    new SaveHar(),
    new TlsConfig(),
    new UpstreamAuth(),
    new UpdateAltSvc(),
  ];
}

export {
  Core, Browser, Block, StripDnsHttpsRecords, BlockList, AntiCache, AntiComp, ClientPlayback, CommandHistory, Comment, Cut, DisableH2C, Export, Onboarding,
  ProxyAuth, ProxyServer, Inject, ScriptLoader, DnsResolver, ServerPlayback, MapRemote, MapLocal, ModifyBody, ModifyHeaders, StickyAuth, StickyCookie, Save,
  SaveHar, TlsConfig, UpstreamAuth, UpdateAltSvc,
};
