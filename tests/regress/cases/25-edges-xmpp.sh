# xmpp rough edges (issue 15): enable checks that the certificate covers
# the XMPP domain; listen names the interfaces there are and says which
# addresses a name gave.
start_daemon
use_ports
say a certificate made for another name passes no check for this domain
mmp pki selfsigned cms4 CN:cms4.example.net key:ec256
mmp xmpp domain tptac9.com
mmp xmpp listen 127.0.0.1
mmp xmpp certs cms4.key cms4.crt
mmp xmpp enable
mmp xmpp | grep '^Enabled'
say one for the domain, and one naming it beside a wildcard, pass
mmp pki selfsigned good CN:tptac9.com key:ec256
mmp xmpp certs good.key good.crt
mmp xmpp enable | grep -i 'domain\|enabled'
mmp xmpp disable
mmp pki selfsigned wild "CN:*.tptac9.com" subjectAltName:tptac9.com key:ec256
mmp xmpp certs wild.key wild.crt
mmp xmpp enable | grep -i 'domain\|enabled'
mmp xmpp disable
say a wildcard does not cover the bare domain
mmp pki selfsigned onlywild "CN:*.tptac9.com" key:ec256
mmp xmpp certs onlywild.key onlywild.crt
mmp xmpp enable | grep -i 'domain\|enabled'
say listen on an interface that does not exist lists those that do
mmp xmpp listen eth99 | sed 's/are: .*lo.*/are: <list with lo>/'
"$TOP/mmp" -s "$SOCK" xmpp listen eth99 2>&1 | grep -q 'are: .*\blo\b' && echo "lo is listed"
say listen on an interface name says which addresses it gave
mmp xmpp listen lo 127.0.0.1
mmp xmpp | grep '^Listen'
say a failure deep in TLS names the file by its store name, not its path
(cd "$DATA/files" && openssl req -x509 -newkey rsa:1024 -nodes \
    -keyout weak.key -out weak.crt -subj /CN=tptac9.com -days 30) \
    >/dev/null 2>&1
mmp xmpp listen 127.0.0.1
mmp xmpp certs weak.key weak.crt
mmp xmpp enable | grep -v '^SUCCESS'
