# No daemon: exit 3 with a clear message; parse errors still exit 2.
say nothing listening
mmp version
mmp xmpp callbridge list
mmp_in 'version\n'
say help needs no daemon
mmp help version
say parse errors are found before the daemon is needed
mmp xmpp frob
say a stale socket file
: >"$SOCK"
mmp version
rm -f "$SOCK"
