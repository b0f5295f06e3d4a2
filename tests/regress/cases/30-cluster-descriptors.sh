# Descriptor exhaustion on the cluster port. A cluster of one runs; its
# limit is lowered under it so that accept() on the cluster port fails
# with EMFILE: the port must rest instead of spinning (low CPU, one log
# line), the shell must still answer, and once the attackers are gone a
# new connection is accepted again.
make_certs
make_node_cert
set -- $(free_ports)
LPORT=$1
set --
cat >"$T/flood.py" <<'EOF2'
"""Open N connections from each source address to the port and hold them
until the file 'release' appears (60 s at most). usage: flood.py PORT N
ADDR..."""
import os, socket, sys, time
port, n, addrs = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
socks = []
for a in addrs:
    for i in range(n):
        try:
            socks.append(socket.create_connection(('127.0.0.1', port), 5,
                                                  (a, 0)))
        except OSError:
            pass
open('opened', 'w').close()
end = time.monotonic() + 60
while not os.path.exists('release') and time.monotonic() < end:
    time.sleep(0.05)
for s in socks:
    s.close()
EOF2
start_daemon
mmp_in "xmpp domain example.com\nxmpp listen 127.0.0.1\nxmpp port cluster $LPORT\nxmpp certs xmpp.key node.crt\nxmpp cluster trust ca-bundle.crt\nxmpp cluster enable\nxmpp cluster initialize\n" >/dev/null
"$TOP/mmp" -s "$SOCK" xmpp cluster status | head -1

ticks() {
	awk '{ print $14 + $15 }' "/proc/$MMPD_PID/stat"
}
nfds() {
	ls "/proc/$MMPD_PID/fd" | wc -l
}
logged() {
	grep -q "$1" "$T/mmpd.log"
}
# A TCP connection to the cluster port is accepted (the kernel's queue
# is drained by mmpd: nothing left waiting in it after a second).
backlog_empty() {
	[ "$(ss -Hltn "sport = :$LPORT" | awk '{ print $2 }')" = 0 ]
}

say the cluster port out of descriptors
lim=$(($(nfds) + 4))
prlimit --pid "$MMPD_PID" --nofile="$lim:$lim"
start=$(wc -l <"$T/mmpd.log")
/usr/bin/python3 "$T/flood.py" "$LPORT" 20 127.0.0.2 127.0.0.3 &
flood=$!
wait_for "the flood to connect" test -f "$T/opened"
wait_for "the cluster port to rest" logged "cluster port .*: not accepting"
hz=$(getconf CLK_TCK)
a=$(ticks)
sleep 2
b=$(ticks)
if [ $((b - a)) -lt $((hz / 4)) ]; then
	echo "cpu: low"
else
	echo "cpu: busy, $((b - a)) ticks of $((2 * hz)) in 2 s"
fi
timeout 10 "$TOP/mmp" -s "$SOCK" version >/dev/null 2>&1
echo "mmp version: exit $?"
n=$(tail -n "+$((start + 1))" "$T/mmpd.log" | grep -c accept)
if [ "$n" -le 2 ]; then
	echo "log: at most 2 lines about accept"
else
	echo "log: $n lines about accept"
fi
touch "$T/release"
wait "$flood"
wait_for "the cluster port to accept again" backlog_empty
echo "cluster port: accepting again"
"$TOP/mmp" -s "$SOCK" xmpp cluster status | head -1
