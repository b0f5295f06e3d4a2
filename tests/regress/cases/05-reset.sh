# xmpp reset asks for a capital Y.
make_certs
start_daemon
mmp hostname keepme
mmp xmpp domain example.com
mmp xmpp listen 127.0.0.1
mmp xmpp certs xmpp.key xmpp.crt ca-bundle.crt
mmp xmpp callbridge add cb1 | mask_secrets
say anything but a capital Y changes nothing
mmp_in 'y\n' xmpp reset
mmp_in 'yes\n' xmpp reset
mmp_in '' xmpp reset
mmp xmpp | grep -E '^(Domain|Call bridges)'
say Y clears the XMPP configuration and call bridges, not the host name
mmp_in 'Y\n' xmpp reset
mmp xmpp
mmp xmpp callbridge list
mmp hostname
