# syslog as on the MMP: every line of mmpd -d has a time and a plain
# message (no function names without -v); "syslog" shows the recent lines
# from a bounded ring; "syslog follow" streams until Ctrl-C, and the
# daemon drops a follower whose shell left or that reads nothing; remote
# syslog servers get RFC 5424 over UDP and TCP (octet counting), and one
# that stops reading costs a capped buffer and a count of dropped lines.
TOOL="$HERE/syslogtool.py"
STAMP='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
notime() {
	sed -E "s/^$STAMP /<time> /"
}
start_daemon
mmp xmpp domain example.com
say every line of the log starts with the time
grep -cEv "^$STAMP mmpd: " "$T/mmpd.log"
say no function names in the log without -v
grep -cE "^$STAMP mmpd: [a-z0-9]+_[a-z0-9_]+: " "$T/mmpd.log"
say syslog shows the recent lines
"$TOP/mmp" -s "$SOCK" syslog >"$T/ring.out" 2>&1
echo "[exit $?]"
grep -E 'ready on|xmpp domain' "$T/ring.out" | notime | filter
grep -cEv "^$STAMP mmpd: " "$T/ring.out"

say the ring keeps at most 1000 lines
/usr/bin/python3 "$TOOL" flood "$SOCK" 1100 short
"$TOP/mmp" -s "$SOCK" syslog >"$T/ring.out" 2>&1
wc -l <"$T/ring.out"
grep -c 'ready on' "$T/ring.out"
tail -n 1 "$T/ring.out" | notime
say and at most 256 KiB
/usr/bin/python3 "$TOOL" flood "$SOCK" 200 long
"$TOP/mmp" -s "$SOCK" syslog >"$T/ring.out" 2>&1
n=$(wc -c <"$T/ring.out")
[ "$n" -le $((256 * 1024)) ] && echo "ring: at most 256 KiB"
[ "$n" -ge $((200 * 1024)) ] && echo "ring: more than 200 KiB kept"

say syslog follow streams new lines until Ctrl-C
"$TOP/mmp" -s "$SOCK" syslog follow >"$T/follow.out" 2>&1 &
fpid=$!
i=0
followed() {
	i=$((i + 1))
	"$TOP/mmp" -s "$SOCK" hostname "followed$i" >/dev/null 2>&1
	grep -q 'ran "hostname followed' "$T/follow.out"
}
wait_for "the follower to see a new line" followed
grep -m 1 'ran "hostname followed' "$T/follow.out" | notime |
    sed 's/followed[0-9]*/followed<n>/'
kill -INT "$fpid"
wait "$fpid"
echo "syslog follow after SIGINT: exit $?"
wait_for "mmpd to drop the follower" grep -q 'syslog follow of uid [0-9]* ended' \
    "$T/mmpd.log"
echo "mmpd dropped the follower"

say at most 16 followers at once
/usr/bin/python3 "$TOOL" manyfollow "$SOCK" 16

say a follower that reads nothing is cut, not buffered without limit
rm -f "$T/go"
/usr/bin/python3 "$TOOL" slowfollow "$SOCK" "$T/go" >"$T/slow.out" &
spid=$!
cut_off() {
	/usr/bin/python3 "$TOOL" flood "$SOCK" 20 long
	grep -q 'cut off' "$T/mmpd.log"
}
wait_for "mmpd to cut the slow follower" cut_off
grep 'cut off' "$T/mmpd.log" | notime | sed 's/uid [0-9]*/uid <uid>/'
touch "$T/go"
wait "$spid"
cat "$T/slow.out"
mmp version | grep -c 'Software version'

say remote syslog over UDP and TCP
HOST=$(uname -n)
for k in udp tcp tcpstall; do
	/usr/bin/python3 "$TOOL" listen "$k" "$T/$k.port" "$T/$k.got" \
	    "$HOST" "$MMPD_PID" &
	echo $! >"$T/$k.pid"
done
wait_for "the listeners" test -f "$T/udp.port" -a -f "$T/tcp.port" \
    -a -f "$T/tcpstall.port"
UPORT=$(cat "$T/udp.port")
TPORT=$(cat "$T/tcp.port")
SPORT=$(cat "$T/tcpstall.port")
ports() {
	sed -e "s/:$UPORT\$/:<udp>/" -e "s/:$UPORT /:<udp> /" \
	    -e "s/:$TPORT\$/:<tcp>/" -e "s/:$TPORT /:<tcp> /" \
	    -e "s/:$SPORT\$/:<stall>/" -e "s/:$SPORT /:<stall> /" \
	    -e 's/^\(Lines [a-z]* *: \)[0-9][0-9]*$/\1<n>/'
}
mmp syslog server list
mmp syslog server add "127.0.0.1:$UPORT" | ports
mmp syslog server add "127.0.0.1:$TPORT" tcp | ports
mmp syslog server add "127.0.0.1:$UPORT" | ports
mmp syslog server add example.com | ports
mmp syslog server add 127.0.0.1 udp | ports
mmp hostname remote-one
wait_for "the UDP line" grep -q 'ran "hostname remote-one"' "$T/udp.got"
wait_for "the TCP line" grep -q 'ran "hostname remote-one"' "$T/tcp.got"
grep 'ran "hostname remote-one"' "$T/udp.got" "$T/tcp.got" |
    sed "s|$T/||"
/usr/bin/python3 "$TOOL" flood "$SOCK" 1 long
wait_for "a long line over UDP" grep -q 'cut at 2048' "$T/udp.got"
echo "a long line over UDP: cut at 2048 bytes"
echo "malformed messages: $(cat "$T/udp.got" "$T/tcp.got" |
    grep -v '^cut at' | grep -vc '^ok ')"
mmp syslog server list | ports

say a TCP server that reads nothing: lines dropped and counted
mmp syslog server add "127.0.0.1:$SPORT" tcp | ports
wait_for "the stalled server to be connected" grep -q connected \
    "$T/tcpstall.got"
stalled() {
	/usr/bin/python3 "$TOOL" flood "$SOCK" 20 long
	"$TOP/mmp" -s "$SOCK" syslog server list |
	    grep -A4 ":$SPORT\$" | grep -Eq 'dropped *: [1-9]'
}
wait_for "lines to the stalled server to be dropped" stalled
echo "stalled server: lines dropped"
mmp version | grep -c 'Software version'

say servers are kept per node across a restart
stop_daemon
start_daemon
mmp syslog server list | ports | grep -E '^(Server|Protocol)'
mmp syslog server del "127.0.0.1:$SPORT" | ports
mmp syslog server del "127.0.0.1:$UPORT" | ports
mmp syslog server del "127.0.0.1:$UPORT" | ports
mmp syslog server del "127.0.0.1:$TPORT" | ports
mmp syslog server list
say at most 8 servers
for p in 1 2 3 4 5 6 7 8 9; do
	"$TOP/mmp" -s "$SOCK" syslog server add "127.0.0.2:$p" >"$T/mmp.out" 2>&1 ||
	    { echo "server $p: exit $?"; cat "$T/mmp.out"; }
done
for k in udp tcp tcpstall; do
	kill "$(cat "$T/$k.pid")"
	wait "$(cat "$T/$k.pid")" 2>/dev/null
done
true
