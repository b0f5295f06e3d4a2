#!/bin/sh
# The service as installed: `make install` into a scratch DESTDIR puts the
# programs, manuals, systemd unit and sysusers file where they belong; the
# unit passes `systemd-analyze verify` and agrees with mmpd's options; the
# sysusers file creates the user on a scratch root; `make uninstall`
# removes exactly what install put there. A check whose tool is missing is
# skipped, not passed. Ends with "service: N passed, N failed, N skipped".
set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/mmp-service.XXXXXX")
pass=0
fail=0
skip=0

ok() {
	echo "service: $1: ok"
	pass=$((pass + 1))
}

notok() {
	echo "service: $1: FAILED"
	[ ! -s "$T/err" ] || sed 's/^/    /' "$T/err"
	fail=$((fail + 1))
}

skipped() {
	echo "service: $1: skipped ($2)"
	skip=$((skip + 1))
}

# make in the tree without rebuilding the programs (make check built them;
# a rebuild would swap a sanitizer build for a plain one).
mk() {
	MAKEFLAGS= make -s --no-print-directory -C "$TOP" -o all "$@"
}

# The files under a directory with their modes, one a line.
files() {
	(cd "$1" && find . ! -type d -printf '%m %p\n' | sort)
}

# A value of the installed unit: the first "Key=" line.
unitval() {
	sed -n "s/^$1=//p" "$UNIT" 2>/dev/null | head -1
}

for prefix in /usr /usr/local; do
	D="$T/dest$(echo "$prefix" | tr / _)"
	UNIT="$D$prefix/lib/systemd/system/mmpd.service"
	name="install PREFIX=$prefix"
	if mk install DESTDIR="$D" PREFIX="$prefix" >"$T/err" 2>&1 &&
	    files "$D" >"$T/got" && cat >"$T/want" <<-EOF &&
		644 ./etc/ssh/sshd_config.d/mmp.conf
		644 .$prefix/lib/systemd/system/mmpd.service
		644 .$prefix/lib/sysusers.d/mmp.conf
		644 .$prefix/lib/tmpfiles.d/mmp.conf
		644 .$prefix/share/man/man8/mmp.8
		644 .$prefix/share/man/man8/mmpd.8
		755 .$prefix/bin/mmp
		755 .$prefix/sbin/mmp-sshroot
		755 .$prefix/sbin/mmpd
		EOF
	    sort "$T/want" | diff -u - "$T/got" >"$T/err"; then
		ok "$name"
	else
		notok "$name"
	fi

	# The unit runs the installed mmpd, and its pid file, socket and
	# data directory are the ones systemd makes and watches.
	name="unit matches PREFIX=$prefix and mmpd's options"
	exec=$(unitval ExecStart)
	: >"$T/err"
	for want in "ExecStart=$prefix/sbin/mmpd -D /var/lib/mmp -s /run/mmp/mmpd.sock -p /run/mmp/mmpd.pid" \
	    "PIDFile=/run/mmp/mmpd.pid" "Type=forking" "User=mmp" \
	    "Group=mmp" "StateDirectory=mmp" \
	    "LimitNOFILE=65536" "Restart=on-failure" \
	    "ProtectSystem=strict" "ProtectHome=yes" "PrivateTmp=yes" \
	    "NoNewPrivileges=yes" \
	    "ReadWritePaths=/var/lib/mmp /srv/mmp/run/mmp /srv/mmp/files"; do
		key=${want%%=*}
		got="$key=$(unitval "$key")"
		[ "$got" = "$want" ] ||
		    echo "want '$want', unit has '$got'" >>"$T/err"
	done
	grep -n "@[A-Z]*@" "$UNIT" >>"$T/err" 2>&1
	if [ -s "$T/err" ] || [ ! -x "$D${exec%% *}" ]; then
		notok "$name"
	else
		ok "$name"
	fi

	# Offline: the root holds the unit and the mmpd it names.
	name="systemd-analyze verify PREFIX=$prefix"
	if ! command -v systemd-analyze >/dev/null 2>&1; then
		skipped "$name" "no systemd-analyze"
	elif systemd-analyze verify --man=no --recursive-errors=no \
	    --root="$D" mmpd.service >"$T/err" 2>&1 && [ ! -s "$T/err" ]; then
		ok "$name"
	else
		notok "$name"
	fi

	# The sysusers file makes the system user and its group on a scratch root.
	name="systemd-sysusers creates mmp and the role groups PREFIX=$prefix"
	R="$T/root$(echo "$prefix" | tr / _)"
	mkdir -p "$R/etc"
	: >"$T/err"
	if ! command -v systemd-sysusers >/dev/null 2>&1; then
		skipped "$name" "no systemd-sysusers"
	elif systemd-sysusers --root="$R" "$D$prefix/lib/sysusers.d/mmp.conf" \
	    >"$T/err" 2>&1 &&
	    grep -q '^mmp:x:[0-9]*:[0-9]*:mmp appliance daemon:/var/lib/mmp:' \
	    "$R/etc/passwd" && grep -q '^mmp:x:' "$R/etc/group" &&
	    grep -q '^mmp-admin:x:' "$R/etc/group" &&
	    grep -q '^mmp-crypto:x:' "$R/etc/group" &&
	    grep -q '^mmp-audit:x:' "$R/etc/group"; then
		ok "$name"
	else
		cat "$R/etc/passwd" >>"$T/err" 2>&1
		notok "$name"
	fi

	# The tmpfiles file leads /run/mmp and the data directory's file
	# store into the SSH root, on the same scratch root.
	name="systemd-tmpfiles links /run/mmp and the store PREFIX=$prefix"
	: >"$T/err"
	if ! command -v systemd-tmpfiles >/dev/null 2>&1; then
		skipped "$name" "no systemd-tmpfiles"
	elif systemd-tmpfiles --root="$R" --create \
	    "$D$prefix/lib/tmpfiles.d/mmp.conf" >"$T/err" 2>&1 &&
	    [ "$(readlink "$R/run/mmp")" = /srv/mmp/run/mmp ] &&
	    [ "$(readlink "$R/var/lib/mmp/files")" = /srv/mmp/files ] &&
	    [ "$(stat -c %a "$R/var/lib/mmp")" = 750 ]; then
		ok "$name"
	else
		ls -lR "$R/run" "$R/var" >>"$T/err" 2>&1
		notok "$name"
	fi

	# A file that is not ours must survive uninstall.
	echo other >"$D$prefix/bin/other"
	name="uninstall PREFIX=$prefix leaves nothing of ours"
	if mk uninstall DESTDIR="$D" PREFIX="$prefix" >"$T/err" 2>&1 &&
	    files "$D" >"$T/got" &&
	    echo "644 .$prefix/bin/other" | diff -u - "$T/got" >"$T/err"; then
		ok "$name"
	else
		notok "$name"
	fi
done

rm -rf "$T"
echo "service: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
