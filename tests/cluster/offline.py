"""The cluster scenarios of offline messages (XEP-0160): stored through
the replicated log, so that any member delivers them, also after the
node where they were sent died, or the leader. scenarios.py imports this
file; run them as any other (scenarios.py NAME).

offstore   alice on node 1 sends chat messages to bob, who has no
           session: no error comes back, every node's database holds
           them; bob logs in on node 3 and gets them in order with a
           XEP-0203 delay stamp (slixmpp's xep_0203); then every node's
           database has none; two more stored, xmpp user del bob on a
           follower removes them from every node's database
offkillsend the same with alice on a follower that is killed (kill -9)
           once the messages are stored: bob gets them all on another
           node; the survivors agree, and so does the killed node once
           it is back
offkillleader the same with the leader killed (kill -9) once they are
           stored: a new leader delivers them all, in order, once
offinit    messages stored on a node serving alone stay stored when it
           initializes a cluster: every member has them, with the ones
           sent after, and bob gets them all in order on another node
offjoin    messages stored on a node serving alone stay stored when it
           joins a cluster that has the account: every member has them
           (none replaced by the log's), and bob, logged in and
           available on another node all along, gets them as soon as
           they are in
"""

import datetime
import time

from clib import (DOMAIN, TIMERS, Client, Cluster, check, db_values,
                  scenario, until, w, wait_new_leader)
from slixtest import is_msg

N = 5               # messages per scenario


def stored(nd, user='bob'):
    """How many offline messages the node's own database holds for user
    (None if it has no table for them: a build without them)."""
    try:
        return db_values(nd, 'SELECT count(*) FROM offline WHERE owner '
                         '= ?', [(user,)])[0]
    except Exception as e:  # sqlite3.OperationalError: no such table
        return 'no table (%s)' % e


async def wait_stored(nodes, n, timeout=None):
    """Wait until every node's database holds n messages for bob."""
    timeout = timeout or w(15)

    def probe():
        seen = [stored(nd) for nd in nodes]
        return all(s == n for s in seen), seen
    await until(probe, timeout, lambda seen: 'bob\'s offline messages '
                'are not %d on every node after %gs: %s' % (
                    n, timeout, ', '.join('%s: %s' % (nd.name, s)
                                          for nd, s in zip(nodes, seen))))


async def login_delay(t, nd, user, resource):
    """A client of node nd with the delay plugin, logged in, with its
    initial presence."""
    c = Client(user, resource)
    c.register_plugin('xep_0203')
    t.streams.append(c)
    c.connect((nd.addr, nd.cluster.cport))
    await c.wait_started('%s/%s on %s' % (user, resource, nd.name))
    c.send_presence()
    return c


async def send_offline(t, nd, tag):
    """alice on nd sends N chat messages to bob's bare JID; none may
    bounce (a ping round trip later). The bodies."""
    alice = await login_delay(t, nd, 'alice', tag)
    bodies = ['%s-%d' % (tag, i) for i in range(N)]
    for b in bodies:
        alice.send_message(mto='bob@' + DOMAIN, mbody=b, mtype='chat')
    await alice['xep_0199'].send_ping(DOMAIN, timeout=w(10))
    errs = [st for st in alice.inbox.items if st.name == 'message']
    check(not errs, 'the sender got %s' % [str(st) for st in errs[:2]])
    return alice, bodies


async def receive_offline(t, nd, tag, bodies):
    """bob logs in on nd and gets bodies in that order, each with a delay
    stamp from the domain, and nothing more."""
    bob = await login_delay(t, nd, 'bob', tag)
    got = []
    for b in bodies:
        got.append(await bob.inbox.wait(is_msg(errors=False),
                                        'offline message %s' % b,
                                        timeout=w(15)))
    check([st['body'] for st in got] == bodies, 'bob got %s, not %s' % (
        [st['body'] for st in got], bodies))
    now = datetime.datetime.now(datetime.timezone.utc)
    for st in got:
        d = st['delay']
        check(d['from'] is not None and d['from'].bare == DOMAIN and
              isinstance(d['stamp'], datetime.datetime) and
              abs((now - d['stamp']).total_seconds()) < 300,
              'delay of %s: from %r stamp %r' % (st['body'], d['from'],
                                                 d['stamp']))
    await bob['xep_0199'].send_ping(DOMAIN, timeout=w(10))
    more = [st['body'] for st in bob.inbox.items if st.name == 'message']
    check(not more, 'bob got more: %s' % more)
    return bob


@scenario()
async def offstore(t):
    c = Cluster(t, 3)
    leader, fol = (await c.form_with_users())[:2]
    n1, n3 = c.nodes[0], c.nodes[2]
    await send_offline(t, n1, 'store')
    with t.check('stored-everywhere'):
        await wait_stored(c.nodes, N)
    bob = await receive_offline(t, n3, 'n3',
                                ['store-%d' % i for i in range(N)])
    with t.check('removed-everywhere'):
        await wait_stored(c.nodes, 0)
    await bob.close()
    alice = await login_delay(t, n1, 'alice', 'again')
    for b in ('x', 'y'):
        alice.send_message(mto='bob@' + DOMAIN, mbody=b, mtype='chat')
    await wait_stored(c.nodes, 2)
    with t.check('user-del-everywhere'):
        await fol[-1].ok('xmpp', 'user', 'del', 'bob')
        await wait_stored(c.nodes, 0)


@scenario()
async def offkillsend(t):
    c = Cluster(t, 3)
    leader, fol = (await c.form_with_users())[:2]
    sender, other = fol
    alice, bodies = await send_offline(t, sender, 'ks')
    await wait_stored([leader, other], N)
    sender.kill9()
    alice.drop()
    with t.check('survivors-agree'):
        await wait_stored([leader, other], N)
    await c.wait_agree([leader, other], [nd.peer for nd in c.nodes],
                       what='agreement of the two survivors')
    await receive_offline(t, other, 'other', bodies)
    await wait_stored([leader, other], 0)
    sender.start()
    await sender.wait_ready()
    await c.wait_agree()
    with t.check('restarted-agrees'):
        await wait_stored(c.nodes, 0)


@scenario()
async def offkillleader(t):
    c = Cluster(t, 3)
    leader, fol = (await c.form_with_users())[:2]
    alice, bodies = await send_offline(t, fol[0], 'kl')
    await wait_stored(c.nodes, N)
    t0 = time.monotonic()
    leader.kill9()
    new, took = await wait_new_leader(fol, t0, w(30))
    t.note('new leader %s after %.2fs' % (new.name, took))
    with t.check('survivors-agree'):
        await wait_stored(fol, N)
    other = [nd for nd in fol if nd is not new][0]
    await c.wait_agree(fol, [nd.peer for nd in c.nodes],
                       what='agreement of the two survivors')
    await receive_offline(t, other, 'other', bodies)
    await wait_stored(fol, 0)
    leader.start()
    await leader.wait_ready()
    with t.check('restarted-agrees'):
        await wait_stored(c.nodes, 0)


@scenario()
async def offinit(t):
    c = Cluster(t, 3)
    await c.start()
    n1, n2, n3 = c.nodes
    await n1.batch(c.base_lines(n1))
    await c.add_users(n1)
    alice = await login_delay(t, n1, 'alice', 'alone')
    for b in ('alone-0', 'alone-1'):
        alice.send_message(mto='bob@' + DOMAIN, mbody=b, mtype='chat')
    await wait_stored([n1], 2)
    await alice.close()
    await c.initialize(n1, TIMERS)
    for nd in (n2, n3):
        await c.join(nd, n1, TIMERS)
    await c.wait_agree()
    await c.wait_users(c.nodes)
    with t.check('kept-and-replicated'):
        await wait_stored(c.nodes, 2)
    alice = await login_delay(t, n2, 'alice', 'clustered')
    alice.send_message(mto='bob@' + DOMAIN, mbody='after', mtype='chat')
    await wait_stored(c.nodes, 3)
    await receive_offline(t, n3, 'n3', ['alone-0', 'alone-1', 'after'])
    await wait_stored(c.nodes, 0)


@scenario()
async def offjoin(t):
    c = Cluster(t, 3)
    n1, n2, n3 = c.nodes
    await c.form([n1, n2], TIMERS)
    await c.add_users(n1)
    await c.wait_users([n1, n2])
    await c.start([n3])
    await n3.batch(c.base_lines(n3))
    await c.add_users(n3)
    alice = await login_delay(t, n3, 'alice', 'alone')
    for b in ('alone-0', 'alone-1'):
        alice.send_message(mto='bob@' + DOMAIN, mbody=b, mtype='chat')
    await wait_stored([n3], 2)
    await alice.close()
    # A message of the cluster's own first: its number is the one the
    # joining node's first message had.
    a1 = await login_delay(t, n1, 'alice', 'clustered')
    a1.send_message(mto='bob@' + DOMAIN, mbody='cluster-0', mtype='chat')
    await wait_stored([n1, n2], 1)
    bob = await receive_offline(t, n2, 'n2', ['cluster-0'])
    await wait_stored([n1, n2], 0)
    await c.join(n3, n1, TIMERS)
    await c.wait_agree()
    with t.check('kept-and-replicated'):
        got = []
        for b in ('alone-0', 'alone-1'):
            got.append(await bob.inbox.wait(is_msg(errors=False),
                                            'offline message %s' % b,
                                            timeout=w(20)))
        check([st['body'] for st in got] == ['alone-0', 'alone-1'],
              'bob got %s' % [st['body'] for st in got])
        await wait_stored(c.nodes, 0)
