# mmpd as a service: without -d it daemonises, returns once it answers,
# creates its socket's missing directory 0750 and writes a locked pid
# file; a second mmpd with the same pid file or socket refuses; a stale
# pid file (even one naming a live process) is replaced; the pid file
# goes at a clean exit. Daemons here are not the case's start_daemon:
# each pid is copied to $T/svc*.pid so that the runner kills what a
# failing case leaves behind.
RUN="$T/run"
PIDF="$RUN/mmpd.pid"

# Start mmpd without -d; show its exit status and the lines it wrote
# that name $1 (other start-up lines change with the schema).
svc() {
	what=$1
	shift
	"$TOP/mmpd" "$@" >"$T/svc.out" 2>&1
	st=$?
	grep -e "$what" "$T/svc.out" | sed 's/(pid [0-9][0-9]*)/(pid <pid>)/'  | filter
	echo "[mmpd exit $st]"
}

# Whether process $1 is gone (a zombie no one reaps counts as gone).
gone() {
	[ -n "$1" ] || return 0
	[ ! -e "/proc/$1" ] || grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat"
}

# What the pid file says about the daemon: a pid of a running mmpd that
# leads its own session (it left ours), and the file's mode.
pidinfo() {
	p=$(cat "$1")
	cp "$1" "$T/svc$p.pid"
	case $p in
	''|*[!0-9]*) echo "pid file: not a pid: '$p'"; return ;;
	esac
	exe=$(readlink "/proc/$p/exe")
	sid=$(cut -d' ' -f6 "/proc/$p/stat")
	echo "pid file: mode $(stat -c %a "$1"), names" \
	    "$([ "$exe" = "$TOP/mmpd" ] && echo mmpd || echo "'$exe'")," \
	    "$([ "$sid" = "$p" ] && echo "own session" || echo "session $sid")"
}

say mmpd without -d, its socket in a missing directory
MMP_SOCKET="$RUN/mmpd.sock" svc created -D "$DATA"
say it answers as soon as it has returned
"$TOP/mmp" -s "$RUN/mmpd.sock" version >/dev/null 2>&1
echo "[mmp exit $?]"
echo "directory: $(stat -c '%a %F' "$RUN")"
echo "socket: $(stat -c '%a %F' "$RUN/mmpd.sock")"
pidinfo "$PIDF"
first=$(cat "$PIDF")

say a second mmpd on the same socket and pid file refuses
MMP_SOCKET="$RUN/mmpd.sock" svc mmpd -D "$T/data2"
say a second mmpd with the same pid file and another socket refuses
svc mmpd -D "$T/data2" -s "$T/other.sock" -p "$PIDF"
[ -e "$T/other.sock" ] && echo "other.sock: left behind"
say a second mmpd on the same socket with another pid file refuses
svc mmpd -D "$T/data2" -s "$RUN/mmpd.sock" -p "$T/other.pid"
[ -e "$T/other.pid" ] && echo "other.pid: created"
[ "$(cat "$PIDF")" = "$first" ] || echo "pid file: changed"
mmp_sock() {
	"$TOP/mmp" -s "$RUN/mmpd.sock" "$@" >/dev/null 2>&1
	echo "[mmp exit $?]"
}
mmp_sock version

say SIGTERM to the pid in the file: a clean exit takes the pid file along
kill -TERM "$first"
wait_for "mmpd $first exits" gone "$first"
wait_for "the pid file goes" test ! -e "$PIDF"
rm -f "$T/svc$first.pid"
echo "pid file: $([ -e "$PIDF" ] && echo left || echo removed)"
echo "socket: $([ -e "$RUN/mmpd.sock" ] && echo left || echo removed)"

say a stale pid file naming a live process that is not mmpd is replaced
echo $$ >"$PIDF"
MMP_SOCKET="$RUN/mmpd.sock" svc stale -D "$DATA"
mmp_sock version
pidinfo "$PIDF"
second=$(cat "$PIDF")
[ "$second" != $$ ] || echo "pid file: still names the shell"

say after kill -9 the next mmpd replaces the stale pid file and socket
kill -KILL "$second"
wait_for "mmpd $second dies" gone "$second"
rm -f "$T/svc$second.pid"
MMP_SOCKET="$RUN/mmpd.sock" svc stale -D "$DATA"
mmp_sock version
pidinfo "$PIDF"
third=$(cat "$PIDF")
[ "$third" != "$second" ] || echo "pid file: still the killed pid"
kill -TERM "$third"
wait_for "mmpd $third exits" gone "$third"
rm -f "$T/svc$third.pid"
echo "pid file: $([ -e "$PIDF" ] && echo left || echo removed)"

say with -d there is a pid file only when -p asks, and it names mmpd itself
"$TOP/mmpd" -d -D "$DATA" -s "$T/fg.sock" -p "$T/fg.pid" \
    >>"$T/mmpd.log" 2>&1 &
fg=$!
wait_for "mmpd -d answers" "$TOP/mmp" -s "$T/fg.sock" version
echo "fg.pid: $([ "$(cat "$T/fg.pid")" = "$fg" ] && echo "the pid of mmpd -d")"
kill -TERM "$fg"
wait "$fg"
echo "[mmpd exit $?]"
echo "fg.pid: $([ -e "$T/fg.pid" ] && echo left || echo removed)"
"$TOP/mmpd" -d -D "$DATA" -s "$T/fg.sock" >>"$T/mmpd.log" 2>&1 &
fg=$!
wait_for "mmpd -d answers" "$TOP/mmp" -s "$T/fg.sock" version
echo "pid files: $(cd "$T" && ls fg.pid mmpd.pid 2>/dev/null || echo none)"
kill -TERM "$fg"
wait "$fg"
echo "[mmpd exit $?]"

say a socket directory whose parent is missing: one clear error
MMP_SOCKET="$T/no/such/mmpd.sock" svc mmpd -D "$DATA"
say a start-up failure after daemonising shows in the exit status
: >"$T/notadir"
svc mmpd -D "$T/notadir" -s "$T/bad.sock" -p "$T/bad.pid"
