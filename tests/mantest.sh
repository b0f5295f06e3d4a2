#!/bin/sh
# mantest: every command of common/cmds.def has its own entry in man/mmp.8,
# and both pages render without a warning.
#
# Run from the top of the tree: sh tests/mantest.sh
#
# For each CMD(id, "pattern", flags, handler, help) line of cmds.def, the
# literal words of the pattern are the words that start with neither '<'
# nor '['.  man/mmp.8 must have an .It line whose Cm words, in order, are
# exactly those literal words, and which has Ar arguments if and only if the
# pattern has arguments: `hostname' and `hostname <name>' are two entries.
# Two patterns never share one entry.  An .It Cm entry of the COMMANDS
# section that fits no pattern is reported too, so the page cannot keep a
# command the table has dropped.
#
# On an .It line the Cm words are the arguments that follow each Cm macro
# up to the next macro (Ar, Op, Oo, Oc, Ns, ...); lone punctuation such as
# `...' or `|' is not a word.  An .It line ending in Xo continues on the
# following lines up to the one holding Xc.

CMDS=common/cmds.def
PAGE=man/mmp.8

for f in "$CMDS" "$PAGE"; do
	if [ ! -r "$f" ]; then
		echo "mantest: cannot read $f (run from the top of the tree)" >&2
		exit 1
	fi
done

awk -v cmds="$CMDS" -v page="$PAGE" '
# mdoc macros that may appear as arguments of .It (parsed and callable).
BEGIN {
	n = split("Ac Ad An Ao Ap Aq Ar At Bc Bo Bq Brc Bro Brq Bsx Bx Cd " \
	    "Cm Dc Do Dq Dv Ec Em En Eo Er Ev Fa Fc Fl Fn Fo Fr Ft Fx Ic " \
	    "In Li Lk Ms Mt Nm No Ns Nx Oc Oo Op Ot Ox Pa Pc Pf Po Pq Qc " \
	    "Ql Qo Qq Sc So Sq Sx Sy Tn Ux Va Vt Xc Xo Xr", m, " ")
	for (i = 1; i <= n; i++)
		macro[m[i]] = 1
}

# Feed the tokens of one (continuation) line to the entry being read.
function feed(line,	t, nt, i, w) {
	nt = split(line, t)
	for (i = 1; i <= nt; i++) {
		w = t[i]
		gsub(/\\&/, "", w)
		gsub(/\\-/, "-", w)
		if (w in macro) {
			mode = w
			if (w == "Xc")
				inxo = 0
			continue
		}
		if (w == "" || w ~ /^[][().,:;?!|]+$/)
			continue
		if (mode == "Cm")
			words = words (words == "" ? "" : " ") w
		else if (mode == "Ar")
			hasargs = 1
	}
}

# Record the entry just read, if it has Cm words.
function done() {
	if (words != "") {
		key = words "\t" (hasargs ? "args" : "no args")
		have[key]++
		if (incmds)
			listed[key]++
	}
	words = ""
	hasargs = 0
	mode = ""
}

# The page: collect one key per .It entry.
FILENAME == page {
	if ($1 == ".Sh") {
		if (inxo) {
			done()
			inxo = 0
		}
		incmds = ($2 == "COMMANDS")
		next
	}
	if (inxo) {
		line = $0
		sub(/^\./, "", line)
		feed(line)
		if (!inxo)
			done()
		next
	}
	if ($1 != ".It")
		next
	line = $0
	sub(/^\.It[ \t]*/, "", line)
	words = ""
	hasargs = 0
	mode = ""
	feed(line)
	if ($NF == "Xo")
		inxo = 1
	else
		done()
	next
}

# The table: one pattern per CMD( line, the first quoted string on it.
FILENAME == cmds && /^CMD\(/ {
	if (!match($0, /"[^"]*"/)) {
		printf("mantest: no pattern on %s line %d\n", cmds, FNR)
		bad = 1
		next
	}
	pat = substr($0, RSTART + 1, RLENGTH - 2)
	ncmd++
	nw = split(pat, t, " ")
	lit = ""
	args = 0
	for (i = 1; i <= nw; i++) {
		if (t[i] ~ /^[<[]/)
			args = 1
		else
			lit = lit (lit == "" ? "" : " ") t[i]
	}
	key = lit "\t" (args ? "args" : "no args")
	want[key]++
	if (have[key] >= want[key])
		next
	printf("mantest: not in %s: %s\n", page, pat)
	bad = 1
}

END {
	if (ncmd == 0) {
		printf("mantest: no CMD( lines in %s\n", cmds)
		exit 1
	}
	for (key in listed) {
		if (key in want)
			continue
		split(key, k, "\t")
		printf("mantest: in %s but not in %s: %s (%s)\n", page,
		    cmds, k[1], k[2])
		bad = 1
	}
	if (bad)
		exit 1
	printf("mantest: %d commands, all documented in %s\n", ncmd, page)
}
' "$PAGE" "$CMDS"
st=$?
[ "$st" -eq 0 ] || exit "$st"

# Both pages render without a warning (an unclosed list, a bad macro):
# groff is part of every Debian system that has man(1).
if command -v groff >/dev/null 2>&1; then
	for f in man/mmp.8 man/mmpd.8; do
		w=$(groff -mdoc -ww -Tutf8 "$f" 2>&1 >/dev/null)
		if [ -n "$w" ]; then
			echo "mantest: $f: $w"
			exit 1
		fi
	done
	echo "mantest: man/mmp.8 and man/mmpd.8 render without warnings"
fi
