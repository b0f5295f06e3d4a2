# The audit trail: every command that changes state is logged with the
# account that ran it and how it ended; reads are not; secrets typed at
# a prompt (a call bridge secret, a password) appear neither in the log
# nor in the ring that "syslog" shows.
CBSECRET='Cb-Secret-7781-zq'
PASSWORD='Al1ce-Pass-9931-xk'
STAMP='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
ME=$(id -un)
MYUID=$(id -u)
audit() {
	grep ' audit: ' "$1" | sed -E -e "s/^$STAMP /<time> /" \
	    -e "s/user $ME \\(uid $MYUID\\)/user <me> (uid <uid>)/"
}
start_daemon
mmp xmpp domain example.com
mmp_in "$CBSECRET\n$CBSECRET\n" xmpp callbridge add-secret cb1
mmp_in "$PASSWORD\n$PASSWORD\n" xmpp user add alice
mmp xmpp callbridge del nosuch
say the admin sees the secret in callbridge list, as on the MMP
mmp xmpp callbridge list | grep -c "$CBSECRET"
mmp xmpp user list >/dev/null
mmp xmpp port client 99999
say the audit lines in the log
wait_for "the last audit line" grep -q 'callbridge del nosuch' "$T/mmpd.log"
audit "$T/mmpd.log"
say the same lines in the ring
"$TOP/mmp" -s "$SOCK" syslog >"$T/ring.out"
audit "$T/ring.out"
say no secret in the log or the ring
grep -c -e "$CBSECRET" -e "$PASSWORD" "$T/mmpd.log" "$T/ring.out" |
    sed "s|$T/||"
