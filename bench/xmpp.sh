#!/bin/sh
# make bench, XMPP part: mmpd, Prosody and ejabberd, one after the other,
# under the same load from bench/xmppload, each workload on a fresh server
# process pinned to CPU 0 with the generator on CPU 1:
#   same       (bench/same.sh) the same offered load from xmppload and
#              from tsung, per-message CPU, syscalls and allocations; the
#              CPU curve; and the floor, a bare TLS relay
#   load       login storm (SCRAM-SHA-1), then offered message load in
#              steps until the server falls behind
#   component  the same through a XEP-0114 echo component
#   idle       $BENCH_IDLE logged-in sessions held idle (default 10,000;
#              past that, more resources per account and source addresses)
#   ctl        the control plane: mmp one-shot and batch (peers: their
#              own one-shot admin command)
#   sm         the same load without and with stream management (XEP-0198:
#              Prosody's mod_smacks, ejabberd's mod_stream_mgmt), in
#              pairs of runs: the server CPU each message costs more
# Same domain, certificate and accounts everywhere; the peers run from
# configurations written here (bench/*.cfg.in, bench/*.yml.in), never the
# packaged ones. Raw JSON in bench/out/; bench/report.sh prints the table.
# Every server started here is stopped by pid, also on errors and ^C.
# Speed is measured here, never asserted.
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT=$TOP/bench/out
PY=/usr/bin/python3
. "$TOP/bench/lib.sh"
SERVERS=${BENCH_SERVERS:-mmpd prosody ejabberd}
# same: the same-load figures and the CPU curve (bench/same.sh), with
# the floor; sm: the same load without and with stream management
# (bench/same.sh); load: login storm, saturation, component, idle,
# control.
WORK=${BENCH_WORK:-same sm load}
STORM=${BENCH_STORM:-1000}
IDLE=${BENCH_IDLE:-10000}
RATES=${BENCH_RATES:-1000,2000,5000,10000,20000,30000,40000,50000}
CRATES=${BENCH_COMP_RATES:-1000,2000,5000,10000,20000,30000,40000,50000}
STEP=${BENCH_STEP_SECS:-5}
CONC=${BENCH_CONC:-100}
ONESHOT=${BENCH_ONESHOT:-200}
BATCH=${BENCH_BATCH:-1000}
DOMAIN=example.com
SECRET=bench-$$-secret

XL=${XMPPLOAD:-}
if [ -z "$XL" ]; then
	for XL in "$TOP/${O:-obj}/bench/xmppload" "$TOP/obj/bench/xmppload" \
	    "$TOP/obj-san/bench/xmppload"; do
		[ -x "$XL" ] && break
	done
fi
[ -x "$XL" ] || { echo "bench: no bench/xmppload: run make bench" >&2; exit 1; }

# Sessions need descriptors: raise the limit (root may raise the hard
# one too), or at least the soft limit to the hard one.
ulimit -n $((IDLE + 1024)) 2>/dev/null || ulimit -n "$(ulimit -Hn)" \
    2>/dev/null || true
fdmax=$(ulimit -n)
if [ "$fdmax" != unlimited ] && [ "$IDLE" -gt $((fdmax - 200)) ]; then
	echo "bench: ulimit -n is $fdmax: idle sessions cut to $((fdmax - 200))"
	IDLE=$((fdmax - 200))
fi
# Past 10,000 idle sessions, several resources per account (accounts cost
# minutes to provision) and a source address per 20,000 sessions (the
# ephemeral ports of one address); at least 4 addresses, so that 100
# logins in flight stay below mmpd's 32 unauthenticated streams per
# address.
IDLE_RES=$(((IDLE + 9999) / 10000))
IDLE_ACCT=$(((IDLE + IDLE_RES - 1) / IDLE_RES))
IDLE=$((IDLE_ACCT * IDLE_RES))
SRCS=$((4 + IDLE / 20000))
NACCT=$IDLE_ACCT
[ "$STORM" -le "$NACCT" ] || NACCT=$STORM

SRV_PID=
SRV_WRAP=
SRV_ENV=
T=$(mktemp -d "${TMPDIR:-/tmp}/mmp-bench-xmpp.XXXXXX")
chmod 0711 "$T"		# ejabberd runs as its own user below
mkdir -p "$OUT" "$T/cert"
: >"$T/pids"
rm -f "$OUT"/xmpp-*.json "$OUT"/xmpp-*.dat "$OUT"/xmpp-*.png "$OUT"/*.png

# Stop a process by pid: SIGTERM, up to 20 seconds, then SIGKILL.
stop_pid() {
	p=$1
	if alive "$p"; then
		kill -TERM "$p" 2>/dev/null || true
		i=0
		while alive "$p"; do
			i=$((i + 1))
			if [ "$i" -gt 200 ]; then
				echo "bench: $(cat "/proc/$p/comm")" \
				    "($p) did not stop in 20 s: SIGKILL"
				kill -KILL "$p" 2>/dev/null || true
				sleep 0.2
				break
			fi
			sleep 0.1
		done
	fi
	wait "$p" 2>/dev/null || true
}

# Remember a pid to stop on the way out.
track() {
	echo "$1" >>"$T/pids"
}

# Stop everything that is still running, last started first.
stop_all() {
	for p in $(sort -rn "$T/pids" 2>/dev/null | uniq); do
		stop_pid "$p"
	done
	: >"$T/pids"
}

cleanup() {
	st=$?
	trap - EXIT INT TERM
	stop_all
	if [ -n "${BENCH_KEEP:-}" ]; then
		echo "bench: kept $T"
	else
		rm -rf "$T"
	fi
	exit "$st"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# n free TCP ports on loopback.
free_ports() {
	$PY -c 'import socket, sys
s = [socket.socket() for i in range(int(sys.argv[1]))]
for x in s:
    x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))' "$1"
}

# SCRAM-SHA-1 keys (4096 iterations, as mmpd stores them) for every
# account, written as Prosody's internal_hashed account files and as
# Erlang terms for ejabberd: the same accounts without registering them
# one by one through the servers.
gen_keys() {
	$PY - "$NACCT" "$T/prosody/prosody-data/example%2ecom/accounts" \
	    "$T/ejabberd/accounts.eterm" <<'EOF'
import base64, hashlib, hmac, os, sys
from multiprocessing import Pool

n, pdir, eterm = int(sys.argv[1]), sys.argv[2], sys.argv[3]
os.makedirs(pdir, exist_ok=True)
os.makedirs(os.path.dirname(eterm), exist_ok=True)

def one(i):
    salt = os.urandom(12).hex()
    sp = hashlib.pbkdf2_hmac("sha1", b"pass%d" % i, salt.encode(), 4096)
    ck = hmac.new(sp, b"Client Key", "sha1").digest()
    st = hashlib.sha1(ck).digest()
    sk = hmac.new(sp, b"Server Key", "sha1").digest()
    with open(os.path.join(pdir, "user%d.dat" % i), "w") as f:
        f.write('return {\n\t["iteration_count"] = 4096;\n'
                '\t["salt"] = "%s";\n\t["server_key"] = "%s";\n'
                '\t["stored_key"] = "%s";\n};\n' % (salt, sk.hex(), st.hex()))
    b = lambda x: base64.b64encode(x).decode()
    return '{<<"user%d">>,<<"%s">>,<<"%s">>,<<"%s">>}.\n' % (
        i, b(st), b(sk), b(salt.encode()))

with Pool(2) as p:
    terms = p.map(one, range(1, n + 1), chunksize=500)
with open(eterm, "w") as f:
    f.writelines(terms)
EOF
}

# Fill a configuration template.
fill() {
	sed -e "s|@T@|$2|g" -e "s|@E@|$2|g" -e "s|@CPORT@|$CPORT|g" \
	    -e "s|@MPORT@|$MPORT|g" -e "s|@DPORT@|${DPORT:-0}|g" \
	    -e "s|@NODE@|xlbench$$|g" -e "s|@SECRET@|$SECRET|g" "$1"
}

# --- mmpd -------------------------------------------------------------

mmpd_start() {
	D=$T/mmpd
	mkdir -p "$D"
	taskset -c 0 env $SRV_ENV "$TOP/mmpd" -d -D "$D/data" -s "$D/sock" \
	    >>"$D/mmpd.log" 2>&1 &
	SRV_PID=$!
	SRV_WRAP=$SRV_PID
	track "$SRV_PID"
	wait_for 300 "$TOP/mmp" -s "$D/sock" version ||
	    { echo "bench: mmpd did not start"; return 1; }
	if [ -f "$D/provisioned" ]; then
		wait_for 300 port_open "$CPORT" ||
		    { echo "bench: mmpd does not listen on $CPORT"; return 1; }
	fi
}

# Configuration, certificate and accounts through mmp batch mode.
mmpd_provision() {
	D=$T/mmpd
	s=$(date +%s)
	{
		echo "xmpp domain $DOMAIN"
		echo "xmpp listen 127.0.0.1"
		echo "xmpp port client $CPORT"
		echo "xmpp port component $MPORT"
		echo "pki selfsigned xmpp CN:$DOMAIN key:ec256"
		echo "xmpp certs xmpp.key xmpp.crt"
		echo "xmpp callbridge add-secret cb1"
		echo "$SECRET"
		echo "$SECRET"
		i=1
		while [ "$i" -le "$NACCT" ]; do
			printf 'xmpp user add user%d\npass%d\npass%d\n' \
			    "$i" "$i" "$i"
			i=$((i + 1))
		done
		echo "xmpp enable"
	} | "$TOP/mmp" -s "$D/sock" >"$D/provision.out" 2>&1 || {
		tail -3 "$D/provision.out"
		return 1
	}
	if grep -q FAILURE "$D/provision.out"; then
		grep FAILURE "$D/provision.out"
		return 1
	fi
	cp "$D/data/files/xmpp.key" "$D/data/files/xmpp.crt" "$T/cert/"
	touch "$D/provisioned"
	echo "  mmpd: $NACCT accounts through mmp batch mode in" \
	    "$(($(date +%s) - s)) s"
	wait_for 300 port_open "$CPORT"
}

mmpd_ctl() {
	ctl_time mmpd "mmp xmpp" xmpp "$TOP/mmp" -s "$T/mmpd/sock" xmpp
}

# --- Prosody ----------------------------------------------------------

prosody_provision() {
	P=$T/prosody
	mkdir -p "$P"
	fill "$TOP/bench/prosody.cfg.in" "$P" >"$P/prosody.cfg.lua"
	cp "$T/cert/xmpp.key" "$T/cert/xmpp.crt" "$P/"
	chmod 0600 "$P/xmpp.key"
}

prosody_start() {
	P=$T/prosody
	taskset -c 0 env $SRV_ENV prosody --config "$P/prosody.cfg.lua" -F \
	    >>"$P/prosody.out" 2>&1 &
	SRV_PID=$!
	SRV_WRAP=$SRV_PID
	track "$SRV_PID"
	wait_for 300 port_open "$CPORT" ||
	    { echo "bench: Prosody did not start"; tail "$P/prosody.out"; \
	    return 1; }
}

prosody_ctl() {
	ctl_time prosody "prosodyctl shell server:version()" "" \
	    prosodyctl --config "$T/prosody/prosody.cfg.lua" shell \
	    "server:version()"
}

# --- ejabberd ---------------------------------------------------------

ejabberd_provision() {
	E=$T/ejabberd
	mkdir -p "$E/spool" "$E/logs"
	DPORT=$(free_ports 1)
	fill "$TOP/bench/ejabberd.yml.in" "$E" >"$E/ejabberd.yml"
	fill "$TOP/bench/ejabberdctl.cfg.in" "$E" >"$E/ejabberdctl.cfg"
	echo '{lookup, [file, native]}.' >"$E/inetrc"
	cp "$T/cert/xmpp.key" "$T/cert/xmpp.crt" "$E/"
	chmod 0600 "$E/xmpp.key"
	chown -R ejabberd:ejabberd "$E"
}

# As the ejabberd user without su: su's PAM session would cut the soft
# descriptor limit back to 1,024 (about 990 sessions).
as_ejabberd() {
	setpriv --reuid=ejabberd --regid=ejabberd --init-groups \
	    env HOME="$(getent passwd ejabberd | cut -d: -f6)" "$@"
}

ejabberd_start() {
	E=$T/ejabberd
	rm -f "$E/ejabberd.pid"
	(cd "$E" && exec taskset -c 0 setpriv --reuid=ejabberd \
	    --regid=ejabberd --init-groups \
	    env HOME="$(getent passwd ejabberd | cut -d: -f6)" $SRV_ENV \
	    ejabberdctl --config-dir "$E" \
	    --config "$E/ejabberd.yml" --ctl-config "$E/ejabberdctl.cfg" \
	    --logs "$E/logs" --spool "$E/spool" foreground) \
	    >>"$E/ejabberd.out" 2>&1 &
	SRV_WRAP=$!
	track "$SRV_WRAP"
	if ! wait_for 600 test -s "$E/ejabberd.pid" ||
	    ! wait_for 600 port_open "$CPORT"; then
		echo "bench: ejabberd did not start"
		tail "$E/ejabberd.out"
		return 1
	fi
	SRV_PID=$(cat "$E/ejabberd.pid")
	track "$SRV_PID"
	if [ ! -f "$E/provisioned" ]; then
		ejabberd_accounts || return 1
		touch "$E/provisioned"
	fi
}

# Every account with its SCRAM keys in one call into the running node
# (each `ejabberdctl register` starts an Erlang node of its own, and
# in-band registration derives the keys in the server: both take minutes
# for 10,000 accounts).
ejabberd_accounts() {
	E=$T/ejabberd
	s=$(date +%s)
	# #scram{} of ejabberd 23.01: stored key, server key, salt (base64),
	# hash, iteration count.
	cat >"$E/accounts.sh" <<EOF
cd $E || exit 1
exec erl -sname xlreg$$@localhost -hidden -noshell -noinput \
    -erl_epmd_port $DPORT -start_epmd false -dist_listen false -eval '
{ok, L} = file:consult("$E/accounts.eterm"),
R = rpc:call(list_to_atom("xlbench$$@localhost"), lists, map,
    [fun({U, St, Sv, Sa}) -> ejabberd_auth:try_register(U, <<"$DOMAIN">>,
        {scram, St, Sv, Sa, sha, 4096}) end, L], infinity),
io:format("~p~n", [length([ok || ok <- R])]), halt().'
EOF
	n=$(as_ejabberd sh "$E/accounts.sh" 2>&1 | tail -1)
	if [ "$n" != "$NACCT" ]; then
		echo "bench: ejabberd took $n of $NACCT accounts"
		return 1
	fi
	echo "  ejabberd: $NACCT accounts (precomputed SCRAM keys) in" \
	    "$(($(date +%s) - s)) s"
}

ejabberd_ctl() {
	E=$T/ejabberd
	ctl_time ejabberd "ejabberdctl status" "" setpriv --reuid=ejabberd \
	    --regid=ejabberd --init-groups \
	    env HOME="$(getent passwd ejabberd | cut -d: -f6)" ejabberdctl \
	    --config-dir "$E" --config "$E/ejabberd.yml" \
	    --ctl-config "$E/ejabberdctl.cfg" --logs "$E/logs" \
	    --spool "$E/spool" status
}

# --- measuring --------------------------------------------------------

# Stop the server of this workload.
srv_stop() {
	stop_pid "$SRV_PID"
	[ "$SRV_WRAP" = "$SRV_PID" ] || stop_pid "$SRV_WRAP"
}

# One generator run on CPU 1: JSON to bench/out, progress prefixed.
gen() {
	srv=$1
	name=$2
	shift 2
	f=$OUT/xmpp-$srv-$name.json
	{
		taskset -c 1 "$XL" -p "$CPORT" -d "$DOMAIN" -P "$SRV_PID" "$@" \
		    2>&1 >"$f" || echo "xmppload exited with status $?"
	} | sed "s/^/  $srv $name: /"
	[ -s "$f" ] || { echo "  $srv $name: no result"; rm -f "$f"; }
}

# Wall-clock medians of an admin command: one-shot runs and, for mmp,
# one batch of $BATCH lines (median of 3 batches, per command).
ctl_time() {
	srv=$1
	what=$2
	line=$3
	shift 3
	runs=$ONESHOT
	[ "$srv" = mmpd ] || runs=20
	taskset -c 1 $PY - "$OUT/xmpp-$srv-ctl.json" "$srv" "$what" "$runs" \
	    "$BATCH" "$line" "$@" <<'EOF'
import json, statistics, subprocess, sys, time

out, srv, what, runs, batch, line = sys.argv[1:7]
cmd = sys.argv[7:]
runs, batch = int(runs), int(batch)
dn = subprocess.DEVNULL
one = []
for i in range(runs):
    t = time.perf_counter()
    rc = subprocess.run(cmd, stdin=dn, stdout=dn, stderr=dn).returncode
    one.append(time.perf_counter() - t)
    if rc != 0:
        sys.exit("%s: exit status %d" % (what, rc))
r = {"command": what, "oneshot_runs": runs,
     "oneshot_median_ms": statistics.median(one) * 1000,
     "oneshot_min_ms": min(one) * 1000}
if line:
    data = ((line + "\n") * batch).encode()
    per = []
    for i in range(3):
        t = time.perf_counter()
        p = subprocess.run(cmd[:-1], input=data, stdout=dn, stderr=dn)
        per.append((time.perf_counter() - t) / batch)
        if p.returncode != 0:
            sys.exit("batch: exit status %d" % p.returncode)
    r.update({"batch_commands": batch, "batch_runs": 3,
              "batch_median_ms_per_command": statistics.median(per) * 1000})
with open(out, "w") as f:
    json.dump(r, f)
    f.write("\n")
print("  %s ctl: %s: one-shot median %.2f ms%s" % (srv, what,
      r["oneshot_median_ms"], ", batch %.3f ms per command" %
      r["batch_median_ms_per_command"] if line else ""))
EOF
}

# The workloads of one server, each on a fresh process.
run_server() {
	srv=$1
	echo "== xmpp: $srv"
	case " $WORK " in
	*" same "*) same_server "$srv" || return 1 ;;
	esac
	case " $WORK " in
	*" sm "*) sm_server "$srv" || return 1 ;;
	esac
	case " $WORK " in *" load "*) ;; *) return 0 ;; esac
	"${srv}_start" || return 1
	gen "$srv" load -n "$STORM" -m SCRAM-SHA-1 -c "$CONC" -S 4 \
	    -r "$RATES" -t "$STEP" -w 3 -T 600
	srv_stop

	"${srv}_start" || return 1
	XMPPLOAD_SECRET=$SECRET gen "$srv" component -n 100 -c "$CONC" -S 4 \
	    -k "$MPORT" -K "cb1.$DOMAIN" -r "$CRATES" -t 3 -w 3 -T 300
	"${srv}_ctl" || echo "  $srv ctl: failed"
	srv_stop

	"${srv}_start" || return 1
	gen "$srv" idle -n "$IDLE_ACCT" -R "$IDLE_RES" -S "$SRCS" \
	    -m SCRAM-SHA-1 -c "$CONC" -H 5 -T 900
	srv_stop
}

. "$TOP/bench/same.sh"

# --- the run ------------------------------------------------------------

start=$(date +%s)
set -- $(free_ports 2)
CPORT=$1
MPORT=$2
set --
echo "== xmpp: $NACCT accounts, storm of $STORM, idle $IDLE sessions," \
    "steps $RATES msg/s for $STEP s"
echo "   (server on CPU 0, xmppload on CPU 1; at most $CONC logins in" \
    "flight from $SRCS source addresses, below mmpd's 32 unauthenticated" \
    "streams per address)"

case " $SERVERS " in
*" prosody "* | *" ejabberd "*)
	s=$(date +%s)
	gen_keys
	echo "  SCRAM keys for Prosody and ejabberd in $(($(date +%s) - s)) s"
	;;
esac

# mmpd makes the certificate every server uses.
mmpd_start
mmpd_provision
srv_stop
case " $SERVERS " in
*" mmpd "*)
	run_server mmpd || { echo "== xmpp: mmpd failed"; srv_stop; }
	;;
esac
case " $WORK " in
*" same "*) same_floor || { echo "== xmpp: floor failed"; srv_stop; } ;;
esac

for srv in prosody ejabberd; do
	case " $SERVERS " in *" $srv "*) ;; *) continue ;; esac
	case $srv in
	prosody) bin=prosody ;;
	ejabberd) bin=ejabberdctl ;;
	esac
	if ! command -v "$bin" >/dev/null 2>&1; then
		echo "== xmpp: $srv is not installed (scripts/setup): skipped"
		continue
	fi
	"${srv}_provision"
	run_server "$srv" || { echo "== xmpp: $srv failed"; srv_stop; }
done

# The version of an installed Debian package, or -.
pkgver() {
	dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo -
}

rev=$(git -C "$TOP" describe --always --dirty 2>/dev/null || echo ?)
{
	echo "{\"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\","
	echo " \"cpus\": $(nproc), \"kernel\": \"$(uname -r)\","
	echo " \"mmpd\": \"$rev\","
	echo " \"prosody\": \"$(pkgver prosody)\","
	echo " \"ejabberd\": \"$(pkgver ejabberd)\","
	echo " \"openssl\": \"$(openssl version | cut -d' ' -f2)\","
	echo " \"storm\": $STORM, \"idle\": $IDLE, \"concurrency\": $CONC,"
	echo " \"idle_resources\": $IDLE_RES, \"idle_sources\": $SRCS,"
	echo " \"same_users\": $SAME_USERS, \"same_rate\": $SAME_RATE,"
	echo " \"same_s\": $SAME_SECS, \"curve_rates\": \"$CURVE_RATES\","
	echo " \"curve_s\": $CURVE_SECS, \"tsung\": \"$(pkgver tsung)\","
	echo " \"sm_pairs\": $SM_PAIRS, \"sm_every\": $SM_EVERY,"
	echo " \"rates\": \"$RATES\", \"step_s\": $STEP,"
	echo " \"seconds\": $(($(date +%s) - start))}"
} >"$OUT/xmpp-env.json"
stop_all
sh "$TOP/bench/report.sh" "$OUT"
