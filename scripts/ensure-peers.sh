#!/usr/bin/env bash
# Makes sure what the tests talk to is present: Kamailio and SIPp (Debian packages), openssl,
# PostgreSQL and Redis on 127.0.0.1. Installs missing packages when run as root; otherwise
# fails with one line that says what to install.
set -euo pipefail
missing=()
command -v kamailio >/dev/null || missing+=(kamailio)
command -v kamcmd >/dev/null || missing+=(kamailio)
command -v sipp >/dev/null || missing+=(sip-tester)
command -v openssl >/dev/null || missing+=(openssl)
# Kamailio's TLS module ships in its own package.
ls /usr/lib/*/kamailio/modules/tls.so >/dev/null 2>&1 || missing+=(kamailio-tls-modules)
if [ ${#missing[@]} -gt 0 ]; then
  pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing test peers: $pkgs"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
  else
    echo "missing test peers: run 'apt-get install $pkgs' as root" >&2
    exit 1
  fi
fi
# A distribution-started Kamailio would hold 5060; the tests start their own on other ports.
if pgrep -x kamailio >/dev/null && [ -f /etc/kamailio/kamailio.cfg ] && pgrep -af 'kamailio.*/etc/kamailio' >/dev/null; then
  pkill -f 'kamailio.*/etc/kamailio' || true
fi
pg_url="${DIALTONE_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
node -e "
const net=require('net');
const check=(port,name)=>new Promise(r=>{const s=net.connect(port,'127.0.0.1',()=>{s.end();r(true)});s.on('error',()=>{console.error('PostgreSQL/Redis check: nothing listens on 127.0.0.1:'+port+' ('+name+')');r(false)})});
Promise.all([check(5432,'PostgreSQL'),check(6379,'Redis')]).then(ok=>process.exit(ok.every(Boolean)?0:1));
" || { echo "start PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 before the tests ($pg_url)" >&2; exit 1; }
