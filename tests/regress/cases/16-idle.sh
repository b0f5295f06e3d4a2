# An idle mmpd sleeps: with clustering off, and as a cluster of one (its
# libuv loop inside ours must not spin). CPU time of 2 s of idling, from
# /proc, must stay under a quarter of it.
make_certs
make_node_cert
set -- $(free_ports)
LPORT=$1
set --
# CPU ticks (user + system) of mmpd so far.
ticks() {
	awk '{ print $14 + $15 }' "/proc/$MMPD_PID/stat"
}
idle() {
	hz=$(getconf CLK_TCK)
	a=$(ticks)
	sleep 2
	b=$(ticks)
	if [ $((b - a)) -lt $((hz / 2)) ]; then
		echo "idle: $1: sleeps"
	else
		echo "idle: $1: busy, $((b - a)) ticks of $((2 * hz)) in 2 s"
	fi
}
start_daemon
use_ports
idle "clustering off"
mmp_in "xmpp domain example.com\nxmpp listen 127.0.0.1\nxmpp port cluster $LPORT\nxmpp certs xmpp.key node.crt\nxmpp cluster trust ca-bundle.crt\nxmpp cluster enable\nxmpp cluster initialize\n" >/dev/null
"$TOP/mmp" -s "$SOCK" xmpp cluster status | head -1
idle "a cluster of one"
