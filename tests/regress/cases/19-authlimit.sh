# The limit on wrong passwords across all addresses (issue 10, finding 7;
# review finding 2): 108 wrong SCRAM proofs at once from 12 addresses,
# each under its own per-address limit, pass the 100 a second for all.
# An address with a wrong password of its own in its window is then
# refused (temporary-auth-failure) even with the right PLAIN password,
# and a moment later accepted; a new address without failures is not
# refused for the failures of others. Its own daemon: the limit is global.
start_daemon
use_ports
say set up XMPP with one user
mmp_in 'xmpp domain example.com\nxmpp listen 127.0.0.1\npki selfsigned xmpp CN:example.com key:ec256\nxmpp certs xmpp.key xmpp.crt\nxmpp user add alice\nalicepw1\nalicepw1\nxmpp enable\n' | tail -1
say wrong passwords from many addresses, then the right one
CPORT=$CPORT /usr/bin/python3 - "$TOP/tests/interop" <<'EOF'
import base64
import sys
import time
sys.path.insert(0, sys.argv[1])
from ixlib import NS_SASL, b64, sasl_outcome, sasl_stage  # noqa: E402


def auth(r, pw):
    r.push("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>" %
           (NS_SASL, b64('\0alice\0' + pw)))


# Wrong SCRAM proofs cost the server no key derivation, so the failures
# come as fast as the loop answers, even under a sanitizer.
streams = [sasl_stage('127.0.0.%d' % (150 + i // 9)) for i in range(108)]
fresh = sasl_stage('127.0.0.170')
failed = sasl_stage('127.0.0.171')
auth(failed, 'wrong')
print('one wrong password from another address first: %s' %
      sasl_outcome(failed))
failed.close()
failed = sasl_stage('127.0.0.171')
for i, r in enumerate(streams):
    r.push("<auth xmlns='%s' mechanism='SCRAM-SHA-256'>%s</auth>" %
           (NS_SASL, b64('n,,n=alice,r=cnonce%d' % i)))
for r in streams:
    el = r.next(what='a challenge')
    sfirst = dict(kv.split('=', 1) for kv in
                  base64.b64decode(el.text).decode().split(','))
    r.push("<response xmlns='%s'>%s</response>" % (NS_SASL, b64(
        'c=biws,r=%s,p=%s' % (sfirst['r'], base64.b64encode(
            bytes(32)).decode()))))
got = {}
for r in streams:
    o = sasl_outcome(r)
    got[o] = got.get(o, 0) + 1
    r.close()
# Once 100 have failed within a second, the addresses (each with a
# failure of its own by then) are refused before their proofs are checked.
bad = got.pop('failure not-authorized', 0)
got.pop('failure temporary-auth-failure', 0)
print('108 wrong SCRAM proofs from 12 addresses: %s%s' % (
    'with the first, 100 failures in all' if bad + 1 >= 100 else
    '%d checked' % bad,
    ', and %r' % got if got else ''))
auth(failed, 'alicepw1')
print('the right password from that address right after: %s' %
      sasl_outcome(failed))
failed.close()
auth(fresh, 'alicepw1')
print('the right password from a new address right after: %s' %
      sasl_outcome(fresh))
fresh.close()
deadline = time.monotonic() + 10
while True:
    r = sasl_stage('127.0.0.171')
    auth(r, 'alicepw1')
    o = sasl_outcome(r)
    r.close()
    if o == 'success' or time.monotonic() > deadline:
        break
    time.sleep(0.1)
print('the right password from that address a moment later: %s' % o)
EOF
