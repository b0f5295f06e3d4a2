# Configuration and call bridges survive a restart and a kill -9 right
# after the command returned.
make_certs
start_daemon
use_ports
mmp xmpp domain example.com
mmp xmpp listen 127.0.0.1 ::1
mmp xmpp certs xmpp.key xmpp.crt ca-bundle.crt
mmp_in 'persistent-secret-1\npersistent-secret-1\n' xmpp callbridge add-secret cb1
mmp xmpp enable
say after a clean restart
stop_daemon
start_daemon
mmp xmpp
mmp xmpp callbridge list
say changed, then kill -9 at once
mmp xmpp port client 5400
mmp_in 'persistent-secret-2\npersistent-secret-2\n' xmpp callbridge add-secret cb2
mmp xmpp callbridge del cb1
kill_daemon
say after kill -9 a stale socket is replaced
start_daemon
mmp xmpp | grep -E '^(Enabled|Client port|Call bridges)'
mmp xmpp callbridge list
say mmpd -n checks the database
"$TOP/mmpd" -n -D "$DATA" | sed "s|$T|\$T|g"
ls -l "$DATA/mmp.db" | cut -c1-10
say a second mmpd on the same socket refuses to start
"$TOP/mmpd" -d -D "$T/other" -s "$SOCK" 2>&1 | sed -e "s|$T|\$T|g" \
    -e 's/^[0-9]\{4\}-[0-9-]*T[0-9:.]*Z /<time> /'
