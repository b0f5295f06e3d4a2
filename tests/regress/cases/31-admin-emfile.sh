# An admin who is not root gets in while mmpd is out of descriptors
# (review finding 3). The control socket keeps a descriptor in reserve
# for that, but working out the admin's roles read the group database
# (getpwuid, getgrouplist, getgrnam: files or nscd), which needs more
# descriptors: the admin got "no mmp role". Now the peer's groups come
# from the socket (SO_PEERGROUPS) and the role groups' gids as last
# looked up. A test account mmptest-emfile in groups mmp and mmp-admin
# (made here, removed after) runs mmp with setpriv while three idle
# control connections hold every descriptor mmpd may open.
made_groups=
cleanup_account() {
	! id mmptest-emfile >/dev/null 2>&1 || userdel mmptest-emfile
	for g in $made_groups; do
		groupdel "$g" 2>/dev/null
	done
}
trap cleanup_account EXIT
cleanup_account
for g in mmp mmp-admin; do
	if ! getent group "$g" >/dev/null; then
		groupadd "$g" && made_groups="$made_groups $g"
	fi
done
useradd -M -d /nonexistent -s /bin/sh -G mmp,mmp-admin mmptest-emfile ||
    echo "cannot add the test account"

# The socket takes the group of its directory: mmp.
chmod 0711 "$T"
mkdir -m 0750 "$T/run"
chgrp mmp "$T/run"
SOCK="$T/run/mmpd.sock"
start_daemon
as_admin() {
	setpriv --reuid=mmptest-emfile --regid=mmptest-emfile --init-groups \
	    "$TOP/mmp" -s "$SOCK" "$@" >"$T/mmp.out" 2>&1
	st=$?
	filter <"$T/mmp.out"
	echo "[exit $st]"
}
say the admin, descriptors to spare
as_admin xmpp domain example.com

cat >"$T/ctlhold.py" <<'EOF'
"""Hold N connections to the control socket until 'ctlrelease' appears
(60 s at most); write 'ctlheld' once connected."""
import os, socket, sys, time
socks = []
for i in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    socks.append(s)
open('ctlheld', 'w').close()
end = time.monotonic() + 60
while not os.path.exists('ctlrelease') and time.monotonic() < end:
    time.sleep(0.05)
for s in socks:
    s.close()
EOF
nfds() {
	ls "/proc/$MMPD_PID/fd" | wc -l
}
say the admin, every descriptor taken
lim=$(($(nfds) + 3))
prlimit --pid "$MMPD_PID" --nofile="$lim:$lim"
/usr/bin/python3 "$T/ctlhold.py" "$SOCK" 3 &
ctl=$!
wait_for "the control connections" test -f "$T/ctlheld"
wait_for "mmpd to hold them" test "$(nfds)" -ge "$lim"
[ "$(nfds)" -ge "$lim" ] && echo "mmpd holds all its descriptors"
as_admin xmpp domain example.org
touch "$T/ctlrelease"
wait "$ctl"
say the domain the admin set
mmp xmpp | grep '^Domain'
