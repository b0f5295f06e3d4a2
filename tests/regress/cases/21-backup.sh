# backup snapshot, list and rollback: a round trip of the database and the
# file store; refusals (a name that exists, a bad name, a missing,
# truncated, garbage, oversized or hostile .bak: nothing changes); a
# cluster member refuses a rollback and says what to do, and a backup taken
# while a member restores as a standalone node with its own id; snapshots
# taken while accounts are being added are consistent (restored into a
# fresh daemon: integrity_check passes, every account is whole, and the
# accounts are a prefix of the adds).
make_certs
(
	cd "$DATA/files" || exit 1
	printf 'extendedKeyUsage=serverAuth,clientAuth\n' >both.ext
	openssl x509 -req -in xmpp.csr -CA ca-bundle.crt -CAkey ca.key \
	    -CAcreateserial -out node.crt -days 30 -extfile both.ext
	rm -f both.ext ca-bundle.srl
	chmod 600 xmpp.key
	echo "first version" >notes.txt
) >/dev/null 2>&1
set -- $(free_ports)
LPORT=$1
set --
ids() {
	sed -e 's/[0-9a-f]\{16\}/<id>/g' -e "s/$LPORT/<lport>/g" \
	    -e 's/^\(Since *: \)[0-9]*/\1<n>/'
}
# Backup sizes and dates change from run to run.
sizes() {
	sed -e 's/ [0-9][0-9]* bytes/ <n> bytes/' \
	    -e 's/^\(Written : \).*/\1<date>/'
}
sq() {
	sqlite3 "$1" "$2"
}
start_daemon
use_ports
mmp hostname before
mmp_in 'alicepw1\nalicepw1\n' xmpp user add alice
mmp xmpp domain example.com
mmp xmpp callbridge add-secret cb1 <<EOF
cbsecret1
cbsecret1
EOF
say no backups yet
mmp backup list
say snapshot: the database and the files of the store
mmp backup snapshot first | sizes
mmp backup list | sizes
say a name that exists, with or without .bak, is refused
mmp backup snapshot first
mmp backup snapshot first.bak
say bad names
mmp backup snapshot ../etc/x
mmp backup snapshot .hidden
mmp backup snapshot 'a b'
say a second snapshot is not inside the third: .bak files are left out
mmp backup snapshot second.bak | sizes
mmp backup snapshot third | sizes
sq "$DATA/files/third.bak" "SELECT kind, name, mode FROM item ORDER BY rowid"

say change everything after the snapshot
mmp hostname after
mmp_in 'bobpw123\nbobpw123\n' xmpp user add bob
mmp xmpp user del alice
mmp xmpp callbridge del cb1
mmp xmpp listen 127.0.0.1
mmp xmpp certs xmpp.key xmpp.crt ca-bundle.crt
mmp xmpp enable >/dev/null
mmp xmpp | grep -E '^Enabled'
echo "second version" >"$DATA/files/notes.txt"
rm "$DATA/files/other.key"
echo "made later" >"$DATA/files/later.txt"
store
mmp backup snapshot serving | sizes

say rollback of a missing backup
mmp_in 'Y\n' backup rollback nosuch
say a truncated backup: refused, nothing changed
head -c 20000 "$DATA/files/first.bak" >"$DATA/files/cut.bak"
mmp_in 'Y\n' backup rollback cut
say a garbage backup: refused, nothing changed
head -c 70000 /dev/urandom >"$DATA/files/junk.bak"
mmp_in 'Y\n' backup rollback junk.bak
printf 'SQLite format 3\000garbage' >"$DATA/files/fake.bak"
mmp_in 'Y\n' backup rollback fake
say an SQLite file that is no backup: refused
sq "$DATA/files/plain.bak" "CREATE TABLE t (x); INSERT INTO t VALUES (1)"
mmp_in 'Y\n' backup rollback plain
say a backup with a file name that leaves the store: refused
cp "$DATA/files/first.bak" "$DATA/files/evil.bak"
sq "$DATA/files/evil.bak" \
    "INSERT INTO item VALUES ('file', '../evil', 420, x'41')"
mmp_in 'Y\n' backup rollback evil
ls "$DATA" | grep -c evil
say a backup whose database holds a trigger: refused
cp "$DATA/files/first.bak" "$DATA/files/trig.bak"
sq "$DATA/files/trig.bak" "SELECT writefile('$T/img.db', data) FROM item \
    WHERE kind = 'db'" >/dev/null
sq "$T/img.db" "CREATE TRIGGER t AFTER INSERT ON user BEGIN \
    DELETE FROM user; END"
sq "$DATA/files/trig.bak" "UPDATE item SET data = readfile('$T/img.db') \
    WHERE kind = 'db'"
mmp_in 'Y\n' backup rollback trig
say a backup larger than the limit: refused before it is read
truncate -s 1073741825 "$DATA/files/huge.bak"
mmp_in 'Y\n' backup rollback huge
rm -f "$DATA/files/cut.bak" "$DATA/files/junk.bak" "$DATA/files/fake.bak" \
    "$DATA/files/plain.bak" "$DATA/files/evil.bak" "$DATA/files/trig.bak" \
    "$DATA/files/huge.bak"
say nothing changed
mmp hostname
mmp xmpp user list
store
ls "$DATA"

say anything but a capital Y changes nothing
mmp_in 'y\n' backup rollback first
mmp_in '' backup rollback first
mmp hostname

say rollback: the state and files of the snapshot are back
mmp_in 'Y\n' backup rollback first
mmp hostname
mmp xmpp user list
mmp xmpp callbridge list
mmp xmpp | grep -E '^(Enabled|Domain|Listen)'
store
cat "$DATA/files/notes.txt"
ls "$DATA"
say the restored account is there
mmp_in 'alicepw1\nalicepw1\n' xmpp user passwd alice
say a backup of a serving node: XMPP is served again after the rollback
mmp_in 'Y\n' backup rollback serving.bak
mmp xmpp | grep -E '^(Enabled|Listeners)' | sed "s/$CPORT/<cport>/"
mmp hostname
mmp_in 'Y\n' backup rollback first >/dev/null

say a cluster member refuses rollback and says what to do
mmp xmpp certs xmpp.key node.crt
mmp xmpp cluster trust ca-bundle.crt >/dev/null
mmp xmpp listen 127.0.0.1
mmp xmpp port cluster "$LPORT" | ids
mmp xmpp cluster enable | ids
mmp xmpp cluster initialize | ids
ID=$(sq "$DATA/mmp.db" "SELECT value FROM config WHERE key = 'cluster.id'")
mmp backup snapshot member | sizes
mmp_in 'Y\n' backup rollback first
mmp xmpp cluster remove >/dev/null
say the backup of a member restores a standalone node with its own id
stop_daemon
sq "$DATA/mmp.db" "UPDATE config SET value = 'fedcba9876543210' \
    WHERE key = 'cluster.id'"
start_daemon
mmp_in 'Y\n' backup rollback member
mmp xmpp cluster status | ids
NEWID=$(sq "$DATA/mmp.db" "SELECT value FROM config WHERE key = 'cluster.id'")
[ "$NEWID" = fedcba9876543210 ] && echo "node id kept: yes" ||
    echo "node id kept: no ($ID in the backup, $NEWID now)"

say snapshots while accounts are being added are consistent
nload() {
	"$TOP/mmp" -s "$SOCK" xmpp user list | grep -c '^load'
}
have_load() {
	[ "$(nload)" -ge "$1" ]
}
adder() {
	i=1
	while [ "$i" -le 120 ]; do
		printf 'loadpass\nloadpass\n' | "$TOP/mmp" -s "$SOCK" \
		    xmpp user add "$(printf 'load%03d' "$i")" >/dev/null 2>&1 ||
		    echo "add $i failed"
		i=$((i + 1))
	done
}
adder >"$T/adder.out" 2>&1 &
ADDER=$!
for s in 1 2 3; do
	wait_for "$((s * 25)) accounts" have_load $((s * 25))
	nload >"$T/before$s"
	"$TOP/mmp" -s "$SOCK" backup snapshot "load$s" >/dev/null ||
	    echo "snapshot load$s failed"
	nload >"$T/after$s"
done
wait "$ADDER"
cat "$T/adder.out"
mmp xmpp user list | grep -c '^load'
stop_daemon
MAIN="$DATA"
for s in 1 2 3; do
	DATA="$T/fresh$s"
	SOCK="$T/fresh$s.sock"
	start_daemon
	cp "$MAIN/files/load$s.bak" "$DATA/files/"
	mmp_in 'Y\n' backup rollback "load$s" | sed 's/[0-9]* files/<n> files/'
	stop_daemon
	"$TOP/mmpd" -n -D "$DATA" | sed "s|$T|\$T|"
	sq "$DATA/mmp.db" "PRAGMA integrity_check"
	k=$(sq "$DATA/mmp.db" "SELECT count(*) FROM user WHERE localpart \
	    LIKE 'load%'")
	whole=$(sq "$DATA/mmp.db" "SELECT count(*) FROM user u WHERE \
	    localpart LIKE 'load%' AND (SELECT count(*) FROM user_scram s \
	    WHERE s.localpart = u.localpart) = 2")
	last=$(sq "$DATA/mmp.db" "SELECT ifnull(max(localpart), '') FROM \
	    user WHERE localpart LIKE 'load%'")
	lo=$(cat "$T/before$s")
	hi=$(cat "$T/after$s")
	[ -n "${BACKUP_DEBUG:-}" ] && echo "load$s: $lo $k $hi" >&2
	[ "$whole" = "$k" ] && echo "load$s: every account whole" ||
	    echo "load$s: $whole of $k accounts whole"
	[ "$last" = "$(printf 'load%03d' "$k")" ] &&
	    echo "load$s: the accounts are a prefix of the adds" ||
	    echo "load$s: $k accounts, the last $last: not a prefix"
	[ "$k" -ge "$lo" ] && [ "$k" -le "$hi" ] &&
	    echo "load$s: as many as were listed around the snapshot" ||
	    echo "load$s: $k accounts, $lo before and $hi after the snapshot"
done
