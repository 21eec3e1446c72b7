/**
 * The Magisk module served at http://mitm.it/cert/magisk: installed with the Magisk app on a
 * rooted Android device, it adds the CA to the system certificate store, which (unlike the user
 * store) every app trusts. The archive has the layout and names mitmproxy's module uses, so a
 * module installed from either replaces the other (same module id).
 */
import { createHash } from 'node:crypto';
import { writeZip } from '../../util/zip-writer.js';
import { parseCertificate } from '../../certs/x509.js';

/** The file name in confdir and of the download (mitmproxy's CONF_BASENAME + "-magisk-module.zip"). */
export const MAGISK_MODULE_FILE = 'mitmproxy-magisk-module.zip';

const MODULE_PROP = `id=mitmproxycert
name=mitmproxy CA certificate
version=v1
versionCode=1
author=mitmproxy
description=Puts the mitmproxy certificate authority into the system certificate store
template=3
`;

// The installer Magisk runs (v20.4 and newer): its util_functions.sh does the actual work.
const UPDATE_BINARY = `#!/sbin/sh
umask 022
ui_print() { echo "$1"; }
too_old() {
  ui_print "This module needs Magisk v20.4 or newer."
  exit 1
}
OUTFD=$2
ZIPFILE=$3
mount /data 2>/dev/null
[ -f /data/adb/magisk/util_functions.sh ] || too_old
. /data/adb/magisk/util_functions.sh
[ "$MAGISK_VER_CODE" -lt 20400 ] && too_old
install_module
exit 0
`;

// Read by installers of the older module template only; kept so the layout is mitmproxy's.
const CONFIG_SH = `MODID=mitmproxycert
AUTOMOUNT=true
PROPFILE=false
POSTFSDATA=false
LATESTARTSERVICE=false

print_modname() {
  ui_print "mitmproxy CA certificate"
}

REPLACE=""

set_permissions() {
  set_perm_recursive $MODPATH 0 0 0755 0644
}
`;

/**
 * The name Android gives a CA file in /system/etc/security/cacerts: OpenSSL's "old" subject hash
 * (the first four bytes of the MD5 of the DER subject, little-endian, as 8 hex digits) plus ".0".
 * Always 8 digits, as `openssl x509 -subject_hash_old` prints it.
 */
function androidCaFileName(subjectDer: Buffer): string {
  const md5 = createHash('md5').update(subjectDer).digest();
  return `${md5.readUInt32LE(0).toString(16).padStart(8, '0')}.0`;
}

/** The module archive for the CA certificate `caDer`; the same certificate always gives the same bytes. */
export function magiskModule(caDer: Buffer): Buffer {
  const ca = parseCertificate(caDer);
  return writeZip(
    [
      { name: `system/etc/security/cacerts/${androidCaFileName(ca.subjectDer)}`, data: caDer },
      { name: 'module.prop', data: MODULE_PROP },
      { name: 'config.sh', data: CONFIG_SH },
      { name: 'META-INF/com/google/android/updater-script', data: '#MAGISK' },
      { name: 'META-INF/com/google/android/update-binary', data: UPDATE_BINARY },
      { name: 'common/file_contexts_image', data: '/magisk(/.*)? u:object_r:system_file:s0' },
      { name: 'common/post-fs-data.sh', data: 'MODDIR=${0%/*}\n' },
      { name: 'common/service.sh', data: 'MODDIR=${0%/*}\n' },
      { name: 'common/system.prop', data: '' },
    ],
    ca.notBefore,
  );
}
