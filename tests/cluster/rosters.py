"""The cluster scenarios about rosters: nothing a client was told about
its roster is lost when the leader dies, and a joining node's rosters
are merged into the cluster's. scenarios.py imports this file; run them
as any other (scenarios.py NAME).

rosterack  with the leader's raft traffic to both followers dropped (the
           forwarding links still up), alice on a follower and bob on
           the leader each set a roster item and bob approves alice's
           subscription request: no answer may come before a quorum has
           the change; the leader is killed (kill -9) right after the
           answers, and the new leader and every node (the killed one
           restarted too) hold the items and the subscription states
rostermerge a node that served alone (carol, and alice with her own
           contacts) joins a cluster that has alice: carol's roster, and
           alice's contacts the cluster lacks, are in every member's
           database and in the rosters the leader answers with; an item
           both had keeps the cluster's version (its name)
"""

import asyncio
import time
import xml.etree.ElementTree as ET

from clib import (DOMAIN, Client, Cluster, check, is_presence, login,
                  nft_heal, scenario, until, w, wait_new_leader)
from clib import db_values, run
from slixtest import roster_items

NS_ROSTER = 'jabber:iq:roster'
BLOCK = 2.0         # seconds the leader's raft traffic is dropped


def roster_set(c, jid, name=None, timeout=None):
    """A roster set of item jid (with a name) from client c: the future
    of its answer."""
    iq = c.make_iq_set()
    q = ET.SubElement(iq.xml, '{%s}query' % NS_ROSTER)
    it = ET.SubElement(q, '{%s}item' % NS_ROSTER)
    it.set('jid', jid)
    if name is not None:
        it.set('name', name)
    return asyncio.ensure_future(iq.send(timeout=timeout or w(20)))


def db_item(nd, owner, jid):
    """(subscription, name) of owner's roster item jid in the node's
    database, or None."""
    sub, name = db_values(nd, 'SELECT subscription FROM roster WHERE '
                          'owner = ? AND jid = ?', [(owner, jid)]), \
        db_values(nd, 'SELECT name FROM roster WHERE owner = ? AND jid = ?',
                  [(owner, jid)])
    return None if sub[0] is None else (sub[0], name[0])


async def wait_items(nodes, want, timeout=None):
    """Wait until every node's database holds want: {(owner, jid):
    (subscription, name or None to skip the name)}."""
    timeout = timeout or w(15)

    def probe():
        bad = []
        for nd in nodes:
            for (owner, jid), (sub, name) in sorted(want.items()):
                got = db_item(nd, owner, jid)
                if got is None or got[0] != sub or \
                        (name is not None and got[1] != name):
                    bad.append('%s: %s/%s is %s' % (nd.name, owner, jid,
                                                    got))
        return not bad, bad
    await until(probe, timeout, lambda bad: 'after %gs: %s' % (
        timeout, '; '.join(bad[:8])))


async def nft_block_raft(src, dsts, kport):
    """Drop what src sends to the cluster port of dsts: the raft messages
    it sends as the leader (its own outgoing channels), not the replies
    on the channels the others opened (their forwarding links)."""
    rules = ('table ip mmp_cluster_test {\n chain out {\n'
             '  type filter hook output priority 0; policy accept;\n'
             '  ip saddr %s ip daddr { %s } tcp dport %d drop\n }\n}\n') % (
        src, ', '.join(dsts), kport)
    rc, out, err = await run(['nft', '-f', '-'], rules)
    check(rc == 0, 'nft: %s' % err.strip())


@scenario(netns=True)
async def rosterack(t):
    c = Cluster(t, 3)
    # A long election timeout: nobody stands for election while blocked.
    leader = await c.form(timers=('100', '4000'))
    await c.add_users(leader)
    await c.wait_users(c.nodes)
    fol = [nd for nd in c.nodes if nd is not leader]
    alice = await login(t, fol[0], 'alice', 'f')
    bob = await login(t, leader, 'bob', 'l')
    x1, x2 = 'x1@' + DOMAIN, 'x2@' + DOMAIN
    # A subscription request the cluster has before the block.
    alice.send_presence(pto=bob.boundjid.bare, ptype='subscribe')
    await bob.inbox.wait(is_presence('subscribe', frm_bare='alice@' + DOMAIN),
                         'the subscription request of alice')
    await wait_items(c.nodes, {('alice', 'bob@' + DOMAIN): ('none', None)})

    await nft_block_raft(leader.addr, [nd.addr for nd in fol],
                         c.kport)
    t0 = time.monotonic()
    f1 = roster_set(alice, x1, 'on a follower')
    f2 = roster_set(bob, x2, 'on the leader')
    bob.send_presence(pto=alice.boundjid.bare, ptype='subscribed')
    approved = asyncio.ensure_future(alice.inbox.wait(
        is_presence('subscribed', frm_bare='bob@' + DOMAIN),
        'the approval of bob', timeout=w(20), take=False))
    acks = asyncio.gather(f1, f2, approved)
    early = None
    try:
        await asyncio.wait_for(asyncio.shield(acks), BLOCK)
        early = 'all three answered'
    except asyncio.TimeoutError:
        done = [n for n, f in (('roster set on the follower', f1),
                               ('roster set on the leader', f2),
                               ('approval', approved)) if f.done()]
        early = ', '.join(done) or None
    if early is not None:
        # Answered without a quorum: as a client would, trust it, and
        # the leader dies at once.
        leader.kill9()
        t.note('followers hold at the kill: %s' % [
            db_item(nd, 'alice', x1) for nd in fol])
        await nft_heal()
    else:
        await nft_heal()
        await asyncio.wait_for(acks, w(20))
        leader.kill9()
    t.note('answers %.2fs after the block began; early: %s' % (
        time.monotonic() - t0, early))
    with t.check('no-answer-without-quorum'):
        check(early is None, 'answered while no follower could have the '
              'change: %s' % early)
    new, took = await wait_new_leader(fol, time.monotonic(), w(30))
    want = {('alice', x1): ('none', 'on a follower'),
            ('bob', x2): ('none', 'on the leader'),
            ('alice', 'bob@' + DOMAIN): ('to', None),
            ('bob', 'alice@' + DOMAIN): ('from', None)}
    await wait_items(fol, want)
    a2 = await login(t, new, 'alice', 'after')
    items = await roster_items(a2, w(10))
    check(items.get(x1, (None,))[0] == 'none' and
          items.get('bob@' + DOMAIN, (None,))[0] == 'to',
          'alice\'s roster from the new leader: %s' % items)
    leader.start()
    await leader.wait_ready()
    await c.wait_agree(timeout=w(30), what='agreement after the restart')
    await wait_items(c.nodes, want)


@scenario()
async def rostermerge(t):
    c = Cluster(t, 3)
    n1, n2, n3 = c.nodes
    leader = await c.form([n1, n2])
    await c.add_users(leader)
    await c.wait_users([n1, n2])
    ya, xa = 'y@elsewhere.example', 'x@elsewhere.example'
    a = await login(t, n1, 'alice', 'c')
    await roster_set(a, ya, 'cluster y')
    await roster_set(a, xa, 'cluster x')
    a.drop()

    # n3 serves alone: carol, and alice (same password) with contacts.
    await c.start([n3])
    await n3.batch(c.base_lines(n3))
    for u, pw in (('carol', 'carolpw1'), ('alice', 'alicepw1')):
        await n3.ok('xmpp', 'user', 'add', u, stdin='%s\n%s\n' % (pw, pw))
    carol = Client('carol', 'n3', 'carolpw1')
    t.streams.append(carol)
    carol.connect((n3.addr, c.cport))
    await carol.wait_started('carol on n3')
    carol.send_presence()
    a3 = await login(t, n3, 'alice', 'n3')
    dave, erin = 'dave@' + DOMAIN, 'erin@elsewhere.example'
    await roster_set(carol, dave, 'Dave')
    await roster_set(carol, erin, 'Erin')
    await roster_set(a3, xa, 'n3 x')
    await roster_set(a3, 'z@elsewhere.example', 'n3 z')
    carol.send_presence(pto='alice@' + DOMAIN, ptype='subscribe')
    await a3.inbox.wait(is_presence('subscribe', frm_bare='carol@' + DOMAIN),
                        'the subscription request of carol')
    a3.send_presence(pto='carol@' + DOMAIN, ptype='subscribed')
    await wait_items([n3], {('carol', 'alice@' + DOMAIN): ('to', None)})
    carol.drop()
    a3.drop()

    await c.join(n3, n1, base=False)
    await c.wait_agree(what='agreement with n3 in')
    want = {('carol', dave): ('none', 'Dave'),
            ('carol', erin): ('none', 'Erin'),
            ('carol', 'alice@' + DOMAIN): ('to', None),
            ('alice', 'carol@' + DOMAIN): ('from', None),
            ('alice', 'z@elsewhere.example'): ('none', 'n3 z'),
            ('alice', ya): ('none', 'cluster y'),
            ('alice', xa): ('none', 'cluster x')}
    await wait_items(c.nodes, want, w(20))
    c2 = Client('carol', 'n1', 'carolpw1')
    t.streams.append(c2)
    c2.connect((n1.addr, c.cport))
    await c2.wait_started('carol on n1')
    items = await roster_items(c2, w(10))
    check(dave in items and erin in items, 'carol\'s roster from the '
          'cluster: %s' % items)
