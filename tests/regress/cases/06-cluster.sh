# The cluster commands on one node: what each says between the steps of
# the story, what they refuse, a node certificate without clientAuth,
# and a cluster of one that is initialized, restarted and left.
make_certs
(
	cd "$DATA/files" || exit 1
	printf 'extendedKeyUsage=serverAuth\nsubjectAltName=DNS:example.com\n' >srv.ext
	openssl x509 -req -in xmpp.csr -CA ca-bundle.crt -CAkey ca.key \
	    -CAcreateserial -out srvonly.crt -days 30 -extfile srv.ext
	printf 'extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:example.com\n' >both.ext
	openssl x509 -req -in xmpp.csr -CA ca-bundle.crt -CAkey ca.key \
	    -CAcreateserial -out node.crt -days 30 -extfile both.ext
	rm -f srv.ext both.ext
) >/dev/null 2>&1
set -- $(free_ports)
LPORT=$1
set --
# Node ids are random: show them as <id>.
ids() {
	sed -e 's/[0-9a-f]\{16\}/<id>/g' -e "s/$LPORT/<lport>/g" \
	    -e 's/^\(Since *: \)[0-9]*/\1<n>/'
}
start_daemon
use_ports
say status before anything
mmp xmpp cluster status
say initialize and join need clustering enabled
mmp xmpp cluster initialize
mmp xmpp cluster join 127.0.0.1 | ids
say join refuses what is not an address
mmp xmpp cluster join node1
mmp xmpp cluster join 127.0.0.1:99999
say disable when not enabled
mmp xmpp cluster disable
say trust: missing file, not a bundle
mmp xmpp cluster trust missing.crt
mmp xmpp cluster trust garbage.crt
say trust before certs: saved with a note
mmp xmpp cluster trust ca-bundle.crt
say a node certificate without clientAuth is refused, with the reason
mmp xmpp certs xmpp.key srvonly.crt
mmp xmpp cluster trust ca-bundle.crt
say a bundle the node certificate does not chain to is refused
mmp xmpp certs xmpp.key node.crt
mmp xmpp cluster trust other-ca.crt
mmp xmpp cluster trust ca-bundle.crt
say enable is refused while XMPP is enabled
mmp xmpp domain example.com
mmp xmpp listen 127.0.0.1
mmp xmpp port cluster "$LPORT" | ids
mmp xmpp port cluster "$CPORT"
mmp xmpp enable >/dev/null
mmp xmpp cluster enable
mmp xmpp disable
mmp xmpp cluster enable | ids
mmp xmpp cluster enable
mmp xmpp cluster status | ids
say initialize: a cluster of one, led by this node
mmp xmpp cluster initialize | ids
mmp xmpp cluster initialize
# A new leader settles before it routes: a moment, longer under valgrind.
wait_for "the new leader routes" sh -c \
    "'$TOP/mmp' -s '$SOCK' xmpp cluster status | grep '^Forwarding' |
    grep -qv settling"
mmp xmpp cluster status | ids | grep -v '^Last heard'
mmp xmpp | grep '^Cluster' | ids
say a member refuses reset, disable, a new domain and a new cluster port
mmp xmpp reset
mmp xmpp cluster disable
mmp xmpp domain example.org
mmp xmpp port cluster 5999
mmp xmpp cluster join 127.0.0.1 | ids
say accounts go through the log and survive a restart
mmp_in 'pw1\npw1\n' xmpp user add alice
stop_daemon
start_daemon
wait_for "the node leads again" sh -c \
    "'$TOP/mmp' -s '$SOCK' xmpp cluster status | grep -q LEADER"
mmp xmpp cluster status | ids | sed -n 1,3p
mmp xmpp user list
say timers
mmp xmpp cluster timers 5 500
mmp xmpp cluster timers 100 200
mmp xmpp cluster timers 50 300
mmp xmpp cluster status | grep "^Timers"
say remove another node that is not a member
mmp xmpp cluster remove 127.0.0.9 | ids
say the last member leaves, the account stays here
mmp xmpp cluster remove
mmp xmpp cluster status | ids
mmp xmpp user list
mmp xmpp cluster disable
