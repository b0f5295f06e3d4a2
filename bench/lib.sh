# Shell functions the bench scripts share (bench/xmpp.sh, bench/idle_rss.sh),
# sourced after they set PY (the Python that port_open runs).

# Whether a process is there (and not a zombie waiting for us).
alive() {
	[ -r "/proc/$1/stat" ] &&
	    ! sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | grep -q '^Z'
}

# Run a command until it succeeds, for at most $1 tenths of a second.
wait_for() {
	n=$1
	shift
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -lt "$n" ] || return 1
		sleep 0.1
	done
}

# Whether something accepts TCP connections on 127.0.0.1:$1.
port_open() {
	$PY -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1"
}
