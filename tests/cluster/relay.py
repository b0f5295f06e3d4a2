"""The cluster scenarios of delivery across cut forwarding links and of
presence after a node dies (issue 12, items 2 and 6). scenarios.py
imports this file; run them as any other (scenarios.py NAME).

relaycut   messages flow from a client on one follower to a client on
           the other while the TCP connections of each follower to the
           leader are killed (ss -K) twice, with a burst in flight: every
           message arrives exactly once, none comes back as an error, and
           neither session is said unavailable to the other
relaylink  a fake follower (a dead member's certificate, address and id)
           binds a session and never acknowledges its <d> frames: the
           leader numbers them per follower process, closes the stalled
           link, and sends every unacknowledged frame again, with the
           same numbers, when the same process links again; a new
           process gets none of them, and what it kept is answered to
           the senders with an error; beyond the bounds of kept frames
           (a count, and bytes) the senders are answered with an error
relaysilent (own network namespace) a follower cut off by nft rules,
           whose links never say so: the leader, no longer hearing it in
           raft, says its session is unavailable, once, within the bound
relaypres  kill -9 of a follower, then of the leader, each with a
           session of alice on it that reconnects (a new resource) on a
           survivor: bob sees exactly one unavailable presence for the
           old full JID and exactly one available for the new one
"""

import asyncio
import collections
import re
import time

from clib import (DOMAIN, Client, Cluster, Sender, check, is_msg,
                  is_presence, login, nft_heal, nft_partition, reachable,
                  run, scenario, subscribe_both, until, w, wait_bodies)
from rawpeers import FakeFollower, dead_member_cluster, s_frame

RELAY_KEEP_FRAMES = 4096    # relay.c CRELAY_KEEP_MAX
RELAY_KEEP_BYTES = 16 << 20  # relay.c CRELAY_KEEP_BYTES
RELAY_DACK_SECS = 10        # leader.c CLEAD_DACK_MS
RELAY_RELINK_SECS = 3       # leader.c CLEAD_RELINK_MS
RELAY_SILENT_SECS = 2       # leader.c CLEAD_SILENT_MS (plus the election
RELAY_ELECTION_SECS = 0.5   # timeout, cluster.h CLUSTER_ELECTION_MS)


async def kill_tcp(a, b):
    """Kill (ss -K) every TCP connection between addresses a and b; the
    number of sockets killed."""
    rc, out, err = await run(['ss', '-K', '-t', '-n', '(', 'src', a,
                              'and', 'dst', b, ')', 'or', '(', 'src', b,
                              'and', 'dst', a, ')'])
    check(rc == 0, 'ss -K: %s' % err.strip())
    return len([ln for ln in out.splitlines()[1:] if ln.strip()])


async def wait_linked(nd, timeout=None):
    """Wait until follower nd says it is linked to the leader."""
    timeout = timeout or w(10)

    async def probe():
        s = await nd.status()
        f = s.get('forwarding') or ''
        return f.startswith('linked to leader'), f
    await until(probe, timeout, lambda f: '%s not linked to the leader '
                'after %gs: %s' % (nd.name, timeout, f))


def counts(inbox, frm_bare):
    """How many times each message body from frm_bare arrived."""
    return collections.Counter(
        st['body'] for st in inbox.items
        if is_msg(frm_bare=frm_bare, errors=False)(st))


def exactly_once(inbox, sent, frm_bare):
    """Fail unless every body of sent arrived exactly once."""
    got = counts(inbox, frm_bare)
    dup = [b for b in sent if got[b] > 1]
    lost = [b for b in sent if got[b] == 0]
    check(not dup and not lost, '%d of %d messages lost (%s), %d '
          'duplicated (%s)' % (len(lost), len(sent), ' '.join(lost[:5]),
                               len(dup), ' '.join(dup[:5])))


def errors_of(inbox):
    return [st['body'] or st['id'] for st in inbox.items
            if st.name == 'message' and st['type'] == 'error']


@scenario()
async def relaycut(t):
    c = Cluster(t, 3)
    leader, (a_node, b_node), _ = await c.form_with_users()
    alice = await login(t, a_node, 'alice', 'cut')
    bob = await login(t, b_node, 'bob', 'cut')
    await subscribe_both(alice, bob)
    await reachable(alice, bob.boundjid.full)
    await wait_linked(b_node)
    since, bsince = len(alice.inbox.items), len(bob.inbox.items)
    sender = Sender(alice, bob.boundjid.full, 'across cuts', 0.004).start()
    killed = 0
    burst = []
    try:
        for i in range(4):
            # The receiver's link, then the sender's (its <s> replayed).
            cut = b_node if i % 2 == 0 else a_node
            await bob.inbox.wait(is_msg(frm_bare='alice@' + DOMAIN),
                                 'a message before cut %d' % i, take=False)
            # A burst the leader is still relaying as the link dies.
            for k in range(300):
                burst.append('burst %d.%d' % (i, k))
                alice.send_message(mto=bob.boundjid.full, mbody=burst[-1],
                                   mtype='chat')
            await bob.inbox.wait(is_msg(body=burst[-250]),
                                 'the burst under way', take=False)
            killed += await kill_tcp(cut.addr, leader.addr)
            await asyncio.sleep(0.05)   # messages sent into the cut
            await wait_linked(cut)
            await reachable(alice, bob.boundjid.full)
    finally:
        await sender.stop()
    sent = sender.bodies + burst
    t.note('%d messages, %d sockets killed' % (len(sent), killed))
    await wait_bodies(bob, sent, alice.boundjid.bare, timeout=w(20))
    with t.check('exactly-once'):
        exactly_once(bob.inbox, sent, alice.boundjid.bare)
    with t.check('none-bounced'):
        errs = errors_of(alice.inbox)
        check(not errs, '%d came back as errors: %s' % (
            len(errs), ' '.join(errs[:5])))
    with t.check('no-flap'):
        gone = [st for st in alice.inbox.items[since:]
                if is_presence('unavailable', frm=bob.boundjid.full)(st)]
        gone += [st for st in bob.inbox.items[bsince:]
                 if is_presence('unavailable', frm=alice.boundjid.full)(st)]
        check(not gone, 'a cut link\'s session was said unavailable %d '
              'times' % len(gone))


def d_frames(buf):
    """The (n, body) of each <d> frame in what a fake follower read."""
    return [(int(n), b.decode()) for n, b in re.findall(
        rb"<d[^>]* n=['\"](\d+)['\"][^>]*>.*?<body>([^<]*)</body>", buf)]


@scenario()
async def relaylink(t):
    c, n1, fake, fid = await dead_member_cluster(t)
    await c.wait_users([n1])
    alice = await login(t, n1, 'alice', 'src')
    bobjid = 'bob@%s/fake' % DOMAIN

    def follower(epoch):
        return FakeFollower(n1, fid, epoch=epoch, cert=fake.i,
                            src=fake.addr)

    async def linked(epoch):
        x = await follower(epoch).open()
        x.send("<bind jid='%s'/><synced/>" % bobjid)
        await x.wait(lambda y: b'<here' in y.buf, 'the leader\'s <here>')
        return x

    f = await linked(7001)
    n = 40
    for i in range(n):
        alice.send_message(mto=bobjid, mbody='kept %d' % i, mtype='chat')
    await f.wait(lambda x: len(d_frames(x.buf)) >= n, '%d <d> frames' % n)
    first = d_frames(f.buf)
    with t.check('numbered'):
        nums = [k for k, b in first if b.startswith('kept')]
        check(nums == sorted(nums) and len(set(nums)) == len(nums),
              'the <d> frames are not numbered in order: %s' % nums[:10])
    # Acknowledge half, then stall: the leader closes the link.
    half = [k for k, b in first if b == 'kept %d' % (n // 2 - 1)][0]
    f.send("<dack n='%d'/>" % half)
    t0 = time.monotonic()
    await f.wait(lambda x: x.eof, 'the stalled link closed',
                 timeout=w(RELAY_DACK_SECS + 5))
    t.note('stalled link closed after %.1fs' % (time.monotonic() - t0))
    f.close()
    # The same process links again: the rest comes again, once each.
    g = await linked(7001)
    want = ['kept %d' % i for i in range(n // 2, n)]
    with t.check('resent'):
        await g.wait(lambda x: set(want) <= {b for _, b in d_frames(
            x.buf)}, 'the %d unacknowledged frames again' % len(want))
        again = d_frames(g.buf)
        check(all(k > half for k, _ in again), 'acknowledged frames '
              'came again: %s' % [k for k, _ in again if k <= half][:5])
        old = dict((b, k) for k, b in first)
        moved = [b for k, b in again if b in old and old[b] != k]
        check(not moved, 'frames came again under other numbers: %s' %
              moved[:5])
    g.send("<dack n='%d'/>" % max(k for k, _ in d_frames(g.buf)))
    g.close()
    # Another process: nothing of the first comes.
    h = await linked(7002)
    with t.check('new-process-fresh'):
        check(not [b for _, b in d_frames(h.buf) if b.startswith('kept')],
              'a new process got the old process\'s frames')
    # The bound: a follower that acknowledges nothing is kept at most
    # RELAY_KEEP_FRAMES frames; beyond, the sender hears an error.
    with t.check('bound'):
        total = RELAY_KEEP_FRAMES + 50
        for i in range(total):
            alice.send_message(mto=bobjid, mbody='flood %d' % i,
                               mtype='chat')
            if i % 500 == 0:
                await asyncio.sleep(0)
        await until(lambda: (len(errors_of(alice.inbox)) >= 50, None),
                    w(20), lambda _: 'only %d errors of the %d beyond '
                    'the bound' % (len(errors_of(alice.inbox)), 50))
        got = len([1 for _, b in d_frames(h.buf) if b.startswith('flood')])
        check(got <= RELAY_KEEP_FRAMES, '%d frames kept beyond the bound'
              % got)
    h.close()
    # And RELAY_KEEP_BYTES: 200 KB messages (sent by a fake follower
    # itself, from a session of its own) to a new process that
    # acknowledges nothing: the frames stop at the bound, and the leader
    # says it refuses the rest.
    # A new process of the same node: what the last one kept is answered
    # to its senders (recipient-unavailable), not dropped.
    with t.check('gone-answered'):
        k = await linked(7003)
        flood = {b for _, b in d_frames(h.buf) if b.startswith('flood')}

        def unavailable():
            return {st['body'] for st in alice.inbox.items
                    if st.name == 'message' and st['type'] == 'error' and
                    st['error']['condition'] == 'recipient-unavailable'}
        await until(lambda: (flood <= unavailable(), None), w(20),
                    lambda _: '%d of the %d frames the old process kept '
                    'not answered' % (len(flood - unavailable()),
                                      len(flood)))
    with t.check('bound-bytes'):
        since = n1.log_size()
        src = 'alice@%s/big' % DOMAIN
        big = 'y' * 200000
        total = RELAY_KEEP_BYTES // len(big)
        k.send("<bind jid='%s'/>" % src + ''.join(
            s_frame(i + 1, src, bobjid, '%d %s' % (i, big))
            for i in range(total)))
        await until(lambda: ('refusing stanzas for it' in n1.log_text(
            since), None), w(20), lambda _: 'no refusal in the log')
        # What a frame takes counts its text and its tree: about twice
        # its length.
        least = RELAY_KEEP_BYTES // (3 * len(big))
        await k.wait(lambda x: len(d_frames(x.buf)) >= least,
                     '%d frames within the bound' % least)
        kept = sum(len(b) for _, b in d_frames(k.buf))
        check(kept <= RELAY_KEEP_BYTES, '%d bytes of bodies kept beyond '
              'the bound' % kept)
        k.close()


async def presence_once(bob, old, new, what):
    """bob sees, from alice, one unavailable for the full JID old and one
    available for new; nothing more once a message from new arrived
    after them."""
    await bob.inbox.wait(is_presence('unavailable', frm=old),
                         'unavailable of %s (%s)' % (old, what), take=False)
    await bob.inbox.wait(lambda st: is_presence(frm=new)(st) and
                         st['type'] in ('', 'available'),
                         'available of %s (%s)' % (new, what), take=False)
    marker = 'after %s' % what
    await wait_bodies(bob, [marker], 'alice@' + DOMAIN)
    un = [st for st in bob.inbox.items
          if is_presence('unavailable', frm=old)(st)]
    av = [st for st in bob.inbox.items if is_presence(frm=new)(st) and
          st['type'] in ('', 'available')]
    check(len(un) == 1 and len(av) == 1, '%s: bob saw %d unavailable of '
          '%s and %d available of %s' % (what, len(un), old, len(av), new))


@scenario()
async def relaypres(t):
    c = Cluster(t, 3)
    leader, (a_node, b_node), _ = await c.form_with_users()
    bob = await login(t, b_node, 'bob', 'watch')
    alice = await login(t, a_node, 'alice', 'one')
    await subscribe_both(alice, bob)
    old = alice.boundjid.full
    await bob.inbox.wait(lambda st: is_presence(frm=old)(st) and
                         st['type'] in ('', 'available'), 'alice/one')
    # A follower dies with alice's session; she comes back on the leader.
    # The leader waits RELAY_RELINK_SECS for the follower's link, then
    # says her old session is gone.
    t0 = time.monotonic()
    a_node.kill9()
    alice.drop()
    a2 = await login(t, leader, 'alice', 'two')
    a2.send_message(mto=bob.boundjid.full, mbody='after follower death',
                    mtype='chat')
    with t.check('follower-death'):
        await bob.inbox.wait(is_presence('unavailable', frm=old),
                             'unavailable of %s' % old, take=False,
                             timeout=RELAY_RELINK_SECS + w(10))
        took = time.monotonic() - t0
        t.note('unavailable of the dead follower\'s session after %.1fs'
               % took)
        await presence_once(bob, old, a2.boundjid.full, 'follower death')
        check(took <= RELAY_RELINK_SECS + w(2), 'the unavailable of %s '
              'came %.1fs after its node died' % (old, took))
    # The leader dies with her session; she comes back on the other
    # follower's node as soon as it is up.
    a_node.start()
    await a_node.wait_ready()
    await c.wait_agree(what='agreement after the restart')
    await wait_linked(a_node)
    leader.kill9()
    a2.drop()
    a3 = Client('alice', 'three')
    t.streams.append(a3)
    a3.connect((a_node.addr, c.cport))
    await a3.wait_started('alice/three on %s' % a_node.name)
    a3.send_presence()
    a3.send_message(mto=bob.boundjid.full, mbody='after leader death',
                    mtype='chat')
    with t.check('leader-death'):
        await presence_once(bob, a2.boundjid.full, a3.boundjid.full,
                            'leader death')


@scenario(netns=True)
async def relaysilent(t):
    c = Cluster(t, 3)
    leader, (a_node, b_node), _ = await c.form_with_users()
    bob = await login(t, b_node, 'bob', 'watch')
    alice = await login(t, a_node, 'alice', 'cutoff')
    await subscribe_both(alice, bob)
    full = alice.boundjid.full
    await bob.inbox.wait(lambda st: is_presence(frm=full)(st) and
                         st['type'] in ('', 'available'), full)
    bound = RELAY_ELECTION_SECS + RELAY_SILENT_SECS + 1 + \
        RELAY_RELINK_SECS + 1
    t0 = time.monotonic()
    await nft_partition(a_node.addr, [leader.addr, b_node.addr])
    try:
        await bob.inbox.wait(is_presence('unavailable', frm=full),
                             'unavailable of %s, cut off' % full,
                             timeout=bound + w(10), take=False)
        took = time.monotonic() - t0
        t.note('%s cut off, its session unavailable after %.1fs' % (
            a_node.name, took))
        with t.check('within-%gs' % bound):
            check(took <= bound + w(2), 'after %.1fs' % took)
    finally:
        await nft_heal()
    with t.check('once'):
        await c.wait_agree(timeout=w(30), what='agreement after healing')
        n = len([st for st in bob.inbox.items
                 if is_presence('unavailable', frm=full)(st)])
        check(n == 1, 'bob saw %s unavailable %d times' % (full, n))
