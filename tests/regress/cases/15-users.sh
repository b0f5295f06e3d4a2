# xmpp user add|passwd|del|list: passwords asked twice, only SCRAM keys
# stored.
start_daemon
say no users yet
mmp xmpp user list
say add two users, the second name upper-cased
mmp_in 'secret-pw-1\nsecret-pw-1\n' xmpp user add alice
mmp_in 'secret-pw-2\nsecret-pw-2\n' xmpp user add Bob.Smith
mmp xmpp user list
say mismatched, empty and missing passwords change nothing
mmp_in 'one-password\nanother-one\n' xmpp user add carol
mmp_in '\n' xmpp user add carol
mmp_in 'only-once\n' xmpp user add carol
mmp xmpp user list
say names that exist, do not exist, or are not names
mmp_in 'x\nx\n' xmpp user add alice
mmp_in 'x\nx\n' xmpp user passwd nosuch
mmp xmpp user add .dot
mmp xmpp user add "a b"
mmp xmpp user add a@b
say a password never reaches the command line
mmp xmpp user add dave secret
say passwd and del
mmp_in 'new-pw-123\nnew-pw-123\n' xmpp user passwd alice
mmp xmpp user del bob.smith
mmp xmpp user del bob.smith
mmp xmpp user list
say the database holds salted keys, never the password
if sqlite3 "$DATA/mmp.db" .dump | grep -q -e new-pw-123 -e secret-pw; then
	echo "FAILED: a password is in the database"
else
	echo "no password in the database"
fi
sqlite3 "$DATA/mmp.db" "SELECT localpart, hash, iterations, length(salt), length(stored_key) FROM user_scram ORDER BY localpart, hash"
