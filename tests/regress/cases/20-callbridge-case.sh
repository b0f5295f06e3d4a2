# Call-bridge names that differ only in case (issue 10, finding 9): they
# are one name. CB1 next to cb1 is refused; a component that names CB1 in
# its stream header is the call bridge cb1 and logs in with cb1's secret
# only; a database from before, holding cb1, Cb1 and CB1, keeps the one
# whose secret the handshake used (cb1) and drops the others.
make_certs

# Open a component stream to $MPORT naming $1 and hand-shake with the
# secret $2 (XEP-0114); print what the server answered.
handshake() {
	/usr/bin/python3 - "$MPORT" "$1" "$2" <<'EOF'
import hashlib, re, socket, sys
port, to, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(("<stream:stream xmlns='jabber:component:accept' "
           "xmlns:stream='http://etherx.jabber.org/streams' "
           "to='%s'>" % to).encode())
buf = b""
while b">" not in buf.split(b"<stream:stream", 1)[-1]:
    d = s.recv(4096)
    if not d:
        break
    buf += d
m = re.search(rb"<stream:stream[^>]*>", buf)
if m is None:
    err = re.search(rb"<([a-z-]+) xmlns='urn:ietf:params:xml:ns:xmpp-streams'",
                    buf)
    print("to=%s: stream refused: %s" %
          (to, err.group(1).decode() if err else buf[:80]))
    sys.exit(0)
hdr = m.group(0).decode()
sid = re.search(r"\bid=['\"]([^'\"]+)", hdr).group(1)
frm = re.search(r"\bfrom=['\"]([^'\"]+)", hdr).group(1)
digest = hashlib.sha1((sid + secret).encode()).hexdigest()
s.sendall(("<handshake>%s</handshake>" % digest).encode())
buf = buf[m.end():]
while b"<handshake/>" not in buf and b"</stream:stream>" not in buf:
    d = s.recv(4096)
    if not d:
        break
    buf += d
if b"<handshake/>" in buf:
    print("to=%s: logged in as %s" % (to, frm))
else:
    err = re.search(rb"<([a-z-]+) xmlns='urn:ietf:params:xml:ns:xmpp-streams'",
                    buf)
    print("to=%s: handshake refused: %s" %
          (to, err.group(1).decode() if err else "closed"))
s.close()
EOF
}

# Wait (bounded) until the component port takes connections.
comp_up() {
	/usr/bin/python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()' \
	    "$MPORT"
}

start_daemon
use_ports
mmp xmpp domain example.com >/dev/null
mmp xmpp listen 127.0.0.1 >/dev/null
mmp xmpp certs xmpp.key xmpp.crt ca-bundle.crt >/dev/null
mmp_in 'cb1-lower-secret\ncb1-lower-secret\n' xmpp callbridge add-secret cb1
say a name differing only in case is refused, by add and add-secret
mmp_in 'CB1-upper-secret\nCB1-upper-secret\n' xmpp callbridge add-secret CB1
mmp xmpp callbridge add Cb1 | mask_secrets
mmp xmpp callbridge add cB1 | mask_secrets
say del names the exact call bridge and says which one exists
mmp xmpp callbridge del CB1
mmp xmpp callbridge list | grep '^Callbridge'
mmp xmpp enable | grep -c '^SUCCESS' | sed 's/^/checks passed: /'
wait_for "the component port" comp_up
say the handshake maps any case of the name to cb1, and only its secret
handshake cb1.example.com cb1-lower-secret
handshake CB1.example.com cb1-lower-secret
handshake Cb1 cb1-lower-secret
handshake CB1.example.com CB1-upper-secret
handshake cb1.example.com CB1-upper-secret
handshake cb2.example.com cb1-lower-secret
stop_daemon

say a database from before holding cb1, Cb1 and CB1 keeps cb1 alone
/usr/bin/python3 - "$DATA/mmp.db" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("DROP INDEX IF EXISTS callbridge_name_nocase")
db.execute("DELETE FROM callbridge WHERE name <> 'cb1'")
db.execute("INSERT INTO callbridge (name, secret) VALUES "
           "('CB1', 'CB1-upper-secret'), ('Cb1', 'Cb1-mixed-secret')")
db.execute("DROP TABLE IF EXISTS offline")  # schema 4 made it
db.execute("PRAGMA user_version = 2")
db.commit()
EOF
start_daemon
grep -o 'dropping call bridge.*' "$T/mmpd.log"
mmp xmpp callbridge list | grep -E '^(Callbridge|Secret)' | mask_secrets
wait_for "the component port" comp_up
handshake CB1.example.com cb1-lower-secret
handshake CB1.example.com CB1-upper-secret
handshake Cb1.example.com Cb1-mixed-secret
