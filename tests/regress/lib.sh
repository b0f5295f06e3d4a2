# Helpers for regress cases; sourced with the case's temporary directory
# as the current directory ($T). Cases print what they want compared.

SOCK="$T/mmpd.sock"
DATA="$T/data"
MMPD_PID=

# Two free TCP ports on loopback for this case's XMPP listeners.
free_ports() {
	/usr/bin/python3 -c '
import socket
s = [socket.socket() for i in range(2)]
for x in s:
    x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))'
}
set -- $(free_ports)
CPORT=$1
MPORT=$2
set --

# Give XMPP this case's own ports, so that cases never clash.
use_ports() {
	"$TOP/mmp" -s "$SOCK" xmpp port client "$CPORT" >/dev/null &&
	    "$TOP/mmp" -s "$SOCK" xmpp port component "$MPORT" >/dev/null
}

# Start mmpd -d on this case's directory and wait (bounded) for it.
start_daemon() {
	# shellcheck disable=SC2086
	${MMPD_WRAPPER:-} "$TOP/mmpd" -d -D "$DATA" -s "$SOCK" \
	    >>"$T/mmpd.log" 2>&1 &
	MMPD_PID=$!
	echo "$MMPD_PID" >"$T/mmpd.pid"
	wait_for "mmpd answers" "$TOP/mmp" -s "$SOCK" version
}

# Stop mmpd with SIGTERM and wait for it to exit; print its status if
# it was not 0.
stop_daemon() {
	[ -n "$MMPD_PID" ] || return 0
	kill -TERM "$MMPD_PID" 2>/dev/null
	wait "$MMPD_PID"
	st=$?
	[ "$st" -eq 0 ] || echo "mmpd exited with status $st"
	MMPD_PID=
	rm -f "$T/mmpd.pid"
}

# kill -9 mmpd: no chance to clean up.
kill_daemon() {
	kill -KILL "$MMPD_PID"
	wait "$MMPD_PID" 2>/dev/null
	MMPD_PID=
	rm -f "$T/mmpd.pid"
}

# Run a command until it succeeds, for at most 30 seconds.
wait_for() {
	what=$1
	shift
	i=0
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ "$i" -gt 600 ]; then
			echo "timed out waiting for: $what"
			return 1
		fi
		sleep 0.05
	done
}

# Run mmp with the case's socket; show its output and exit status, with
# this case's directory written as $T.
mmp() {
	"$TOP/mmp" -s "$SOCK" "$@" >"$T/mmp.out" 2>&1
	st=$?
	filter <"$T/mmp.out"
	echo "[exit $st]"
}

# Write the case's directory as $T and dates as <date>: they change.
filter() {
	sed -e "s|$T|\$T|g" -e "s/$CPORT/<cport>/g" -e "s/$MPORT/<mport>/g" \
	    -e 's/[0-9]\{4\}-[0-9][0-9]-[0-9][0-9] [0-9:]\{8\} UTC/<date>/g' \
	    -e 's/[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]/<day>/g' \
	    -e 's/^\(Generating [a-z0-9]* key \)\.*$/\1<dots>/'
}

# Feed standard input to mmp (batch mode or an answer to a prompt).
mmp_in() {
	input=$1
	shift
	printf '%b' "$input" | "$TOP/mmp" -s "$SOCK" "$@" >"$T/mmp.out" 2>&1
	st=$?
	filter <"$T/mmp.out"
	echo "[exit $st]"
}

# Print a heading so that the golden files read well.
say() {
	echo "## $*"
}

# Hide generated secrets, which differ on every run.
mask_secrets() {
	sed 's/^\(Secret *: \)[A-Za-z0-9]\{24\}$/\1<generated>/'
}

# Make a CA, a server key and certificate signed by it, a key that does
# not match, an expired certificate and a CA that signed none of them,
# all in the file store.
make_certs() {
	f="$DATA/files"
	mkdir -p "$f"
	(
		cd "$f" || exit 1
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key \
		    -out ca-bundle.crt -subj /CN=Test-CA -days 30
		openssl req -newkey rsa:2048 -nodes -keyout xmpp.key \
		    -out xmpp.csr -subj /CN=xmpp.example.com -addext \
		    subjectAltName=DNS:xmpp.example.com,DNS:example.com,DNS:example.org
		openssl x509 -req -in xmpp.csr -CA ca-bundle.crt \
		    -CAkey ca.key -CAcreateserial -out xmpp.crt -days 30 \
		    -copy_extensions copy
		openssl x509 -req -in xmpp.csr -CA ca-bundle.crt \
		    -CAkey ca.key -CAcreateserial -out expired.crt -days -1 \
		    -copy_extensions copy
		openssl genpkey -algorithm EC \
		    -pkeyopt ec_paramgen_curve:P-256 -out other.key
		openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key \
		    -out other-ca.crt -subj /CN=Other-CA -days 30
		echo "this is not PEM" >garbage.crt
	) >/dev/null 2>&1
}

# A cluster node's certificate, node.crt in the store: the key of
# make_certs, signed by its CA for serverAuth and clientAuth.
make_node_cert() {
	(
		cd "$DATA/files" || exit 1
		printf '%s\n' 'extendedKeyUsage=serverAuth,clientAuth' \
		    'subjectAltName=DNS:example.com' >both.ext
		openssl x509 -req -in xmpp.csr -CA ca-bundle.crt \
		    -CAkey ca.key -CAcreateserial -out node.crt -days 30 \
		    -extfile both.ext
		rm -f both.ext
	) >/dev/null 2>&1
}

# The files in the store, one a line, with their modes.
store() {
	(cd "$DATA/files" && ls -1 | while read -r f; do
		printf '%s %s\n' "$(stat -c %a "$f")" "$f"
	done)
}

# Run the openssl command line on files in the store; show its output and
# exit status, with the case's directory written as $T.
ossl() {
	(cd "$DATA/files" && openssl "$@") >"$T/ossl.out" 2>&1
	st=$?
	filter <"$T/ossl.out"
	echo "[openssl exit $st]"
}
