"""The cluster scenario of XEP-0280 message carbons. scenarios.py imports
this file; run it as any other (scenarios.py NAME).

carbons    alice on both followers (one session each, carbons enabled),
           bob on the leader: a message bob sends to one of alice's
           sessions reaches the other as a <received/> carbon, and one
           alice sends from a session reaches the other as a <sent/>
           carbon, across nodes; after kill -9 of the leader the new
           leader (one of alice's nodes) still knows both sessions'
           flags (its own session's, and the other follower's from its
           <bind carbons='1'>): the copies go on, both ways
"""

import time

from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream import ET

from clib import (DOMAIN, FAILOVER_MAX, Cluster, Failed, check, iq_failure,
                  is_msg, login, reachable, scenario, w, wait_new_leader)

NS_CARBONS = 'urn:xmpp:carbons:2'
NS_FORWARD = 'urn:xmpp:forward:0'


async def enable(c):
    """Enable carbons on client c: the server must answer with a result."""
    iq = c.make_iq_set()
    iq.append(ET.Element('{%s}enable' % NS_CARBONS))
    try:
        res = await iq.send(timeout=w(10))
    except (IqError, IqTimeout) as e:
        raise Failed('%s: carbons enable: %s' % (c.inbox.who, iq_failure(e)))
    check(res['type'] == 'result', '%s: enable answered %s' % (
        c.inbox.who, res))


def is_carbon(how, body, frm):
    """A predicate for a carbon (how: sent or received) from our own bare
    JID wrapping a message with body, from the full JID frm."""
    def pred(st):
        if st.name != 'message' or st['from'].bare != 'alice@' + DOMAIN or \
                st['from'].resource:
            return False
        m = st.xml.find('{%s}%s/{%s}forwarded/{jabber:client}message' % (
            NS_CARBONS, how, NS_FORWARD))
        if m is None:
            return False
        b = m.find('{jabber:client}body')
        return b is not None and b.text == body and m.get('from') == frm
    return pred


async def both_ways(bob, a1, a2, tag):
    """bob to a1: a2 gets a received carbon; a2 to bob: a1 gets a sent
    carbon; neither gets a carbon of what it got or sent itself."""
    body = '%s in' % tag
    bob.send_message(mto=a1.boundjid.full, mbody=body, mtype='chat')
    await a1.inbox.wait(is_msg(body, frm=bob.boundjid.full), '%r' % body,
                        timeout=w(10))
    await a2.inbox.wait(is_carbon('received', body, bob.boundjid.full),
                        'the received carbon of %r' % body, timeout=w(10))
    body = '%s out' % tag
    a2.send_message(mto=bob.boundjid.full, mbody=body, mtype='chat')
    await bob.inbox.wait(is_msg(body, frm=a2.boundjid.full), '%r' % body,
                         timeout=w(10))
    await a1.inbox.wait(is_carbon('sent', body, a2.boundjid.full),
                        'the sent carbon of %r' % body, timeout=w(10))
    check(not [st for st in a1.inbox.items if is_carbon(
        'received', '%s in' % tag, bob.boundjid.full)(st)],
        '%s got a carbon of the message it got' % a1.inbox.who)
    check(not [st for st in a2.inbox.items if is_carbon(
        'sent', body, a2.boundjid.full)(st)],
        '%s got a carbon of the message it sent' % a2.inbox.who)


@scenario()
async def carbons(t):
    c = Cluster(t, 3)
    leader = await c.form()
    await c.add_users(leader)
    await c.wait_users(c.nodes)
    f1, f2 = [nd for nd in c.nodes if nd is not leader]
    a1 = await login(t, f1, 'alice', 'f1')
    a2 = await login(t, f2, 'alice', 'f2')
    bob = await login(t, leader, 'bob', 'l')
    await enable(a1)
    await enable(a2)
    await reachable(bob, a1.boundjid.full)
    await reachable(bob, a2.boundjid.full)
    with t.check('across-nodes'):
        await both_ways(bob, a1, a2, 'before')

    t0 = time.monotonic()
    leader.kill9()
    new, took = await wait_new_leader([f1, f2], t0,
                                      max(w(10), FAILOVER_MAX + 2))
    t.note('%s killed, %s LEADER after %.2fs' % (leader.name, new.name,
                                                 took))
    await c.wait_agree([f1, f2], [nd.peer for nd in c.nodes],
                       what='agreement of the survivors')
    other = f2 if new is f1 else f1
    bob2 = await login(t, other, 'bob', 'again')
    await reachable(bob2, a1.boundjid.full)
    await reachable(bob2, a2.boundjid.full)
    with t.check('after-failover'):
        # Both ways round: each of alice's sessions, the new leader's
        # own and the follower's, must be known to want carbons.
        await both_ways(bob2, a1, a2, 'after')
        await both_ways(bob2, a2, a1, 'after 2')
