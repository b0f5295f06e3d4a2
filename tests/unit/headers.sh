#!/bin/sh
# headers: every function a header declares has a comment right above it
# (STYLE.md: what it does, who owns or frees what). One check per header;
# a failure names each declaration without one. A comment that only names
# a file ("/* fwd.c */") heads a section and does not count, nor does one
# at the end of a #define or of another declaration.
#
# Run from the top of the tree: sh tests/unit/headers.sh [header ...]
# (make check runs it with the default list below).
set -u

HEADERS=${*:-daemon/cluster/cluster.h daemon/xmpp/xmpp.h daemon/xml/xml.h \
    daemon/xml/xml_int.h daemon/tls.h daemon/addrlimit.h daemon/reaper.h \
    daemon/db.h shell/json_int.h}
checks=0
fails=0

for h in $HEADERS; do
	checks=$((checks + 1))
	if [ ! -f "$h" ]; then
		echo "headers: FAILED: $h: no such file"
		fails=$((fails + 1))
		continue
	fi
	# A declaration starts in column 0 with a lower-case word and has a
	# '('; continuation lines and members are indented.
	bad=$(awk '
	{ line[NR] = $0 }
	/^[a-z]/ && /[A-Za-z_0-9]\(/ && !/^typedef/ && !/^#/ {
		j = NR - 1
		while (j > 0 && line[j] ~ /^[ \t]/ && line[j] !~ /\*\/[ \t]*$/)
			j--
		if (j < 1 || line[j] !~ /\*\/[ \t]*$/ ||
		    line[j] !~ /^[ \t\/]/ ||
		    line[j] ~ /^\/\* [a-z_0-9.]+\.c( *, *[a-z_0-9.]+\.c)* \*\/$/)
			printf("%s:%d: %s\n", FILENAME, NR, $0)
	}' "$h")
	if [ -z "$bad" ]; then
		echo "headers: ok: $h"
	else
		echo "headers: FAILED: $h: declarations without a comment:"
		echo "$bad"
		fails=$((fails + 1))
	fi
done

pct=100
[ "$checks" -eq 0 ] || pct=$(((checks - fails) * 100 / checks))
echo "$pct%: Checks: $checks, Failures: $fails, Errors: 0"
[ "$fails" -eq 0 ]
