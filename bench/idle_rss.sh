#!/bin/sh
# Resident memory per idle logged-in TLS session of mmpd (issue 16): a
# fresh mmpd in a temporary directory, BENCH_IDLE accounts (default 1000)
# made through mmp batch mode, then bench/xmppload logs them all in over
# STARTTLS (SCRAM-SHA-1, bind, presence; 30 at a time: mmpd refuses
# more than 32 unauthenticated streams per address) and holds them idle for
# BENCH_HOLD seconds (default 5); the server's RSS is read from /proc
# before the logins and at the end of the hold. Prints one line:
#   idle: N sessions, RSS before B KiB, held H KiB, K KiB per session
# and writes xmppload's JSON to $BENCH_OUT (default bench/out/idle-N.json).
# Server on CPU 0, generator on CPU 1. Everything started here is stopped
# by pid, also on errors and ^C. A measurement, never an assertion.
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
. "$TOP/bench/lib.sh"
N=${BENCH_IDLE:-1000}
HOLD=${BENCH_HOLD:-5}
DOMAIN=example.com
MMPD=${MMPD:-$TOP/mmpd}
MMP=${MMP:-$TOP/mmp}
XL=${XMPPLOAD:-$TOP/${O:-obj}/bench/xmppload}
OUTF=${BENCH_OUT:-$TOP/bench/out/idle-$N.json}

[ -x "$XL" ] || { echo "idle_rss: no $XL: make $XL" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fdmax=$(ulimit -n)
if [ "$fdmax" != unlimited ] && [ "$N" -gt $((fdmax - 200)) ]; then
	echo "idle_rss: ulimit -n is $fdmax: $N sessions do not fit" >&2
	exit 1
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/mmp-idle.XXXXXX")
PID=

cleanup() {
	st=$?
	trap - EXIT INT TERM
	if [ -n "$PID" ] && alive "$PID"; then
		kill -TERM "$PID" 2>/dev/null || true
		i=0
		while alive "$PID" && [ "$i" -lt 200 ]; do
			i=$((i + 1))
			sleep 0.1
		done
		alive "$PID" && kill -KILL "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null || true
	fi
	if [ -n "${BENCH_KEEP:-}" ]; then
		echo "idle_rss: kept $T"
	else
		rm -rf "$T"
	fi
	exit "$st"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

set -- $($PY -c 'import socket
s = [socket.socket() for i in range(2)]
for x in s:
    x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))')
CPORT=$1
MPORT=$2

taskset -c 0 "$MMPD" -d -D "$T/data" -s "$T/sock" >>"$T/mmpd.log" 2>&1 &
PID=$!
wait_for 300 "$MMP" -s "$T/sock" version ||
    { echo "idle_rss: mmpd did not start" >&2; exit 1; }
{
	echo "xmpp domain $DOMAIN"
	echo "xmpp listen 127.0.0.1"
	echo "xmpp port client $CPORT"
	echo "xmpp port component $MPORT"
	echo "pki selfsigned xmpp CN:$DOMAIN key:ec256"
	echo "xmpp certs xmpp.key xmpp.crt"
	i=1
	while [ "$i" -le "$N" ]; do
		printf 'xmpp user add user%d\npass%d\npass%d\n' "$i" "$i" "$i"
		i=$((i + 1))
	done
	echo "xmpp enable"
} | "$MMP" -s "$T/sock" >"$T/provision.out" 2>&1 || {
	tail -3 "$T/provision.out" >&2
	exit 1
}
if grep -q FAILURE "$T/provision.out"; then
	grep FAILURE "$T/provision.out" >&2
	exit 1
fi
wait_for 300 port_open "$CPORT" ||
    { echo "idle_rss: mmpd does not listen on $CPORT" >&2; exit 1; }

mkdir -p "$(dirname "$OUTF")"
taskset -c 1 "$XL" -q -p "$CPORT" -d "$DOMAIN" -P "$PID" -n "$N" \
    -m SCRAM-SHA-1 -c 30 -H "$HOLD" -T 900 >"$OUTF" ||
    { echo "idle_rss: xmppload exited with status $?" >&2; exit 1; }
$PY - "$OUTF" "$N" <<'EOF'
import json, sys

r = json.load(open(sys.argv[1]))
s = json.dumps(r)
def find(o, k):
    if isinstance(o, dict):
        if k in o:
            return o[k]
        for v in o.values():
            x = find(v, k)
            if x is not None:
                return x
    return None
ok = find(r, "ok")
b = find(r, "server_rss_kib_before")
h = find(r, "server_rss_kib_held") or find(r, "server_rss_kib_after")
per = find(r, "rss_kib_per_session")
print("idle: %s sessions (of %s), RSS before %s KiB, held %s KiB, "
      "%.2f KiB per session" % (ok, sys.argv[2], b, h, per))
if ok != int(sys.argv[2]):
    sys.exit(1)
EOF
