# Log injection from outside: strings a client or a call bridge sends
# (a stream's 'to' and namespace, a component name, a SASL user name) try
# to forge whole lines of mmpd's log with &#10; and newlines, and to drive
# a terminal with ESC. Every line of the log must be one of mmpd's own:
# the forged text appears escaped, on the line that logged it.
make_certs
start_daemon
use_ports
mmp_in "xmpp domain example.com\nxmpp listen 127.0.0.1\nxmpp certs xmpp.key xmpp.crt ca-bundle.crt\nxmpp enable\n" |
    grep -E '^(FAILURE|\[exit)'
cat >"$T/inject.py" <<'EOF'
"""Streams whose header, component name and SASL user name carry forged
log lines; each must end with its stream error or SASL failure."""
import os
import sys
sys.path.insert(0, os.path.join(os.environ['TOP'], 'tests', 'interop'))
import ixlib
from ixlib import Raw, header, NS_CLIENT

NL = '&#10;mmpd: FORGED'

def run(what, f):
    try:
        print('%s: %s' % (what, f()))
    except (ixlib.Failed, ixlib.Closed, OSError) as e:
        print('%s: failed: %s' % (what, e))

def to():
    r = Raw()
    r.send(header(to='example.com' + NL + ' to'))
    return r.stream_error()

def xmlns():
    r = Raw()
    r.send(header(xmlns=NS_CLIENT + NL + ' namespace'))
    return r.stream_error()

def component():
    r = Raw(ixlib.MPORT)
    r.send(header(to='cb9' + NL + ' component',
                  xmlns='jabber:component:accept', version=None))
    return r.stream_error()

def sasl():
    r = Raw()
    r.open()
    r.starttls()
    r.open()
    ok = r.auth_plain('evil\nmmpd: FORGED sasl\r\x1b[2J\x1b]0;owned\x07',
                      'pw')
    return 'success' if ok else 'failure ' + r.sasl_failure

run('to', to)
run('xmlns', xmlns)
run('component', component)
run('sasl user', sasl)
EOF
SOCK=$SOCK CPORT=$CPORT MPORT=$MPORT MMPD_LOG="$T/mmpd.log" T=$T \
    /usr/bin/python3 "$T/inject.py"
wait_for "the SASL failure in the log" grep -q 'FORGED sasl' "$T/mmpd.log"
say no line of the log is forged
grep -c '^mmpd: FORGED' "$T/mmpd.log"
grep -Ev '^[0-9]{4}-[0-9-]{5}T[0-9:.]{12}Z mmpd: ' "$T/mmpd.log" | head -3
say no control character but tab reaches the log
LC_ALL=C grep -c '[[:cntrl:]]' "$T/mmpd.log"
say the forged text, escaped, on the line that logged it
grep FORGED "$T/mmpd.log" | sed -e 's/127\.0\.0\.1:[0-9]*/127.0.0.1:<port>/g' \
    -e 's/^[0-9]\{4\}-[0-9-]*T[0-9:.]*Z /<time> /'
