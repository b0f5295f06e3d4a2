# shellcheck shell=sh
# make bench, XMPP part, sourced by bench/xmpp.sh: the figures at the SAME
# offered load for every server and for the floor (bench/floor.c):
#   same    xmppload: $SAME_USERS sessions over STARTTLS, $SAME_RATE chat
#           messages a second for $SAME_SECS s
#   tsung   the same load from tsung (bench/tsung.xml.in), a second,
#           independent driver
#   curve   xmppload at each of $CURVE_RATES msg/s, for the CPU plot
# each on a fresh server process on CPU 0 with the driver on CPU 1, the
# server with bench/malloc_count.so preloaded for the same and tsung runs.
# bench/measure.py takes CPU (user, system), syscalls, allocations and
# RSS over a window inside the load; bench/report.sh divides.

SAME_USERS=${BENCH_SAME_USERS:-300}
SAME_RATE=${BENCH_SAME_RATE:-3000}
SAME_SECS=${BENCH_SAME_SECS:-10}
CURVE_RATES=${BENCH_CURVE_RATES:-500,1000,2000,3000,5000}
CURVE_SECS=${BENCH_CURVE_SECS:-4}
# sm: the same load without and with stream management (XEP-0198), in
# $SM_PAIRS back-to-back pairs of runs; the clients ask for an ack after
# every $SM_EVERY stanzas (slixmpp's default window) and answer the
# server's requests.
SM_PAIRS=${BENCH_SM_PAIRS:-3}
SM_EVERY=${BENCH_SM_EVERY:-5}
SAME_CONC=30		# below mmpd's 32 unauthenticated streams per address
SAME_SRC=8		# source addresses 127.0.0.1..8
TSUNG_ARRIVAL=100	# tsung users arriving a second
MC_SO=$TOP/${O:-obj}/bench/malloc_count.so
FLOOR=$TOP/${O:-obj}/bench/floor
FLOORDRIVE=$TOP/${O:-obj}/bench/floordrive

# The environment a server starts with while its allocations are counted.
same_env_on() {
	mkdir -p "$T/mc"
	chmod 0777 "$T/mc"
	SRV_ENV="LD_PRELOAD=$MC_SO MALLOC_COUNT_FILE=$T/mc/malloc.%p"
}

same_env_off() {
	SRV_ENV=
}

# The measuring window inside a driver's run: $1 name, $2 regex or "",
# $3 delay, $4 seconds, the driver after --.
same_measure() {
	name=$1
	re=$2
	delay=$3
	secs=$4
	shift 5
	set -- -p "$SRV_PID" -o "$OUT/xmpp-$name-m.json" \
	    -m "$T/mc/malloc.$SRV_PID" -d "$delay" -w "$secs" \
	    -x "$OUT/xmpp-$name.json" ${re:+-e "$re"} -- "$@"
	$PY "$TOP/bench/measure.py" "$@" 2>&1 | sed "s/^/  $name: /"
}

# xmppload at the same load, measured.
same_xmppload() {
	srv=$1
	w=$((SAME_SECS - 3))
	[ "$w" -ge 1 ] || w=1
	same_measure "$srv-same" 'logins: [0-9]+ ok' 1 "$w" -- \
	    taskset -c 1 "$XL" -p "$CPORT" -d "$DOMAIN" -P "$SRV_PID" \
	    -n "$SAME_USERS" -c "$SAME_CONC" -S "$SAME_SRC" -m SCRAM-SHA-1 \
	    -r "$SAME_RATE" -t "$SAME_SECS" -w 3 -T 300
}

# Pairs of xmppload runs at the same load, without and with stream
# management, each on a fresh server with allocations counted:
# xmpp-<srv>-smoff<i>.json and xmpp-<srv>-smon<i>.json (and -m).
sm_server() {
	srv=$1
	w=$((SAME_SECS - 3))
	[ "$w" -ge 1 ] || w=1
	same_env_on
	smi=1
	while [ "$smi" -le "$SM_PAIRS" ]; do
		for mode in off on; do
			"${srv}_start" || return 1
			if [ "$mode" = on ]; then
				set -- -M "$SM_EVERY"
			else
				set --
			fi
			same_measure "$srv-sm$mode$smi" 'logins: [0-9]+ ok' 1 \
			    "$w" -- taskset -c 1 "$XL" -p "$CPORT" \
			    -d "$DOMAIN" -P "$SRV_PID" -n "$SAME_USERS" \
			    -c "$SAME_CONC" -S "$SAME_SRC" -m SCRAM-SHA-1 \
			    -r "$SAME_RATE" -t "$SAME_SECS" -w 3 -T 300 "$@"
			srv_stop
		done
		smi=$((smi + 1))
	done
	same_env_off
}

# tsung at the same load, measured; its summary as JSON.
same_tsung() {
	srv=$1
	command -v tsung >/dev/null 2>&1 || {
		echo "  $srv tsung: tsung is not installed (scripts/setup)"
		return 0
	}
	think=$($PY -c "print(round($SAME_USERS / $SAME_RATE, 4))")
	iter=$((SAME_SECS * SAME_RATE / SAME_USERS))
	arr_s=$(((SAME_USERS + TSUNG_ARRIVAL - 1) / TSUNG_ARRIVAL))
	d=$T/tsung-$srv
	rm -rf "$d"
	mkdir -p "$d/log"
	sed -e "s|@USERS@|$SAME_USERS|g" -e "s|@ARRIVAL@|$TSUNG_ARRIVAL|g" \
	    -e "s|@ARRIVAL_S@|$((arr_s + 5))|g" -e "s|@DOMAIN@|$DOMAIN|g" \
	    -e "s|@PORT@|$CPORT|g" -e "s|@ITER@|$iter|g" \
	    -e "s|@THINK@|$think|g" -e "s|@SIZE@|16|g" \
	    "$TOP/bench/tsung.xml.in" >"$d/tsung.xml"
	# Arrivals, logins and the global wait first: the window opens
	# 4 s after the last arrival and closes 2 s before the end.
	w=$((SAME_SECS - 6))
	[ "$w" -ge 1 ] || w=1
	(cd "$d" && HOME=$d same_measure "$srv-tsung-run" "" \
	    $((arr_s + 4)) "$w" -- taskset -c 1 tsung -f "$d/tsung.xml" \
	    -l "$d/log" start)
	$PY - "$d/log" "$OUT/xmpp-$srv-tsung.json" "$SAME_USERS" "$iter" \
	    "$SAME_RATE" <<'EOF'
import glob, json, sys
logs, out, users, it, rate = sys.argv[1:6]
last = {}
for p in glob.glob(logs + "/*/tsung.log"):
    for line in open(p):
        f = line.split()
        if len(f) >= 3 and f[0] == "stats:":
            last[f[1]] = f[2:]
r = {"tool": "tsung", "users": int(users), "iterations": int(it),
     "offered_rate": int(rate)}
for k, name in (("tr_chat", "chats"), ("tr_login", "logins"),
                ("connect", "connects")):
    # count in the last interval, then the count before it
    if k in last and len(last[k]) == 7:
        r[name] = int(last[k][0]) + int(last[k][-1])
r["errors"] = {k: int(v[-1]) for k, v in last.items()
               if k.startswith("error") and len(v) == 2}
cpu = []
for p in glob.glob(logs + "/*/tsung.log"):
    for line in open(p):
        f = line.split()
        if len(f) >= 4 and f[0] == "stats:" and f[1].startswith("{cpu,"):
            cpu.append(float(f[3]))
if cpu:
    r["driver_cpu_pct_max"] = max(cpu)
json.dump(r, open(out, "w"))
print("  tsung: %s chats of %d, %s logins, errors %s" % (
    r.get("chats"), int(users) * int(it), r.get("logins"), r["errors"]))
EOF
	mv "$OUT/xmpp-$srv-tsung-run-m.json" "$OUT/xmpp-$srv-tsung-m.json" \
	    2>/dev/null || true
	rm -f "$OUT/xmpp-$srv-tsung-run.json"
}

# xmppload at each rate of the curve (CPU per message against load).
same_curve() {
	srv=$1
	gen "$srv" curve -n "$SAME_USERS" -c "$SAME_CONC" -S "$SAME_SRC" \
	    -m SCRAM-SHA-1 -r "$CURVE_RATES" -t "$CURVE_SECS" -w 3 -g -T 300
}

# The three same-load workloads of one server.
same_server() {
	srv=$1
	same_env_on
	"${srv}_start" || return 1
	same_xmppload "$srv"
	srv_stop
	"${srv}_start" || return 1
	same_tsung "$srv"
	srv_stop
	same_env_off
	"${srv}_start" || return 1
	same_curve "$srv"
	srv_stop
}

# The floor: the relay on CPU 0, floordrive on CPU 1, the same load.
floor_start() {
	taskset -c 0 env $SRV_ENV "$FLOOR" -p "$CPORT" -k "$T/cert/xmpp.key" \
	    -c "$T/cert/xmpp.crt" -T 600 >>"$T/floor.log" 2>&1 &
	SRV_PID=$!
	SRV_WRAP=$SRV_PID
	track "$SRV_PID"
	wait_for 300 port_open "$CPORT" ||
	    { echo "bench: floor did not start"; return 1; }
}

same_floor() {
	[ -x "$FLOOR" ] && [ -x "$FLOORDRIVE" ] ||
	    { echo "== xmpp: no bench/floor: make bench builds it"; return 0; }
	echo "== xmpp: floor (bare TLS relay, bench/floor.c)"
	pairs=$((SAME_USERS / 2))
	w=$((SAME_SECS - 3))
	[ "$w" -ge 1 ] || w=1
	same_env_on
	floor_start || return 1
	same_measure floor-same 'pairs up' 1 "$w" -- taskset -c 1 \
	    "$FLOORDRIVE" -p "$CPORT" -n "$pairs" -P "$SRV_PID" \
	    -r "$SAME_RATE" -t "$SAME_SECS" -w 3 -T 300
	srv_stop
	same_env_off
	floor_start || return 1
	taskset -c 1 "$FLOORDRIVE" -p "$CPORT" -n "$pairs" -P "$SRV_PID" \
	    -r "$CURVE_RATES" -t "$CURVE_SECS" -w 3 -T 300 \
	    >"$OUT/xmpp-floor-curve.json" 2>"$T/floor-curve.err" ||
	    { echo "  floor curve: failed"; tail -3 "$T/floor-curve.err"; }
	srv_stop
}
