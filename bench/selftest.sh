#!/bin/sh
# make bench, first step: the tools of the benchmark do what they say,
# before any figure rests on them (behaviour only, never speed):
#   malloc_count.so counts a known number of allocations into its file
#   floor relays every line between paired TLS connections (floordrive)
#   measure.py opens its window and reads CPU, syscalls and allocations
#   xmppload -S spreads its sessions over several source addresses
# Prints "selftest: N passed, N failed"; exit status 1 on a failure.
set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-obj}
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/mmp-bench-selftest.XXXXXX")
pass=0
fail=0
# Under SAN=1 the preloaded counter comes before the sanitizer's runtime,
# which then forwards to it: allowed here.
ASAN_OPTIONS=${ASAN_OPTIONS:-verify_asan_link_order=0}
export ASAN_OPTIONS
FPID=

cleanup() {
	if [ -n "$FPID" ] && kill -0 "$FPID" 2>/dev/null; then
		kill "$FPID"
		wait "$FPID" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

check() {
	what=$1
	shift
	if "$@" >/dev/null 2>&1; then
		echo "selftest: ok: $what"
		pass=$((pass + 1))
	else
		echo "selftest: FAILED: $what"
		fail=$((fail + 1))
	fi
}

# A field of a JSON file through a Python expression on j.
jq_() {
	$PY -c 'import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"
}

# 1. malloc_count: a C program that makes exactly 1,000 mallocs, 10
# callocs and 10 reallocs more with n=1000 than with n=0.
cat >"$T/m.c" <<'EOF'
#include <stdlib.h>
int
main(int argc, char *argv[])
{
	volatile char	*p;
	int		 i, n = atoi(argv[1]);

	for (i = 0; i < n; i++) {
		p = malloc(32 + i);
		p[0] = 1;
		free((void *)p);
	}
	for (i = 0; i < n / 100; i++) {
		p = calloc(4, 8);
		p = realloc((void *)p, 64);
		free((void *)p);
	}
	return (0);
}
EOF
cc -O0 -o "$T/m" "$T/m.c"
for n in 0 1000; do
	MALLOC_COUNT_FILE=$T/mc.$n LD_PRELOAD=$TOP/$O/bench/malloc_count.so \
	    "$T/m" "$n"
done
check "malloc_count: 1,000 mallocs, 10 callocs, 10 reallocs, 1,010 frees counted" \
    $PY -c 'import struct, sys
a, b = [struct.unpack("=8s6Q", open(f, "rb").read()) for f in sys.argv[1:]]
assert a[0] == b[0] == b"mallocnt"
d = [y - x for x, y in zip(a[1:5], b[1:5])]
sys.exit(0 if d == [1000, 10, 10, 0] and b[5] - a[5] == 1010 else 1)' \
    "$T/mc.0" "$T/mc.1000"

# 2. floor and floordrive: 4 pairs, 200 msg/s for 2 s, all delivered.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/k.pem" -out "$T/c.pem" -subj /CN=example.com -days 1 \
    >/dev/null 2>&1
port=$($PY -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
MALLOC_COUNT_FILE=$T/fmc LD_PRELOAD=$TOP/$O/bench/malloc_count.so \
    "$TOP/$O/bench/floor" -p "$port" -k "$T/k.pem" -c "$T/c.pem" -T 60 \
    2>"$T/floor.err" &
FPID=$!
i=0
until $PY -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' \
    "$port" 2>/dev/null; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || break
	sleep 0.1
done
$PY "$TOP/bench/measure.py" -p "$FPID" -o "$T/m.json" -m "$T/fmc" \
    -e 'pairs up' -d 0.2 -w 1 -x "$T/d.json" -- \
    "$TOP/$O/bench/floordrive" -p "$port" -n 4 -P "$FPID" -r 200 -t 2 \
    -w 3 -T 30 2>"$T/drive.err"
check "floor: every line relayed between its pair" jq_ "$T/d.json" \
    "len(j['steps']) == 1 and j['steps'][0]['sent'] >= 300 and \
    j['steps'][0]['recv'] == j['steps'][0]['sent']"
check "floordrive: relay CPU read from /proc" jq_ "$T/d.json" \
    "j['steps'][0]['server_cpu_s'] >= 0"
check "measure: window, CPU, syscalls and allocations of the relay" \
    jq_ "$T/m.json" "j['window_s'] >= 1 and j['cpu_user_s'] >= 0 and \
    j['syscalls'] > 0 and j['allocs'] > 0 and j['driver_status'] == 0"
kill "$FPID"
wait "$FPID" 2>/dev/null
FPID=
check "floor: stopped cleanly by SIGTERM" grep -q 'pairs linked' \
    "$T/floor.err"

# 3. xmppload -S: 20 accounts with 2 resources each log in from three
# source addresses, all 40 at once held idle, seen by the kernel as
# connections from 127.0.0.1, .2 and .3.
MMP=$TOP/$O/mmp
[ -x "$MMP" ] || MMP=$TOP/mmp
set -- $($PY -c 'import socket
s = [socket.socket() for i in range(1)]
for x in s:
    x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))')
cport=$1
set --
"$TOP/mmpd" -d -D "$T/mdata" -s "$T/msock" >"$T/mmpd.log" 2>&1 &
FPID=$!
i=0
until "$MMP" -s "$T/msock" version >/dev/null 2>&1; do
	i=$((i + 1))
	[ "$i" -lt 300 ] || break
	sleep 0.05
done
{
	echo "xmpp domain example.com"
	echo "xmpp listen 127.0.0.1"
	echo "xmpp port client $cport"
	echo "pki selfsigned xmpp CN:example.com key:ec256"
	echo "xmpp certs xmpp.key xmpp.crt"
	i=1
	while [ "$i" -le 20 ]; do
		printf 'xmpp user add user%d\npass%d\npass%d\n' "$i" "$i" "$i"
		i=$((i + 1))
	done
	echo "xmpp enable"
} | "$MMP" -s "$T/msock" >"$T/setup.out" 2>&1
"$TOP/$O/bench/xmppload" -q -p "$cport" -n 20 -R 2 -S 3 -c 10 -H 3 \
    -P "$FPID" -T 60 >"$T/idle.json" 2>"$T/idle.err" &
xpid=$!
# While they are held: the distinct source addresses of the sessions.
i=0
srcs=0
while [ "$i" -lt 100 ] && [ "$srcs" -lt 3 ]; do
	srcs=$(ss -Htn state established "( dport = :$cport )" |
	    awk '{ split($3, a, ":"); print a[1] }' | sort -u | wc -l)
	i=$((i + 1))
	sleep 0.1
done
wait "$xpid"
check "xmppload -S 3: 40 sessions logged in and held" jq_ "$T/idle.json" \
    "j['login']['ok'] == 40 and j['login']['failed'] == 0"
check "xmppload -S 3: connections from 127.0.0.1, .2 and .3" [ "$srcs" -eq 3 ]
kill "$FPID"
wait "$FPID" 2>/dev/null
FPID=

echo "selftest: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
