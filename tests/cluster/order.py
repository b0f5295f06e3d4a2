"""The cluster scenarios of order and of answers across a lost quorum and
a paused leader (issue 12: nothing accepted is lost, and what the server
answered with an error does not arrive later). scenarios.py imports this
file; run them as any other (scenarios.py NAME).

partorder  (own network namespace) alice on a follower sends bob (on the
           other follower) a steady stream; her node is cut off from the
           others right after a send, so that frames are on their way to
           the leader; it gives up on quorum and sends her away; she
           logs in on the leader and sends on; healed, her old node
           links again: bob's first arrivals are in the order she sent,
           and each message is delivered once or answered to her with an
           error (both at once is allowed: the leader may have routed it
           before the cut)
partrecv   (own network namespace) bob's follower is cut off while alice
           (on the other follower) sends him a steady stream; his node
           sends him away and he logs in on the leader under the same
           full JID, where what she sends next reaches him; healed: what
           the leader kept for his old node is not delivered after that
           (it is answered to alice), his first arrivals are in order
pauseorder the leader, where bob is, is paused (SIGSTOP) while alice (on
           a follower) sends bob a steady stream; a new leader is
           elected and answers what alice's node gives it for bob with
           errors, then the old leader resumes and reads what waited in
           its sockets: no message is both answered with an error and
           delivered, none is lost, none arrives twice, bob's first
           arrivals are in order
"""

import asyncio
import collections
import os
import signal
import time

from clib import (DOMAIN, Client, Cluster, Failed, check, is_msg, login,
                  nft_heal, nft_partition, reachable, scenario, until, w,
                  wait_bodies, wait_new_leader)

PERIOD = 0.02           # seconds between two messages of a stream


def spans(ns):
    """Numbers as ranges, 'a-b c-d' (the first 12)."""
    out = []
    for n in sorted(ns):
        if out and out[-1][1] == n - 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return ' '.join('%d-%d' % (a, b) if a != b else '%d' % a
                    for a, b in out[:12])


class Stream:
    """Messages 'tag N' (N counting on across sessions) from alice's
    sessions to bob's full JID."""

    def __init__(self, tag, to):
        self.tag, self.to = tag, to
        self.n = 0
        self.senders = []
        self.by = collections.defaultdict(list)

    def send(self, frm):
        """One message from session frm; its number."""
        if frm not in self.senders:
            self.senders.append(frm)
        n = self.n
        self.by[frm].append(n)
        frm.send_message(mto=self.to, mbody='%s %d' % (self.tag, n),
                         mtype='chat')
        self.n += 1
        return n

    def num(self, body):
        """N of 'tag N', or None."""
        p = (body or '').split()
        if len(p) == 2 and p[0] == self.tag and p[1].isdigit():
            return int(p[1])
        return None

    def arrivals(self, bob):
        """The numbers bob (a stream, or a list of them in the order they
        had the session) received from alice, in the order they came."""
        mine = is_msg(frm_bare='alice@' + DOMAIN, errors=False)
        bobs = bob if isinstance(bob, list) else [bob]
        return [n for b in bobs for n in (self.num(st['body'])
                                          for st in b.inbox.items
                                          if mine(st)) if n is not None]

    def errors(self):
        """How often each number came back to alice as an error."""
        return collections.Counter(
            n for s in self.senders for n in (
                self.num(st['body']) for st in s.inbox.items
                if st.name == 'message' and st['type'] == 'error')
            if n is not None)

    def judge(self, t, bob, both_ok, gone=None):
        """Check bob's first arrivals are in order and each number was
        delivered once or answered with an error (both, if both_ok). The
        session gone was sent away: what it sent after the last of its
        messages that was delivered or answered crossed the stream error
        (not accepted: the server closed the stream before reading it)."""
        got = self.arrivals(bob)
        count = collections.Counter(got)
        back = self.errors()
        crossed = []
        if gone is not None:
            last = max([n for n in self.by[gone] if count[n] or back[n]],
                       default=-1)
            crossed = [n for n in self.by[gone] if n > last]
            back.update(crossed)
        first, seen = [], set()
        for n in got:
            if n not in seen:
                seen.add(n)
                first.append(n)
        late = [(a, b) for a, b in zip(first, first[1:]) if b < a]
        lost = [n for n in range(self.n) if not count[n] and not back[n]]
        twice = [n for n in range(self.n) if count[n] > 1]
        both = [n for n in range(self.n) if count[n] and back[n]]
        t.note('%s: %d sent, %d delivered, %d answered with an error (%d '
               'of them delivered too), %d sent as the stream closed, %d '
               'lost, %d twice, %d out of order' % (
                   self.tag, self.n, len(seen), len(back) - len(crossed),
                   len(both), len(crossed), len(lost), len(twice),
                   len(late)))
        check(not late, '%s: %d first arrivals out of order, e.g. %s' % (
            self.tag, len(late), ', '.join('%d after %d' % (b, a)
                                           for a, b in late[:6])))
        check(not lost and not twice, '%s: %d neither delivered nor '
              'answered (%s), %d delivered twice (%s)' % (
                  self.tag, len(lost), spans(lost), len(twice),
                  spans(twice)))
        check(both_ok or not both, '%s: %d answered with an error and '
              'delivered all the same (%s)' % (self.tag, len(both),
                                               spans(both)))


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
        except Failed:
            c.drop()
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.2)


async def drain_through(t, nd, bob, tag):
    """A message from a new session of alice on nd reaches bob: what nd
    kept for the leader before it has been routed (one ordered link)."""
    a = await login_when_back(t, nd, 'alice', 'marker', w(30))
    await reachable(a, bob.boundjid.full, w(20))
    a.send_message(mto=bob.boundjid.full, mbody=tag, mtype='chat')
    await wait_bodies(bob, [tag], 'alice@' + DOMAIN, w(20))


@scenario(netns=True)
async def partorder(t):
    c = Cluster(t, 3)
    leader, (a_node, b_node), _ = await c.form_with_users()
    alice = await login(t, a_node, 'alice', 'cut')
    bob = await login(t, b_node, 'bob', 'order')
    await reachable(alice, bob.boundjid.full)
    s = Stream('po', bob.boundjid.full)
    for _ in range(20):
        s.send(alice)
        await asyncio.sleep(PERIOD)
    await wait_bodies(bob, ['po %d' % n for n in range(s.n)],
                      'alice@' + DOMAIN)

    # Cut right after a send: that frame and the next are on their way.
    s.send(alice)
    await nft_partition(a_node.addr, [leader.addr, b_node.addr])
    cut = time.monotonic()
    while not alice.gone.done() and time.monotonic() - cut < w(20):
        s.send(alice)
        await asyncio.sleep(PERIOD * 2)
    with t.check('sent-away'):
        check(alice.gone.done(), '%s did not send alice away %.1fs after '
              'the cut' % (a_node.name, time.monotonic() - cut))
    t.note('alice sent away %.2fs after the cut, %d messages sent' % (
        time.monotonic() - cut, s.n))
    alice.drop()

    # She goes on through the leader; those arrive before the heal.
    alice2 = await login(t, leader, 'alice', 'again')
    await reachable(alice2, bob.boundjid.full)
    newer = []
    for _ in range(20):
        newer.append(s.send(alice2))
        await asyncio.sleep(PERIOD)
    await wait_bodies(bob, ['po %d' % n for n in newer], 'alice@' + DOMAIN)

    await nft_heal()
    await c.wait_agree(timeout=w(30), what='agreement after healing')
    await drain_through(t, a_node, bob, 'po marker')
    with t.check('order-after-partition'):
        s.judge(t, bob, both_ok=True, gone=alice)
    await t.stop_all()


@scenario(netns=True)
async def partrecv(t):
    c = Cluster(t, 3)
    leader, (a_node, b_node), _ = await c.form_with_users()
    alice = await login(t, a_node, 'alice', 'send')
    bob = await login(t, b_node, 'bob', 'recv')
    to = bob.boundjid.full
    await reachable(alice, to)
    s = Stream('pr', to)
    for _ in range(10):
        s.send(alice)
        await asyncio.sleep(PERIOD)
    await wait_bodies(bob, ['pr %d' % n for n in range(s.n)],
                      'alice@' + DOMAIN)

    # Bob's node is cut off while alice sends on: the leader keeps what
    # it routed to bob there; his node sends him away, he comes back on
    # the leader under the same full JID and gets what she sends next.
    await nft_partition(b_node.addr, [leader.addr, a_node.addr])
    cut = time.monotonic()
    sender = asyncio.ensure_future(steady(s, alice))
    try:
        try:
            await asyncio.wait_for(asyncio.shield(bob.gone), w(20))
        except asyncio.TimeoutError:
            pass
        with t.check('sent-away'):
            check(bob.gone.done(), '%s did not send bob away %.1fs after '
                  'the cut' % (b_node.name, time.monotonic() - cut))
        bob.drop()
        bob2 = await login(t, leader, 'bob', 'recv')
        at = s.n
        await wait_event_n(bob2, s, at + 10)
    finally:
        sender.cancel()
    t.note('bob sent away and back on %s, %d messages sent' % (
        leader.name, s.n))

    await nft_heal()
    await c.wait_agree(timeout=w(30), what='agreement after healing')
    await drain_through(t, b_node, bob2, 'pr marker')
    with t.check('order-after-partition'):
        s.judge(t, [bob, bob2], both_ok=True)
    await t.stop_all()


async def wait_event_n(bob, s, n):
    """Wait (bounded) until bob has received a message numbered n or
    more from s."""
    def probe():
        got = s.arrivals(bob)
        return bool(got) and max(got) >= n, got[-3:]
    await until(probe, w(15), lambda seen: '%s: no message %d or later '
                '(last: %s)' % (bob.inbox.who, n, seen))


@scenario()
async def pauseorder(t):
    c = Cluster(t, 3)
    leader, (a_node, b_node), _ = await c.form_with_users()
    alice = await login(t, a_node, 'alice', 'pause')
    bob = await login(t, leader, 'bob', 'order')
    await reachable(alice, bob.boundjid.full)
    s = Stream('pz', bob.boundjid.full)
    for _ in range(10):
        s.send(alice)
        await asyncio.sleep(PERIOD)

    # Pause the leader (bob's node) in the middle of the stream: what
    # alice sends meanwhile waits in its sockets; a new leader takes
    # over, gets it from alice's node and answers it with errors (bob's
    # session died with the old leader, as far as it knows).
    os.kill(leader.proc.pid, signal.SIGSTOP)
    paused = time.monotonic()
    try:
        await until(lambda: (stopped(leader.proc.pid), None), w(5),
                    '%s to stop' % leader.name, step=0.005)
        for _ in range(5):
            s.send(alice)
        sender = asyncio.ensure_future(steady(s, alice))
        new, took = await wait_new_leader([a_node, b_node], paused, w(20))
        t.note('%s paused, %s LEADER after %.2fs' % (leader.name, new.name,
                                                      took))

        def answered():
            return bool(s.errors()), None
        try:
            await until(answered, w(5), 'errors from the new leader')
        except Failed:
            t.note('no error came back before the old leader resumed')
        sender.cancel()
    finally:
        os.kill(leader.proc.pid, signal.SIGCONT)
    t.note('resumed after %.2fs, %d sent' % (time.monotonic() - paused,
                                              s.n))
    # The old leader reads what waited in its sockets, and steps down.
    await c.wait_agree(timeout=w(30), what='agreement after the pause')
    await reachable(alice, bob.boundjid.full, w(20))
    for _ in range(10):
        s.send(alice)
        await asyncio.sleep(PERIOD)
    await drain_through(t, a_node, bob, 'pz marker')

    def settled():
        back = s.errors()
        have = set(s.arrivals(bob))
        return all(n in have or back[n] for n in range(s.n)), None
    try:
        await until(settled, w(10), 'every message accounted for')
    except Failed:
        pass                # judge says which
    with t.check('no-answer-then-delivery'):
        s.judge(t, bob, both_ok=False)
    await t.stop_all()


def stopped(pid):
    """Whether process pid is stopped (by a signal)."""
    with open('/proc/%d/stat' % pid) as f:
        return f.read().rsplit(')', 1)[1].split()[0] == 'T'


async def steady(s, frm):
    """frm sends s's messages every PERIOD seconds until cancelled."""
    while True:
        s.send(frm)
        await asyncio.sleep(PERIOD)
