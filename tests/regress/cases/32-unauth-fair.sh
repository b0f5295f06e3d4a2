# Four addresses must not lock everyone out (review finding 5). mmpd
# starts with 256 descriptors, so at most 128 unauthenticated streams in
# all; 127.0.0.2-5 open 40 silent or half-open streams each and hold
# them: each address keeps at most 32 (128 in all, the cap is full).
# A client from a fifth address still gets its stream features: the
# oldest stream of an address holding the most is closed for it.
make_certs
cat >"$T/fresh.py" <<'EOF'
"""A fresh client from address argv[2] gets its stream features."""
import socket, sys, time
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), 2,
                             (sys.argv[2], 0))
s.settimeout(2)
s.send(b"<?xml version='1.0'?><stream:stream to='example.com' "
       b"xmlns='jabber:client' "
       b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
buf = b''
end = time.monotonic() + 2
while b'</stream:features>' not in buf and time.monotonic() < end:
    try:
        d = s.recv(4096)
    except OSError:
        break
    if not d:
        break
    buf += d
ok = b'</stream:features>' in buf
print('client from %s: %s' % (sys.argv[2], 'stream features' if ok else
                              'refused'))
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
use_ports
mmp_in "xmpp domain example.com\nxmpp listen 127.0.0.1\nxmpp certs xmpp.key xmpp.crt ca-bundle.crt\nxmpp enable\n" |
    tail -1

backlog_empty() {
	[ "$(ss -Hltn "sport = :$CPORT" | awk '{ print $2 }')" = 0 ]
}
say 160 streams from 4 addresses, then a client from a fifth
/usr/bin/python3 "$HERE/holdconns.py" "$CPORT" 40 127.0.0.2 127.0.0.3 127.0.0.4 \
    127.0.0.5 >"$T/hold.out" &
hold=$!
wait_for "the attack to connect" test -f "$T/opened"
wait_for "mmpd to take every connection off the queue" backlog_empty
grep -c 'has 32 unauthenticated streams, refusing more' "$T/mmpd.log" |
    sed 's/^[1-9][0-9]*$/per-address cap logged/'
/usr/bin/python3 "$T/fresh.py" "$CPORT" 127.0.0.6
grep -q '128 unauthenticated streams, the limit: closing the oldest of the 32 from 127.0.0.[2-5] for 127.0.0.6' "$T/mmpd.log" &&
    echo "an attacker's oldest stream was closed for it"
touch "$T/release"
wait "$hold"
cat "$T/hold.out"
