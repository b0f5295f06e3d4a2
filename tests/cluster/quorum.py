"""The cluster scenarios of a node without quorum and of a member's
address (issue 12, items 4 and 5). scenarios.py imports this file; run
them as any other (scenarios.py NAME, or sh tests/cluster/run NAME).

noquorum   three nodes, the leader and one follower killed (-9): within
           the documented bound (two election timeouts plus
           CLUSTER_QUORUM_GRACE_MS after it last heard the leader, and
           a second for the client to see it; nqtime.py times every
           path to the daemon's log line) the survivor
           answers the message it still kept for the leader with an
           error to its sender, then tells its client and call bridge
           to go (system-shutdown) and refuses new client and call-bridge
           streams, with one log line; xmpp cluster status says so; once
           the two are back, logins work again (one log line)
memberaddr xmpp listen that would move a member's cluster address is
           refused (exit 1, a line saying what to do) and changes
           nothing; one that keeps the first address is taken; a member
           whose stored address no longer matches its member address
           says so in one log line at start-up
"""

import asyncio
import os
import re
import sqlite3
import time

from clib import (TIMERS, Client, Cluster, Component, check, component,
                  login, reachable, scenario, until, w)
from slixtest import stanza_error

REFUSE_LOG = 'no quorum for'
ACCEPT_LOG = 'quorum again'


def grace_ms():
    """CLUSTER_QUORUM_GRACE_MS as daemon/cluster/cluster.h defines it
    (3000 if it is not there)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..',
                        '..', 'daemon', 'cluster', 'cluster.h')
    try:
        with open(path) as f:
            m = re.search(r'#define\s+CLUSTER_QUORUM_GRACE_MS\s+(\d+)',
                          f.read())
    except OSError:
        m = None
    return int(m.group(1)) if m else 3000


def election_ms(st):
    """The election timeout a status says is in use, in ms."""
    m = re.search(r'election timeout (\d+) ms', st.get('timers'))
    return int(m.group(1)) if m else 500


async def refused(t, stream, what, *addr):
    """stream (not yet connected) connects (to addr, if given) and is
    told system-shutdown before any session starts."""
    t.streams.append(stream)
    stream.connect(*addr)
    await stream.stream_error('system-shutdown')
    check(stream.started.done() and stream.started.exception() is not None,
          '%s: a session started while the node has no quorum' % what)


async def login_when_back(t, nd, user, resource, bound):
    """Log in on nd until it works (it refuses while without quorum)."""
    deadline = time.monotonic() + bound
    while True:
        c = Client(user, resource)
        t.streams.append(c)
        c.connect((nd.addr, nd.cluster.cport))
        try:
            await c.wait_started('%s/%s on %s' % (user, resource, nd.name))
            return c
        except Exception:
            c.drop()
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.2)


@scenario()
async def noquorum(t):
    c = Cluster(t, 3)
    leader, followers, _ = await c.form_with_users()
    surv, other = followers
    st = await surv.status()
    el = election_ms(st)
    bound = (2 * el + grace_ms()) / 1000.0
    alice = await login(t, surv, 'alice', 'q')
    bob = await login(t, leader, 'bob', 'q')
    cb = await component(t, surv, 'cb1')
    await reachable(alice, bob.boundjid.full)
    log_at = surv.log_size()

    leader.kill9()
    other.kill9()
    killed = time.monotonic()
    alice.send_message(mto=bob.boundjid.full, mbody='kept 1', mtype='chat')

    with t.check('client-told-to-go-within-bound'):
        try:
            await asyncio.wait_for(asyncio.shield(alice.gone),
                                   w(bound + 2))
        except asyncio.TimeoutError:
            pass
        took = time.monotonic() - killed
        t.note('the survivor told its client to go %.2fs after the kill '
               '(bound %.2fs: 2 x %d ms + %d ms)' % (took, bound, el,
                                                     grace_ms()))
        check(alice.gone.done(), 'alice is still connected to %s %.1fs '
              'after two of three nodes died (bound %.2fs)' %
              (surv.name, took, bound))
        got = [e['condition'] for e in alice.stream_errors]
        check(got == ['system-shutdown'], 'stream errors %s, expected '
              "['system-shutdown']" % got)
        check(took <= w(bound + 1), 'told after %.2fs, bound %.2fs (+1 s '
              'for the client)' % (took, bound))

    with t.check('call-bridge-told-to-go'):
        await cb.stream_error('system-shutdown')

    with t.check('kept-stanza-answered'):
        errs = [m for m in alice.inbox.items if m.name == 'message' and
                m['type'] == 'error' and m['body'] == 'kept 1']
        check(errs, "the message 'kept 1' kept for the leader was not "
              'answered to its sender (got %s)' %
              [(m.name, m['type'], m['body']) for m in alice.inbox.items])
        check(stanza_error(errs[0]) == ('recipient-unavailable', 'wait'),
              'error %s' % (stanza_error(errs[0]),))

    with t.check('new-streams-refused'):
        await refused(t, Client('alice', 'q2'), 'alice/q2 on ' + surv.name,
                      (surv.addr, c.cport))
        await refused(t, Component('cb1', c.secrets['cb1'], surv),
                      'cb1 on ' + surv.name)

    with t.check('status-says-refusing'):
        st = await surv.status()
        check('refus' in st.get('clients').lower(), 'xmpp cluster status '
              'has no Clients line saying streams are refused:\n' + st.text)

    with t.check('refuse-logged-once'):
        n = surv.log_text(log_at).count(REFUSE_LOG)
        check(n == 1, '%d log lines with %r, expected 1' % (n, REFUSE_LOG))

    # Quorum comes back: logins work again.
    for nd in (leader, other):
        nd.start()
    await asyncio.gather(leader.wait_ready(), other.wait_ready())
    with t.check('logins-after-quorum'):
        a2 = await login_when_back(t, surv, 'alice', 'back', w(30))
        b2 = await login_when_back(t, other, 'bob', 'back', w(30))
        await reachable(a2, b2.boundjid.full, w(20))
    with t.check('accept-logged-once'):
        text = surv.log_text(log_at)
        check(text.count(ACCEPT_LOG) == 1 and text.count(REFUSE_LOG) == 1,
              'log lines: %d %r, %d %r; expected one each' % (
                  text.count(REFUSE_LOG), REFUSE_LOG,
                  text.count(ACCEPT_LOG), ACCEPT_LOG))
        st = await surv.status()
        check(not st.get('clients'), 'a Clients line with quorum: %s' %
              st.get('clients'))
    await t.stop_all()


@scenario()
async def memberaddr(t):
    c = Cluster(t, 1)
    n1 = c.node(1)
    await c.start()
    await c.initialize(n1, TIMERS)
    await c.wait_status([n1], lambda s: s.state == 'LEADER',
                        'a cluster of one')
    msg = ('xmpp listen: this node is a cluster member at %s; remove it '
           '(xmpp cluster remove) and join again after changing listen' %
           n1.peer)

    with t.check('listen-refused-on-member'):
        rc, out, err = await n1.mmp('xmpp', 'listen', '127.0.0.9')
        check(rc == 1 and err.strip() == msg, 'xmpp listen 127.0.0.9 on a '
              'member: exit %d, %r' % (rc, (err + out).strip()))
        out = await n1.ok('xmpp')
        check('127.0.0.9' not in out and n1.addr in out,
              'the listen list changed:\n' + out)

    with t.check('listen-same-first-address-taken'):
        await n1.ok('xmpp', 'listen', n1.addr, '127.0.0.9')
        await n1.ok('xmpp', 'listen', n1.addr)

    with t.check('startup-says-address-moved'):
        check(await n1.term() == 0, 'mmpd did not exit 0')
        db = sqlite3.connect(os.path.join(n1.data, 'mmp.db'))
        with db:
            db.execute("UPDATE listen SET addr = '127.0.0.9' WHERE pos = "
                       '(SELECT MIN(pos) FROM listen)')
        db.close()
        at = n1.log_size()
        n1.start()
        await n1.wait_ready()
        want = ("this node's cluster address is now 127.0.0.9:%d "
                '(xmpp listen, xmpp port cluster) but the cluster knows it '
                'as %s' % (c.kport, n1.peer))

        async def logged():
            return want in n1.log_text(at), None
        await until(logged, w(10), 'the start-up line %r in the log' % want)
        n = n1.log_text(at).count(want)
        check(n == 1, '%d such lines, expected 1' % n)
    await t.stop_all()

