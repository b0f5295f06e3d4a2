# xmpp certs and the checks of xmpp enable.
make_certs
start_daemon
use_ports
say enable with nothing configured
mmp xmpp enable
say certs refuse names outside the store and missing files
mmp xmpp certs ../etc/passwd xmpp.crt
mmp xmpp certs sub/xmpp.key xmpp.crt
mmp xmpp certs .hidden xmpp.crt
mmp xmpp certs missing.key xmpp.crt
mmp xmpp certs xmpp.key missing.crt
say certs refuse files that are not what they should be
mmp xmpp certs xmpp.crt xmpp.crt
mmp xmpp certs xmpp.key garbage.crt
mmp xmpp certs xmpp.key xmpp.crt garbage.crt
say a key that does not match, a bundle that does not verify
mmp xmpp domain example.com
mmp xmpp listen 127.0.0.1
mmp xmpp certs other.key xmpp.crt other-ca.crt
mmp xmpp enable
say an expired certificate
mmp xmpp certs xmpp.key expired.crt ca-bundle.crt
mmp xmpp enable
say all good
mmp xmpp certs xmpp.key xmpp.crt ca-bundle.crt
mmp xmpp enable
mmp xmpp | grep -E '^(Enabled|Key|Certificate|CA)'
say changes while enabled are saved for the next enable
mmp xmpp domain example.org
say disable twice
mmp xmpp disable
mmp xmpp disable
say certs none
mmp xmpp certs none
mmp xmpp | grep -E '^(Key|Certificate|CA)'
say a certificate without bundle is not verified against one
mmp xmpp certs xmpp.key xmpp.crt
mmp xmpp enable
