# A database that fails under a running daemon is an error, never
# absence: the admin gets one "database error: ..." line and exit 1, not
# "no such user", "no callbridges" or a short list; a client gets
# internal-server-error, and a login temporary-auth-failure, not
# not-authorized. The failure is real: another connection replaces a
# table with a view whose every row fails when SQLite steps to it.
start_daemon
use_ports
say set up XMPP with one user and a call bridge
mmp_in 'xmpp domain example.com\nxmpp listen 127.0.0.1\npki selfsigned xmpp CN:example.com key:ec256\nxmpp certs xmpp.key xmpp.crt\nxmpp user add alice\nalicepw1\nalicepw1\nxmpp callbridge add-secret cb1\ncbsecret1\ncbsecret1\nxmpp enable\n' | tail -1
mmp xmpp user list
mmp backup snapshot before >/dev/null
say clients: roster, login and component handshake on failing tables
CPORT=$CPORT MPORT=$MPORT /usr/bin/python3 - "$TOP/tests/interop" \
    "$DATA/mmp.db" <<'PY'
import sqlite3
import sys
sys.path.insert(0, sys.argv[1])
from ixlib import (MPORT, NS_CLIENT, NS_SASL, Raw, b64, header,  # noqa
                   local, sasl_outcome, sasl_stage)


def fail_table(table, cols):
    db = sqlite3.connect(sys.argv[2], isolation_level=None)
    db.execute('DROP TABLE %s' % table)
    db.execute('CREATE VIEW %s AS SELECT %s' % (table, ', '.join(
        'abs(-9223372036854775807 - 1) AS %s' % c for c in cols.split())))
    db.close()


alice = sasl_stage()
print('alice logs in: %s' % alice.auth_plain('alice', 'alicepw1'))
alice.open()
alice.bind('r1')
fail_table('roster', 'owner jid name subscription ask pending_in groups')
alice.send("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>")
el = alice.next(what='the roster')
err = el.find('{%s}error' % NS_CLIENT)
print('roster get: %s %s %s' % (el.get('type'), err.get('type'),
                                ' '.join(local(k.tag) for k in err)))
alice.close()
fail_table('user_scram', 'localpart hash iterations salt stored_key '
           'server_key')
r = sasl_stage()
r.push("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>" %
       (NS_SASL, b64('\0alice\0alicepw1')))
print('PLAIN login: %s' % sasl_outcome(r))
r.close()
r = sasl_stage()
r.push("<auth xmlns='%s' mechanism='SCRAM-SHA-256'>%s</auth>" %
       (NS_SASL, b64('n,,n=alice,r=cnonce1')))
print('SCRAM-SHA-256 login: %s' % sasl_outcome(r))
r.close()
fail_table('callbridge', 'name secret created')
c = Raw(port=MPORT)
c.send(header(to='cb1.example.com', xmlns='jabber:component:accept',
              version=None))
print('component cb1: stream error %s' % c.stream_error())
c.close()
PY
say the admin on the failing call bridges
mmp xmpp callbridge list
mmp_in 'cb2-secret-123\ncb2-secret-123\n' xmpp callbridge add-secret cb2
say the admin on failing accounts
sqlite3 "$DATA/mmp.db" "DROP TABLE user; CREATE VIEW user AS SELECT
    abs(-9223372036854775807 - 1) AS localpart, 0 AS created"
mmp xmpp user list
mmp xmpp user list alice
mmp xmpp user list nosuch
mmp_in 'secret-pw-2\nsecret-pw-2\n' xmpp user passwd alice
mmp_in 'secret-pw-2\nsecret-pw-2\n' xmpp user add bob
say the admin on failing settings
sqlite3 "$DATA/mmp.db" "DROP TABLE config; CREATE VIEW config AS SELECT
    abs(-9223372036854775807 - 1) AS key, '' AS value"
mmp xmpp
mmp xmpp enable
mmp hostname
mmp xmpp dns check
mmp_in 'Y\n' backup rollback before
mmp_in 'cb2-secret-123\ncb2-secret-123\n' xmpp callbridge add-secret cb2
say the daemon still answers
mmp version >/dev/null && echo "mmpd answers"
