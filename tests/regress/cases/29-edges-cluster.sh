# Cluster rough edges (issue 15), on a cluster of one: join on a node that
# is already a member says so; remove with this node's own address says
# what to run instead.
make_certs
make_node_cert
set -- $(free_ports)
LPORT=$1
set --
ports() {
	sed -e "s/$LPORT/<lport>/g"
}
start_daemon
use_ports
mmp_in "xmpp domain example.com\nxmpp listen 127.0.0.1\nxmpp port cluster $LPORT\nxmpp certs xmpp.key node.crt\nxmpp cluster trust ca-bundle.crt\nxmpp cluster enable\nxmpp cluster initialize\n" >/dev/null
wait_for "the node leads" sh -c \
    "'$TOP/mmp' -s '$SOCK' xmpp cluster status | grep -q LEADER"
say join this node, already a member
mmp xmpp cluster join 127.0.0.1:$LPORT | ports
say join another cluster while a member
mmp xmpp cluster join 127.0.0.9:$LPORT | ports
say remove with this node address
mmp xmpp cluster remove 127.0.0.1:$LPORT | ports
mmp xmpp cluster remove 127.0.0.1 | ports
say still a member, then it leaves as told
"$TOP/mmp" -s "$SOCK" xmpp cluster status | grep -c '(me)'
mmp xmpp cluster remove
