"""The cluster scenarios about a follower's clients' roster changes and
a joining node's many roster items. scenarios.py imports this file; run
them as any other (scenarios.py NAME).

rosterfollow  with the leader's raft traffic to both followers dropped,
              alice on a follower sets a roster item; two messages to
              herself after it come back (so the leader has routed the
              set, and anything it acknowledged of it has reached the
              follower); the leader is killed (kill -9) before the set
              could commit: alice must still get her answer, once, from
              the next leader, her messages only once, and every node
              (the killed one restarted) must hold the item
rosterstepdown  the same, but the leader is not killed: the block kept,
              the followers elect one of them and the leader steps
              down; alice must get her answer from the new leader
rostermany    a node that served alone, with MANY_USERS accounts of
              MANY_ITEMS roster items each (1,500 in all), joins a
              cluster of two: every item must reach every member's
              database (more than go in the log at once, more than
              commit within one submission's deadline under load)
"""

import asyncio
import time

from clib import (DOMAIN, Client, Cluster, check, db_values, is_msg,
                  login, nft_heal, scenario, until, wait_new_leader, w)
from rosters import db_item, nft_block_raft, roster_set, wait_items


async def follower_set(t, kill):
    """alice on a follower sets a roster item while the leader's raft
    traffic is dropped; then the leader is killed (kill) or, the block
    kept, steps down when the followers elect another. She must get one
    answer and every node the item."""
    c = Cluster(t, 3)
    # A long election timeout: nobody stands for election while blocked.
    leader = await c.form(timers=('100', '4000'))
    await c.add_users(leader)
    await c.wait_users(c.nodes)
    fol = [nd for nd in c.nodes if nd is not leader]
    alice = await login(t, fol[0], 'alice', 'f')
    x1 = 'x1@' + DOMAIN
    answers = []

    await nft_block_raft(leader.addr, [nd.addr for nd in fol], c.kport)
    base = len(alice.inbox.items)
    f1 = roster_set(alice, x1, 'on a follower', timeout=w(40))
    f1.add_done_callback(lambda f: answers.append(time.monotonic()))
    for body in ('mark 1', 'mark 2'):
        alice.send_message(mto=alice.boundjid.full, mbody=body,
                           mtype='chat')
        await alice.inbox.wait(is_msg(body, errors=False), body,
                               timeout=w(10), take=False)
    check(not f1.done(), 'the roster set was answered while no follower '
          'could have it')
    t.note('follower holds: %s' % [db_item(nd, 'alice', x1) for nd in fol])
    t0 = time.monotonic()
    if kill:
        leader.kill9()
        await nft_heal()
        new, took = await wait_new_leader(fol, t0, w(30))
    else:
        new, took = await wait_new_leader(fol, t0, w(30))
        await nft_heal()
    with t.check('follower-answer-after-leader-%s' % (
            'death' if kill else 'step-down')):
        try:
            await asyncio.wait_for(asyncio.shield(f1), w(30))
        except asyncio.TimeoutError:
            check(False, 'alice\'s roster set never answered after the '
                  'leader %s (new leader %s after %.1fs)' % (
                      'died' if kill else 'stepped down', new.name, took))
        t.note('answered %.2fs after the %s' % (
            answers[0] - t0, 'kill' if kill else 'block'))
    want = {('alice', x1): ('none', 'on a follower')}
    await wait_items(fol, want)
    with t.check('replay-delivered-once'):
        for body in ('mark 1', 'mark 2'):
            n = sum(1 for st in alice.inbox.items
                    if is_msg(body, errors=False)(st))
            check(n == 1, '%r delivered %d times' % (body, n))
    if kill:
        leader.start()
        await leader.wait_ready()
    await c.wait_agree(timeout=w(30), what='agreement after the leader '
                       'came back')
    await wait_items(c.nodes, want)
    with t.check('answered-once'):
        n = sum(1 for st in alice.inbox.items[base:]
                if st.name == 'iq' and st['type'] == 'result')
        check(n == 1, 'alice got %d iq results for her one roster set' % n)


@scenario(netns=True)
async def rosterfollow(t):
    await follower_set(t, True)


@scenario(netns=True)
async def rosterstepdown(t):
    await follower_set(t, False)

MANY_USERS = ('carol', 'dave', 'erin')
MANY_ITEMS = 500        # per account: 1,500 in all
MANY_AT_ONCE = 16       # roster sets in flight per client (the core's cap)


def db_count(nd, owners):
    """How many roster items owners have in the node's database."""
    return sum(db_values(nd, 'SELECT count(*) FROM roster WHERE owner = ?',
                         [(o,) for o in owners]))


async def fill_roster(c, n):
    """Client c sets n roster items, MANY_AT_ONCE at a time."""
    for i in range(0, n, MANY_AT_ONCE):
        await asyncio.gather(*(
            roster_set(c, 'c%04d@elsewhere.example' % k, 'C %d' % k)
            for k in range(i, min(n, i + MANY_AT_ONCE))))


@scenario()
async def rostermany(t):
    c = Cluster(t, 3)
    n1, n2, n3 = c.nodes
    leader = await c.form([n1, n2])
    await c.add_users(leader)
    await c.wait_users([n1, n2])

    await c.start([n3])
    await n3.batch(c.base_lines(n3))
    clients = []
    for u in MANY_USERS:
        pw = u + 'pw1'
        await n3.ok('xmpp', 'user', 'add', u, stdin='%s\n%s\n' % (pw, pw))
        cl = Client(u, 'n3', pw)
        t.streams.append(cl)
        cl.connect((n3.addr, c.cport))
        await cl.wait_started('%s on n3' % u)
        clients.append(cl)
    t0 = time.monotonic()
    await asyncio.gather(*(fill_roster(cl, MANY_ITEMS) for cl in clients))
    total = MANY_ITEMS * len(MANY_USERS)
    check(db_count(n3, MANY_USERS) == total, 'n3 holds %d of %d items' % (
        db_count(n3, MANY_USERS), total))
    t.note('%d items set on n3 in %.1fs' % (total, time.monotonic() - t0))
    for cl in clients:
        cl.drop()

    await c.join(n3, n1, base=False)
    await c.wait_agree(what='agreement with n3 in')
    t0 = time.monotonic()

    def probe():
        seen = [db_count(nd, MANY_USERS) for nd in c.nodes]
        return all(k == total for k in seen), seen
    await until(probe, w(90), lambda seen: 'of %d roster items, the '
                'members hold %s' % (total, seen))
    t.note('merged in %.1fs' % (time.monotonic() - t0))
