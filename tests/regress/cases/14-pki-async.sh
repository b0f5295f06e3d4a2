# Key generation runs off the event loop: other commands are answered
# while a key is made, two makers of one name cannot both win, and a
# shutdown waits for the key.
start_daemon
mkdir -p "$DATA/files"
say another command answers while an RSA 4096 key is made
"$TOP/mmp" -s "$SOCK" pki csr big CN:big.example.com key:rsa4096 \
    >"$T/big.out" 2>&1 &
big=$!
wait_for "key generation started" grep -q Generating "$T/big.out"
mmp version
if grep -q 'Created key file' "$T/big.out"; then
	echo "FAILED: the key was done before version answered"
else
	echo "version answered while the key was being made"
fi
wait $big
echo "[csr exit $?]"
filter <"$T/big.out"
say two pki csr for one name at once: exactly one wins
"$TOP/mmp" -s "$SOCK" pki csr race CN:race.example.com key:rsa3072 \
    >"$T/race1.out" 2>&1 &
r1=$!
"$TOP/mmp" -s "$SOCK" pki csr race CN:race.example.com key:rsa3072 \
    >"$T/race2.out" 2>&1 &
r2=$!
wait $r1
s1=$?
wait $r2
s2=$?
echo "exit statuses: $((s1 + s2)) failure(s) in total, $s1$s2" | \
    sed 's/, 01$//; s/, 10$//'
cat "$T/race1.out" "$T/race2.out" | filter | grep -v '^Generating' | \
    grep -v 'ready for download' | sort
store
say a shutdown while a key is made waits for it
"$TOP/mmp" -s "$SOCK" pki csr late CN:late.example.com key:rsa4096 \
    >"$T/late.out" 2>&1 &
late=$!
wait_for "key generation started" grep -q Generating "$T/late.out"
stop_daemon
wait $late
echo "[csr exit $?]"
filter <"$T/late.out"
store
