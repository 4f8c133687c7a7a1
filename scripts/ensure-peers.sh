#!/usr/bin/env bash
# Makes sure what the tests talk to is present: Kamailio and SIPp (Debian packages), openssl,
# espeak-ng and sox (speech made and measured by the voice tests), Chromium (the dashboard's
# browser test drives it), PostgreSQL and Redis on 127.0.0.1. Installs missing packages when run
# as root; otherwise fails with one line that says what to install.
set -euo pipefail
missing=()
command -v kamailio >/dev/null || missing+=(kamailio)
command -v kamcmd >/dev/null || missing+=(kamailio)
command -v sipp >/dev/null || missing+=(sip-tester)
command -v openssl >/dev/null || missing+=(openssl)
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
command -v sox >/dev/null || missing+=(sox)
command -v chromium >/dev/null || missing+=(chromium)
# Kamailio's TLS module ships in its own package.
ls /usr/lib/*/kamailio/modules/tls.so >/dev/null 2>&1 || missing+=(kamailio-tls-modules)
if [ ${#missing[@]} -gt 0 ]; then
  pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing test peers: $pkgs"
    running_before=" $( (pgrep -x kamailio || true) | tr '\n' ' ') "
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
    # The package may start the distribution's Kamailio (on 5060, /etc/kamailio's config). The
    # tests start their own, so stop that one: only processes this install started, by pid.
    for pid in $(pgrep -x kamailio || true); do
      case "$running_before" in *" $pid "*) continue ;; esac
      if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q /etc/kamailio; then
        kill "$pid" 2>/dev/null || true
      fi
    done
  else
    echo "missing test peers: run 'apt-get install $pkgs' as root" >&2
    exit 1
  fi
fi
pg_url="${DIALTONE_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
node -e "
const net=require('net');
const check=(port,name)=>new Promise(r=>{const s=net.connect(port,'127.0.0.1',()=>{s.end();r(true)});s.on('error',()=>{console.error('PostgreSQL/Redis check: nothing listens on 127.0.0.1:'+port+' ('+name+')');r(false)})});
Promise.all([check(5432,'PostgreSQL'),check(6379,'Redis')]).then(ok=>process.exit(ok.every(Boolean)?0:1));
" || { echo "start PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 before the tests ($pg_url)" >&2; exit 1; }
