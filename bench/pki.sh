#!/bin/sh
# make bench, pki part: `mmp pki csr` against `openssl req -newkey` on the
# same subject and extensions, RSA 2048 and EC P-256, median wall time
# over repeated runs, and the ratio. Speed is measured here, never
# asserted in a test.
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${PKI_RUNS:-21}
T=$(mktemp -d "${TMPDIR:-/tmp}/mmp-bench-pki.XXXXXX")
OUT="$TOP/bench/out"
mkdir -p "$OUT"
rm -f "$OUT/pki.json.tmp"

"$TOP/mmpd" -d -D "$T/data" -s "$T/sock" >"$T/mmpd.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$T"' EXIT
i=0
until "$TOP/mmp" -s "$T/sock" version >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 200 ] || { echo "bench: mmpd did not start" >&2; exit 1; }
	sleep 0.05
done

# Print wall-clock microseconds of one command.
usec() {
	s=$(date +%s%N)
	"$@" >/dev/null 2>&1
	e=$(date +%s%N)
	echo $(((e - s) / 1000))
}

# The median of numbers on stdin.
median() {
	sort -n | awk '{ v[NR] = $1 } END {
		if (NR % 2) print v[(NR + 1) / 2];
		else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

printf '%-10s %14s %14s %8s\n' "key" "mmp pki csr" "openssl req" "ratio"
for kind in rsa2048 ec256; do
	case $kind in
	rsa2048) ossl="-newkey rsa:2048" ;;
	ec256) ossl="-newkey ec -pkeyopt ec_paramgen_curve:P-256" ;;
	esac
	: >"$T/mmp.$kind"
	: >"$T/ossl.$kind"
	n=0
	while [ $n -lt "$RUNS" ]; do
		usec "$TOP/mmp" -s "$T/sock" pki csr "b$kind$n" \
		    CN:bench.example.com subjectAltName:bench.example.com \
		    "key:$kind" >>"$T/mmp.$kind"
		# shellcheck disable=SC2086
		usec openssl req -new $ossl -nodes -keyout "$T/k" \
		    -out "$T/c" -subj /CN=bench.example.com \
		    -addext subjectAltName=DNS:bench.example.com \
		    -addext keyUsage=critical,digitalSignature,keyEncipherment \
		    -addext extendedKeyUsage=serverAuth,clientAuth \
		    >>"$T/ossl.$kind"
		rm -f "$T/k" "$T/c"
		n=$((n + 1))
	done
	m=$(median <"$T/mmp.$kind")
	o=$(median <"$T/ossl.$kind")
	ratio=$(awk -v m="$m" -v o="$o" 'BEGIN { printf "%.2f", m / o }')
	printf '%-10s %11.1f ms %11.1f ms %8s\n' "$kind" \
	    "$(awk -v v="$m" 'BEGIN { print v / 1000 }')" \
	    "$(awk -v v="$o" 'BEGIN { print v / 1000 }')" "$ratio"
	printf '{"key":"%s","runs":%d,"mmp_median_us":%d,"openssl_median_us":%d,"ratio":%s}\n' \
	    "$kind" "$RUNS" "$m" "$o" "$ratio" >>"$OUT/pki.json.tmp"
done
mv "$OUT/pki.json.tmp" "$OUT/pki.json"
echo "(median of $RUNS runs each, wall time of the whole command; ratio = mmp / openssl; raw: bench/out/pki.json)"
