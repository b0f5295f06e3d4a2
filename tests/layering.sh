#!/bin/sh
# layering: the direction of calls in mmpd (DESIGN.md section 7). The
# cluster plugs into the XMPP core from above; nothing in daemon/xml/ or
# daemon/xmpp/ includes a cluster header or calls a cluster function, and
# libraft is used only inside daemon/cluster/.
#
# Run from the top of the tree after a build: O=obj sh tests/layering.sh
# (make layering). Three checks, each naming every offender:
#   includes  a file under daemon/xml/ or daemon/xmpp/ that includes a
#	      cluster/ header (or raft's, or libuv's), with its line
#   calls     a call there of a cfwd_, clead_, clink_, csettle_, crelay_,
#	      cpseudo_, creq_, cnet_, cluster_,
#	      cfsm_, cuv_, cview_ or chook_ function (comments do not count)
#   raft      an object of $O/daemon/, $O/daemon/xml/ or $O/daemon/xmpp/
#	      with an undefined raft_* symbol
# LAYERING_ALLOW: object names (e.g. "cmd_cluster.o") the raft check
# reports but lets pass, for code that has not moved yet.
set -u

O=${O:-obj}
ALLOW=${LAYERING_ALLOW:-}
pass=0
fail=0
SRCS=$(ls daemon/xml/*.[ch] daemon/xmpp/*.[ch] 2>/dev/null)

if [ -z "$SRCS" ]; then
	echo "layering: no daemon/xml or daemon/xmpp sources (run from the top of the tree)"
	echo "layering: 0 passed, 1 failed"
	exit 1
fi

tmp=$(mktemp "${TMPDIR:-/tmp}/layering.XXXXXX")

# A C file with its comments blanked out, its lines kept in place.
nocomments() {
	awk '
	{
		out = ""; s = $0
		while (s != "") {
			if (inc) {
				i = index(s, "*/")
				if (i == 0) { s = ""; break }
				s = substr(s, i + 2); inc = 0
				continue
			}
			i = index(s, "/*"); j = index(s, "//")
			if (j > 0 && (i == 0 || j < i)) { out = out substr(s, 1, j - 1); s = ""; break }
			if (i == 0) { out = out s; s = ""; break }
			out = out substr(s, 1, i - 1) " "; s = substr(s, i + 2); inc = 1
		}
		print out
	}' "$1"
}

# Name each line of $tmp as an offence of file $1, of kind $2.
offences() {
	sed "s|^|layering: $1:|; s|\$| ($2)|" "$tmp"
}

# The verdict of check $1 from $bad: ok with what holds ($2), or FAIL.
verdict() {
	if [ "$bad" -eq 0 ]; then
		echo "ok $1: $2"
		pass=$((pass + 1))
	else
		echo "FAIL $1"
		fail=$((fail + 1))
	fi
}

# 1. includes
bad=0
for f in $SRCS; do
	if grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]((\.\./)*cluster/|cluster[a-z_]*\.h|fwd\.h|raft[./]|uv[./])' \
	    "$f" >"$tmp" 2>/dev/null; then
		offences "$f" "a cluster header in the XMPP core"
		bad=1
	fi
done
verdict includes "no cluster header in daemon/xml or daemon/xmpp"

# 2. calls
bad=0
for f in $SRCS; do
	nocomments "$f" | grep -nE '(^|[^A-Za-z0-9_])(cfwd|clead|clink|csettle|crelay|cpseudo|creq|cnet|cluster|cfsm|cuv|cview|chook)_[A-Za-z0-9_]*[[:space:]]*\(' \
	    >"$tmp"
	if [ -s "$tmp" ]; then
		offences "$f" "calls the cluster"
		bad=1
	fi
done
verdict calls "no call of the cluster from daemon/xml or daemon/xmpp"
rm -f "$tmp"

# 3. raft symbols outside daemon/cluster
OBJS=$(ls "$O"/daemon/*.o "$O"/daemon/xml/*.o "$O"/daemon/xmpp/*.o \
    2>/dev/null)
if [ -z "$OBJS" ]; then
	echo "layering: no objects in $O/daemon (build first)"
	bad=1
	verdict raft ""
else
	bad=0
	for o in $OBJS; do
		# An object left behind by a source that has moved away.
		src=${o#"$O"/}
		[ -f "${src%.o}.c" ] || continue
		syms=$(nm -u "$o" | awk '$NF ~ /^raft_/ { print $NF }' |
		    sort -u | tr '\n' ' ')
		[ -n "$syms" ] || continue
		allowed=0
		for a in $ALLOW; do
			[ "$(basename "$o")" = "$a" ] && allowed=1
		done
		if [ "$allowed" -eq 1 ]; then
			echo "layering: $o: uses libraft (${syms% }), allowed by LAYERING_ALLOW"
		else
			echo "layering: $o: uses libraft outside daemon/cluster: ${syms% }"
			bad=1
		fi
	done
	verdict raft "no libraft symbol outside $O/daemon/cluster"
fi

echo "layering: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
