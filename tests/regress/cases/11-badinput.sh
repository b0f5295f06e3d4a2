# Garbage, oversized and wrong-version frames close only their own
# connection; a uid that is not allowed is refused.
start_daemon
mmp xmpp domain example.com
raw() {
	/usr/bin/python3 "$HERE/rawsock.py" "$SOCK" "$1"
}
say garbage bytes
raw garbage
mmp xmpp | grep '^Domain'
say an oversized frame
raw oversized
mmp version
say a frame with another protocol version
raw version
mmp version
say an unterminated string in a command
raw unterminated
say a message out of turn
raw outofturn
say a connection that sends half a frame and hangs on stays alone
raw halfopen
say a uid that is not allowed is refused
if [ "$(id -u)" -eq 0 ]; then
	chmod 0666 "$SOCK"
	chmod 0755 "$T"
	setpriv --reuid=65534 --regid=65534 --clear-groups \
	    "$TOP/mmp" -s "$SOCK" version 2>&1
	echo "[exit $?]"
	chmod 0660 "$SOCK"
else
	echo "SKIPPED: needs root to connect as another uid"
fi
mmp xmpp | grep '^Domain'
