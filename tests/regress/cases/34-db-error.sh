# A database that fails under a running daemon: each command says
# "database error: ..." on one line and exits 1, never "no such user",
# "no callbridges" or a short list. The failure is real: another
# connection replaces a table with a view whose every row fails when
# SQLite steps to it.
start_daemon
say an account and a call bridge
mmp xmpp domain example.com
mmp_in 'secret-pw-1\nsecret-pw-1\n' xmpp user add alice
mmp_in 'cb1-secret-123\ncb1-secret-123\n' xmpp callbridge add-secret cb1
mmp xmpp user list
say the accounts fail underneath the daemon
sqlite3 "$DATA/mmp.db" "DROP TABLE user; CREATE VIEW user AS SELECT
    abs(-9223372036854775807 - 1) AS localpart, 0 AS created"
mmp xmpp user list
mmp xmpp user list alice
mmp xmpp user list nosuch
mmp_in 'secret-pw-2\nsecret-pw-2\n' xmpp user passwd alice
mmp_in 'secret-pw-2\nsecret-pw-2\n' xmpp user add bob
say the call bridges fail underneath the daemon
sqlite3 "$DATA/mmp.db" "DROP TABLE callbridge; CREATE VIEW callbridge AS
    SELECT abs(-9223372036854775807 - 1) AS name, '' AS secret"
mmp xmpp callbridge list
mmp_in 'cb2-secret-123\ncb2-secret-123\n' xmpp callbridge add-secret cb2
say the settings fail underneath the daemon
sqlite3 "$DATA/mmp.db" "DROP TABLE config; CREATE VIEW config AS SELECT
    abs(-9223372036854775807 - 1) AS key, '' AS value"
mmp_in 'cb2-secret-123\ncb2-secret-123\n' xmpp callbridge add-secret cb2
mmp xmpp
mmp hostname
mmp xmpp dns check
say the daemon still answers
mmp version >/dev/null && echo "mmpd answers"
