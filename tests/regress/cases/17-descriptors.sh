# Descriptor exhaustion from outside. mmpd starts under a low descriptor
# limit (128 soft, 256 hard: it must raise the soft one to the hard one).
# Phase 1: silent and half-open streams from 127.0.0.2-9 (60 each, more
# than the limit) meet the global cap on unauthenticated streams, not
# EMFILE. Phase 2: the limit is lowered under the running daemon so that
# accept() itself fails with EMFILE: the listener must pause instead of
# spinning, and the admin must still get in. In both: the shell answers,
# the log grows by a few lines, CPU over 2 s stays low, and a fresh client
# connects once the attackers are gone.
make_certs
cat >"$T/fresh.py" <<'EOF'
"""A fresh client from 127.0.0.1 gets its stream features."""
import socket, sys, time
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), 2)
s.settimeout(2)
s.send(b"<?xml version='1.0'?><stream:stream to='example.com' "
       b"xmlns='jabber:client' "
       b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
buf = b''
end = time.monotonic() + 2
while b'</stream:features>' not in buf and time.monotonic() < end:
    d = s.recv(4096)
    if not d:
        sys.exit(1)
    buf += d
sys.exit(0 if b'</stream:features>' in buf else 1)
EOF
cat >"$T/ctlhold.py" <<'EOF'
"""Hold one connection to the control socket until 'ctlrelease' appears
(60 s at most); write 'ctlheld' once connected."""
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
open('ctlheld', 'w').close()
end = time.monotonic() + 60
while not os.path.exists('ctlrelease') and time.monotonic() < end:
    time.sleep(0.05)
s.close()
EOF

# mmpd runs bare even under MMPD_WRAPPER: valgrind keeps descriptors of
# its own below the limit, and this case counts descriptors exactly.
(
	ulimit -Sn 128 && ulimit -Hn 256 &&
	    exec "$TOP/mmpd" -d -D "$DATA" -s "$SOCK"
) >>"$T/mmpd.log" 2>&1 &
MMPD_PID=$!
echo "$MMPD_PID" >"$T/mmpd.pid"
wait_for "mmpd answers" "$TOP/mmp" -s "$SOCK" version

say the soft descriptor limit is raised to the hard one
awk '/^Max open files/ { print "soft", $4, "hard", $5 }' \
    "/proc/$MMPD_PID/limits"
use_ports
mmp_in "xmpp domain example.com\nxmpp listen 127.0.0.1\nxmpp certs xmpp.key xmpp.crt ca-bundle.crt\nxmpp enable\n" |
    grep -v '^SUCCESS: Certificate valid'

# CPU ticks (user + system) of mmpd so far.
ticks() {
	awk '{ print $14 + $15 }' "/proc/$MMPD_PID/stat"
}
# Whether mmpd spends under a quarter of 2 s on the CPU.
cpu() {
	hz=$(getconf CLK_TCK)
	a=$(ticks)
	sleep 2
	b=$(ticks)
	if [ $((b - a)) -lt $((hz / 4)) ]; then
		echo "cpu: $1: low"
	else
		echo "cpu: $1: busy, $((b - a)) ticks of $((2 * hz)) in 2 s"
	fi
}
# Log lines about accept() since line $1 of the log; at most $2 wanted.
acceptlines() {
	n=$(tail -n "+$(($1 + 1))" "$T/mmpd.log" | grep -c accept)
	if [ "$n" -le "$2" ]; then
		echo "log: at most $2 lines about accept"
	else
		echo "log: $n lines about accept"
		tail -n "+$(($1 + 1))" "$T/mmpd.log" | grep accept | sort |
		    uniq -c | sort -rn | head -3
	fi
}
# Nothing waits in the client listener's accept queue.
backlog_empty() {
	[ "$(ss -Hltn "sport = :$CPORT" | awk '{ print $2 }')" = 0 ]
}
nfds() {
	ls "/proc/$MMPD_PID/fd" | wc -l
}
logged() {
	grep -q "$1" "$T/mmpd.log"
}
shell_answers() {
	timeout 10 "$TOP/mmp" -s "$SOCK" version >/dev/null 2>&1
	echo "mmp version: exit $?"
	timeout 10 "$TOP/mmp" -s "$SOCK" xmpp >"$T/status" 2>&1
	echo "mmp xmpp: exit $?"
}
fresh() {
	/usr/bin/python3 "$T/fresh.py" "$CPORT"
}
base=$(nfds)

say phase 1: 480 streams from 8 addresses against a limit of 256
start=$(wc -l <"$T/mmpd.log")
/usr/bin/python3 "$HERE/holdconns.py" "$CPORT" 60 127.0.0.2 127.0.0.3 127.0.0.4 \
    127.0.0.5 127.0.0.6 127.0.0.7 127.0.0.8 127.0.0.9 >"$T/hold.out" &
hold=$!
wait_for "the attack to connect" test -f "$T/opened"
wait_for "mmpd to take every connection off the queue" backlog_empty
cpu "under attack"
shell_answers
acceptlines "$start" 4
# An unfixed mmpd logs millions of lines here: stop before the disk fills.
if [ "$(wc -l <"$T/mmpd.log")" -gt 10000 ]; then
	echo "mmpd floods its log: the case stops here"
	kill_daemon
	touch "$T/release"
	wait "$hold"
	return
fi
touch "$T/release"
wait "$hold"
cat "$T/hold.out"
wait_for "a fresh client" fresh && echo "fresh client: served"
rm -f "$T/opened" "$T/release"

say phase 2: accept fails with EMFILE
wait_for "mmpd to close the attack" test "$(nfds)" -le "$base"
lim=$(($(nfds) + 6))
prlimit --pid "$MMPD_PID" --nofile="$lim:$lim"
start=$(wc -l <"$T/mmpd.log")
/usr/bin/python3 "$HERE/holdconns.py" "$CPORT" 20 127.0.0.2 127.0.0.3 \
    >"$T/hold.out" &
hold=$!
wait_for "the attack to connect" test -f "$T/opened"
wait_for "mmpd to pause its listener" logged "not accepting for"
cpu "out of descriptors"
shell_answers
acceptlines "$start" 2
say an admin connection holds the reserve, a second admin waits
/usr/bin/python3 "$T/ctlhold.py" "$SOCK" &
ctl=$!
wait_for "the control connection" test -f "$T/ctlheld"
timeout 20 "$TOP/mmp" -s "$SOCK" version >/dev/null 2>&1 &
second=$!
cpu "out of descriptors, admin waiting"
touch "$T/ctlrelease"
wait "$ctl"
wait "$second"
echo "second mmp version: exit $?"
acceptlines "$start" 3
touch "$T/release"
wait "$hold"
cut -d, -f1 "$T/hold.out"
wait_for "a fresh client" fresh && echo "fresh client: served"
say every line of the log is mmpd\'s
grep -Ev '^[0-9]{4}-[0-9-]{5}T[0-9:.]{12}Z mmpd: ' "$T/mmpd.log" | head -3
