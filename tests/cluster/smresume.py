"""The cluster scenarios of stream management (issue 13): a client with
resumable SM whose node dies resumes on a survivor, and gets every
message the cluster accepted for it exactly once, in order.
scenarios.py imports this file; run them as any other (scenarios.py
NAME).

smfollower  bob (a raw SM client) on follower B, alice on follower A
            and on the leader sending him numbered chat messages;
            kill -9 of B; bob resumes on A: <resumed/>, and each
            message not answered to its sender with an error arrives
            exactly once, in order per sender
smleader    the same with bob on the leader and the leader killed -9;
            bob resumes on a follower once the new leader leads
smtolead    bob on follower B, B killed -9, bob resumes on the leader
smmove      bob on follower B loses his connection (B lives), resumes on
            follower A: B drops the session silently (<smdrop>)
smnoleader  bob resumes on a follower whose leader died with bob's node:
            <failed/> once MMPD_SM_PENDING_MS is over
smreseed    bob on follower B, the leader killed: B registers him with
            the new leader (counters, unacknowledged stanzas); then B
            killed too: bob resumes elsewhere, everything exactly once
smpending   bob's connection drops (B lives), the leader is killed and
            bob resumes on A at once: it waits for the next leader
smabandon   bob's node dies; he resumes on A and leaves at once: the
            session hibernates at the leader again and ends in time
smtimeout   bob on follower B, B killed -9, bob comes back only after
            the resumption timeout (MMPD_SM_RESUME_SECS, short here):
            <failed/>; what was sent to him meanwhile went to his
            account's offline storage: he logs in on another node and
            gets it as offline messages (delay stamps), in order, once
"""

import asyncio
import collections
import os
import socket
import sys
import threading
import time

from clib import (DOMAIN, Cluster, Failed, Sender, check, login, scenario,
                  until, w, wait_new_leader)

# Last on the path: tests/interop's modules must not hide the scenarios'.
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             '..', 'interop'))
import ixlib  # noqa: E402
from offline import login_delay  # noqa: E402

NS_SM = 'urn:xmpp:sm:3'
NS_CLIENT = 'jabber:client'
RESUME_SECS = 4             # MMPD_SM_RESUME_SECS of smtimeout
FORGET = 5                  # stanzas bob "did not get" before the kill
PENDING_MS = 1500           # MMPD_SM_PENDING_MS of smnoleader


class SMClient(ixlib.Raw):
    """A raw client of node nd (TLS, SASL PLAIN, bind) that speaks
    XEP-0198 by hand: it counts what it handles (h), answers <r/>, and
    keeps the bodies of the chat messages it gets, in order."""

    def __init__(self, nd, timeout=None):
        self.timeout = timeout or w(10)
        self.sock = socket.create_connection(
            (nd.addr, nd.cluster.cport), self.timeout, (nd.addr, 0))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.localport = self.sock.getsockname()[1]
        self.out = b''
        self.closed = None
        self.tls = False
        self.ended = False
        self.restart()
        self.h = 0
        self.bodies = []
        self.other = []
        self.handled = []           # every stanza handled, in order
        self.noack = False          # leave <r/> unanswered

    def drop(self):
        """Close the socket (the scenario's end)."""
        self.close()

    def login(self, user):
        """STARTTLS and SASL PLAIN as user; the features after auth."""
        self.open()
        self.starttls()
        self.open()
        check(self.auth_plain(user, ixlib.USERS[user]),
              'authentication failed')
        return self.open()

    def enable(self):
        """Enable SM with resume: the id."""
        self.send("<enable xmlns='%s' resume='true'/>" % NS_SM)
        el = self.next(what='<enabled/>')
        check(el.tag == '{%s}enabled' % NS_SM,
              'no <enabled/>: %s' % ixlib.tostr(el))
        check(el.get('id'), '<enabled/> without an id')
        return el.get('id')

    def resume(self, previd, h):
        """<resume/>: the server's answer (resumed or failed)."""
        self.send("<resume xmlns='%s' previd='%s' h='%d'/>" %
                  (NS_SM, previd, h))
        while True:
            el = self.next(what='<resumed/> or <failed/>')
            if ixlib.ns(el.tag) == NS_SM and ixlib.local(el.tag) in (
                    'resumed', 'failed'):
                return el
            self.handle(el)

    def handle(self, el):
        """A stanza or SM element from the server."""
        if ixlib.ns(el.tag) == NS_SM:
            if ixlib.local(el.tag) == 'r' and not self.noack:
                self.push("<a xmlns='%s' h='%d'/>" % (NS_SM, self.h))
            return
        if ixlib.ns(el.tag) != NS_CLIENT:
            return
        self.h = (self.h + 1) % (1 << 32)
        self.handled.append(el)
        b = el.find('{%s}body' % NS_CLIENT)
        if ixlib.local(el.tag) == 'message' and b is not None and \
                el.get('type') != 'error':
            self.bodies.append(b.text)
        else:
            self.other.append(el)

    def forget(self, n):
        """Un-handle the last n stanzas (as if they never arrived): the
        server must send them again on resumption."""
        for _ in range(n):
            el = self.handled.pop()
            self.h = (self.h - 1) % (1 << 32)
            b = el.find('{%s}body' % NS_CLIENT)
            if ixlib.local(el.tag) == 'message' and b is not None and \
                    el.get('type') != 'error':
                i = len(self.bodies) - 1 - self.bodies[::-1].index(b.text)
                del self.bodies[i]

    def ack(self):
        """Acknowledge what was handled."""
        self.push("<a xmlns='%s' h='%d'/>" % (NS_SM, self.h))

    def read_until(self, pred, timeout, what):
        """Handle what comes until pred() or the stream closes; fails on
        timeout."""
        deadline = time.monotonic() + timeout
        while not pred():
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failed('timed out after %gs waiting for %s' %
                              (timeout, what))
            try:
                el = self.next(min(left, 0.5), what)
            except Failed:
                continue
            except ixlib.Closed:
                return False
            self.handle(el)
        return True


class Reader:
    """Runs an SMClient's reading in a thread until stopped or closed."""

    def __init__(self, c):
        self.c = c
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.error = None
        self.thread.start()

    def _run(self):
        try:
            while not self.stop.is_set() and not self.c.closed and \
                    not self.c.ended:
                self.c.read_until(lambda: self.stop.is_set(), w(60),
                                  'the end')
        except Exception as e:  # noqa: BLE001 (reported by join)
            self.error = e

    async def join(self, drain=False):
        """Stop reading (drain: read on until the server closes, bounded)
        and wait for the thread."""
        if not drain:
            self.stop.set()
        await asyncio.to_thread(self.thread.join, w(10))
        self.stop.set()
        await asyncio.to_thread(self.thread.join, w(10))
        if self.error is not None and not self.c.closed:
            raise Failed('SM client: %s' % self.error)


async def sm_login(nd, user, resource):
    """An SM client of node nd: bound, SM enabled with resume, initial
    presence sent. (client, its full JID, its SM id)"""
    def go():
        c = SMClient(nd)
        feats = c.login(user)
        check(feats.find('{%s}sm' % NS_SM) is not None,
              'no <sm/> in the features after authentication on %s: %s' %
              (nd.name, ixlib.tostr(feats)))
        jid = c.bind(resource)
        smid = c.enable()
        c.send('<presence/>')
        return c, jid, smid
    return await asyncio.to_thread(go)


async def sm_resume(nd, user, previd, h):
    """A new stream on node nd resumes previd at h: (client, answer)."""
    def go():
        c = SMClient(nd)
        c.login(user)
        c.h = h
        return c, c.resume(previd, h)
    return await asyncio.to_thread(go)


def accepted(sender, inbox_items):
    """The bodies of sender not answered with an error (to its inbox)."""
    back = {st['body'] for st in inbox_items
            if st.name == 'message' and st['type'] == 'error'}
    return [b for b in sender.bodies if b not in back]


def exactly_once(got, senders, errors_of):
    """Problems: each accepted body of each sender must be in got once,
    and the first arrivals of each sender in its order."""
    probs = []
    count = collections.Counter(got)
    for s in senders:
        acc = accepted(s, errors_of[s])
        if len(acc) != len(s.bodies):
            probs.append('%d of %d from %s answered with an error' % (
                len(s.bodies) - len(acc), len(s.bodies), s.prefix))
        lost = [b for b in acc if count[b] == 0]
        dup = [b for b in acc if count[b] > 1]
        if lost:
            probs.append('%d of %d accepted from %s lost: %s' % (
                len(lost), len(acc), s.prefix, ' '.join(lost[:8])))
        if dup:
            probs.append('%d from %s arrived twice: %s' % (
                len(dup), s.prefix, ' '.join(dup[:8])))
        seq = [int(b.split()[-1]) for b in got
               if b.startswith(s.prefix + ' ')]
        firsts = []
        for n in seq:
            if n not in firsts:
                firsts.append(n)
        bad = [(a, b) for a, b in zip(firsts, firsts[1:]) if b < a]
        if bad:
            probs.append('%d pairs from %s out of order: %s' % (
                len(bad), s.prefix, ' '.join('%d after %d' % (b, a)
                                             for a, b in bad[:5])))
    return probs


async def kill_and_resume(t, c, leader, dead, survivor, senders, errs,
                          smid, resume_on, wait_leader=None, keep=None,
                          stop=None):
    """With bob's SM client c on node dead and senders running: wait for
    some messages, kill -9 dead (None: drop bob's connection, his node
    lives), let the senders go on a little, resume on resume_on; then
    check exactly once. bob "loses" his last FORGET stanzas (all after
    the first keep he handled, if keep is given); stop, if given, ends
    his node instead of kill -9 (awaited). Returns the new client."""
    reader = Reader(c)
    await until(lambda: (len(c.bodies) >= 30, len(c.bodies)), w(20),
                lambda n: 'bob got %s messages before the kill' % n)
    # The last ones unacknowledged: what the server keeps must cover them.
    c.noack = True
    await until(lambda: (len(c.bodies) >= 40, len(c.bodies)), w(20),
                lambda n: 'bob got %s messages before the kill' % n)
    t0 = time.monotonic()
    if stop is not None:
        await stop()
        await reader.join(drain=True)
    elif dead is not None:
        dead.kill9()
        await reader.join(drain=True)
    else:
        await reader.join()
        c.close()
    # "lost in flight": resent on resumption
    c.forget(FORGET if keep is None else len(c.handled) - keep)
    h = c.h
    n_before = len(c.bodies)
    if wait_leader is not None:
        await wait_leader()
    # What goes on meanwhile is for the mirror.
    marks = [len(s.bodies) for s in senders]
    await until(lambda: (all(len(s.bodies) >= m + 10 for s, m in
                             zip(senders, marks)), None), w(20),
                lambda _: 'the senders did not go on')
    c2, ans = await sm_resume(resume_on, 'bob', smid, h)
    took = time.monotonic() - t0
    check(ixlib.local(ans.tag) == 'resumed', '%s: no <resumed/>: %s' % (
        resume_on.name, ixlib.tostr(ans)))
    c2.bodies = list(c.bodies)
    reader2 = Reader(c2)
    await asyncio.sleep(0)
    for s in senders:
        await s.stop()
    # Errors for what was refused come back quickly; then every
    # accepted message must arrive.

    def settled():
        want = sum(len(accepted(s, errs[s])) for s in senders)
        return len(c2.bodies) >= want, (len(c2.bodies), want)
    try:
        await until(settled, w(20), lambda v: 'bob has %d of %d' % v)
    except Failed:
        pass
    await reader2.join()
    probs = exactly_once(c2.bodies, senders, errs)
    sent = sum(len(s.bodies) for s in senders)
    acc = sum(len(accepted(s, errs[s])) for s in senders)
    t.note('%d sent, %d accepted, %d before the kill, %d after; resumed '
           '%.2fs after the kill' % (sent, acc, n_before,
                                     len(c2.bodies) - n_before, took))
    check(not probs, '; '.join(probs))
    return c2


@scenario()
async def smfollower(t):
    c = Cluster(t, 3)
    leader, (a, b), _ = await c.form_with_users()
    alice_a = await login(t, a, 'alice', 'a')
    alice_l = await login(t, leader, 'alice', 'l')
    bob, jid, smid = await sm_login(b, 'bob', 'sm')
    t.streams.append(bob)
    senders = [Sender(alice_a, jid, 'fa', 0.02).start(),
               Sender(alice_l, jid, 'fl', 0.02).start()]
    errs = {senders[0]: alice_a.inbox.items, senders[1]: alice_l.inbox.items}
    bob2 = await kill_and_resume(t, bob, leader, b, a, senders, errs, smid,
                                 a)
    t.streams.append(bob2)


@scenario()
async def smtolead(t):
    """bob on follower B, B killed -9, bob resumes on the leader."""
    c = Cluster(t, 3)
    leader, (a, b), _ = await c.form_with_users()
    alice_a = await login(t, a, 'alice', 'a')
    alice_l = await login(t, leader, 'alice', 'l')
    bob, jid, smid = await sm_login(b, 'bob', 'sm')
    t.streams.append(bob)
    senders = [Sender(alice_a, jid, 'fa', 0.02).start(),
               Sender(alice_l, jid, 'fl', 0.02).start()]
    errs = {senders[0]: alice_a.inbox.items, senders[1]: alice_l.inbox.items}
    bob2 = await kill_and_resume(t, bob, leader, b, leader, senders, errs,
                                 smid, leader)
    t.streams.append(bob2)


@scenario()
async def smmove(t):
    """bob on follower B loses his connection (B lives: his session
    hibernates there) and resumes on follower A: B drops it silently."""
    c = Cluster(t, 3)
    leader, (a, b), _ = await c.form_with_users()
    alice_a = await login(t, a, 'alice', 'a')
    alice_l = await login(t, leader, 'alice', 'l')
    bob, jid, smid = await sm_login(b, 'bob', 'sm')
    t.streams.append(bob)
    senders = [Sender(alice_a, jid, 'fa', 0.02).start(),
               Sender(alice_l, jid, 'fl', 0.02).start()]
    errs = {senders[0]: alice_a.inbox.items, senders[1]: alice_l.inbox.items}
    bob2 = await kill_and_resume(t, bob, leader, None, a, senders, errs,
                                 smid, a)
    t.streams.append(bob2)
    with t.check('dropped-on-old-node'):
        await until(lambda: ('resumed elsewhere' in b.log_text(), None),
                    w(10), 'B to drop the session that moved')


@scenario()
async def smleader(t):
    c = Cluster(t, 3)
    leader, (a, b), _ = await c.form_with_users()
    alice_a = await login(t, a, 'alice', 'a')
    alice_b = await login(t, b, 'alice', 'b')
    bob, jid, smid = await sm_login(leader, 'bob', 'sm')
    t.streams.append(bob)
    senders = [Sender(alice_a, jid, 'fa', 0.02).start(),
               Sender(alice_b, jid, 'fb', 0.02).start()]
    errs = {senders[0]: alice_a.inbox.items, senders[1]: alice_b.inbox.items}

    async def new_leader():
        await wait_new_leader([a, b], time.monotonic(), w(10))
    bob2 = await kill_and_resume(t, bob, leader, leader, a, senders, errs,
                                 smid, a, new_leader)
    t.streams.append(bob2)


@scenario()
async def smtimeout(t):
    """(The docstring of this file.) Then bob logs in (no resumption)
    on a third node: what he did not acknowledge comes as offline
    messages, each with a delay stamp, in order, once."""
    os.environ['MMPD_SM_RESUME_SECS'] = str(RESUME_SECS)
    c = Cluster(t, 3)
    leader, (a, b), _ = await c.form_with_users()
    alice = await login(t, a, 'alice', 'a')
    bob, jid, smid = await sm_login(b, 'bob', 'sm')
    t.streams.append(bob)
    reader = Reader(bob)
    s = Sender(alice, jid, 'ft', 0.02).start()
    await until(lambda: (len(bob.bodies) >= 10, len(bob.bodies)), w(20),
                lambda n: 'bob got %s messages before the kill' % n)
    b.kill9()
    await reader.join(drain=True)
    h = bob.h
    before = list(bob.bodies)
    await asyncio.sleep(0.5)
    await s.stop()
    # The hibernating session ends after RESUME_SECS at the leader: what
    # bob did not acknowledge goes to his account's offline storage.
    start = time.monotonic()
    await until(lambda: ('did not resume in time' in leader.log_text(),
                         None), w(RESUME_SECS + 15),
                'the leader to end bob\'s hibernating session')
    waited = time.monotonic() - start
    acc = accepted(s, alice.inbox.items)
    check(len(acc) == len(s.bodies), '%d of %d messages to the '
          'hibernating session answered with an error' % (
              len(s.bodies) - len(acc), len(s.bodies)))
    missing = [x for x in acc if x not in before]
    c2, ans = await sm_resume(a, 'bob', smid, h)
    t.streams.append(c2)
    check(ixlib.local(ans.tag) == 'failed', 'resumed after the timeout: %s'
          % ixlib.tostr(ans))
    # bob back, on another node: the offline messages, with delay stamps.
    bob2 = await login_delay(t, a, 'bob', 'back')

    def got_all():
        have = [st['body'] for st in bob2.inbox.items
                if st.name == 'message' and st['body']]
        return all(m in have for m in missing), len(have)
    await until(got_all, w(15), lambda n: 'bob has %d offline messages; '
                '%d were missing' % (n, len(missing)))
    got = [st for st in bob2.inbox.items
           if st.name == 'message' and st['body']]
    bodies = [st['body'] for st in got]
    extra = [x for x in bodies if x not in missing and x not in before]
    twice = [x for x in set(bodies) if bodies.count(x) > 1]
    nums = [int(x.split()[-1]) for x in bodies]
    check(not extra and not twice and nums == sorted(nums),
          'offline messages: %s' % bodies)
    undated = [st['body'] for st in got if st['delay']['stamp'] is None or
               st['delay']['from'] is None or
               st['delay']['from'].bare != DOMAIN]
    check(not undated, 'offline messages without a delay stamp from %s: '
          '%s' % (DOMAIN, undated))
    t.note('%d accepted, %d unacknowledged stored offline, the session '
           'ended %.1fs after the kill; %d offline messages on login '
           'elsewhere' % (len(acc), len(missing), waited, len(bodies)))


@scenario()
async def smnoleader(t):
    """bob on follower B; the leader and B are killed -9: bob resumes on
    A, which has no leader to ask: <failed><item-not-found/> once
    MMPD_SM_PENDING_MS is over, not a stream held for ever (and before
    A gives up on quorum and closes its streams)."""
    os.environ['MMPD_SM_PENDING_MS'] = str(PENDING_MS)
    c = Cluster(t, 3)
    leader, (a, b), _ = await c.form_with_users()
    bob, jid, smid = await sm_login(b, 'bob', 'sm')
    t.streams.append(bob)
    leader.kill9()
    b.kill9()
    t0 = time.monotonic()
    c2, ans = await sm_resume(a, 'bob', smid, 0)
    took = time.monotonic() - t0
    t.streams.append(c2)
    check(ixlib.local(ans.tag) == 'failed' and
          ans.find('{urn:ietf:params:xml:ns:xmpp-stanzas}item-not-found')
          is not None, 'no <failed><item-not-found/>: %s' %
          ixlib.tostr(ans))
    check(took >= PENDING_MS / 1000.0, '<failed/> after %.2fs, before '
          'the %d ms a resumption waits for a leader' % (took, PENDING_MS))
    t.note('<failed/> %.2fs after the kill' % took)


@scenario()
async def smreseed(t):
    """bob on follower B of 5 nodes; the leader is killed -9: B registers
    bob with the new leader with his counters and unacknowledged stanzas;
    then B is killed -9 too and bob resumes on another survivor: every
    accepted message exactly once, in order."""
    c = Cluster(t, 5)
    leader, others, _ = await c.form_with_users()
    b = others[0]
    a, x = others[1], others[2]
    alice_a = await login(t, a, 'alice', 'a')
    alice_x = await login(t, x, 'alice', 'x')
    bob, jid, smid = await sm_login(b, 'bob', 'sm')
    t.streams.append(bob)
    reader = Reader(bob)
    senders = [Sender(alice_a, jid, 'fa', 0.02).start(),
               Sender(alice_x, jid, 'fx', 0.02).start()]
    errs = {senders[0]: alice_a.inbox.items, senders[1]: alice_x.inbox.items}
    await until(lambda: (len(bob.bodies) >= 20, len(bob.bodies)), w(20),
                lambda n: 'bob got %s messages before the leader died' % n)
    bob.noack = True            # what follows waits for bob's ack
    kept = len(bob.handled)
    leader.kill9()
    newl, _ = await wait_new_leader([a, b, x, others[3]], time.monotonic(),
                                    w(10))
    n0 = len(bob.bodies)
    await until(lambda: (len(bob.bodies) >= n0 + 20, len(bob.bodies)),
                w(20), lambda n: 'bob got %s messages after the new '
                'leader' % n)
    await reader.join()
    t.note('new leader %s' % newl)
    if newl is b:
        t.note('bob\'s node leads: his session is one of the leader\'s')
    survivor = a if newl is not a else x
    # bob lost all the old leader sent: only B's registration has it.
    bob2 = await kill_and_resume(t, bob, None, b, survivor, senders, errs,
                                 smid, survivor, keep=kept)
    t.streams.append(bob2)


@scenario()
async def smpending(t):
    """bob on follower B loses his connection (his session hibernates on
    B); the leader is killed -9 and bob at once resumes on A, which has
    no leader yet: the resumption waits for the next leader (A or B;
    if A, for B to register bob with it) and succeeds, everything
    exactly once."""
    c = Cluster(t, 3)
    leader, (a, b), _ = await c.form_with_users()
    alice_a = await login(t, a, 'alice', 'a')
    alice_b = await login(t, b, 'alice', 'b')
    bob, jid, smid = await sm_login(b, 'bob', 'sm')
    t.streams.append(bob)
    senders = [Sender(alice_a, jid, 'fa', 0.02).start(),
               Sender(alice_b, jid, 'fb', 0.02).start()]
    errs = {senders[0]: alice_a.inbox.items, senders[1]: alice_b.inbox.items}
    reader = Reader(bob)
    await until(lambda: (len(bob.bodies) >= 20, len(bob.bodies)), w(20),
                lambda n: 'bob got %s messages' % n)
    await reader.join()
    bob.close()
    leader.kill9()
    t0 = time.monotonic()
    bob2, ans = await sm_resume(a, 'bob', smid, bob.h)
    took = time.monotonic() - t0
    t.streams.append(bob2)
    check(ixlib.local(ans.tag) == 'resumed', 'no <resumed/>: %s' %
          ixlib.tostr(ans))
    newl, _ = await wait_new_leader([a, b], time.monotonic(), w(10))
    bob2.bodies = list(bob.bodies)
    reader2 = Reader(bob2)
    await until(lambda: (len(bob2.bodies) >= len(bob.bodies) + 20, None),
                w(20), lambda _: 'bob got nothing after resuming')
    for s in senders:
        await s.stop()

    def settled():
        want = sum(len(accepted(s, errs[s])) for s in senders)
        return len(bob2.bodies) >= want, (len(bob2.bodies), want)
    try:
        await until(settled, w(20), lambda v: 'bob has %d of %d' % v)
    except Failed:
        pass
    await reader2.join()
    probs = exactly_once(bob2.bodies, senders, errs)
    t.note('new leader %s; <resumed/> %.2fs after the kill; %d messages'
           % (newl, took, len(bob2.bodies)))
    check(not probs, '; '.join(probs))


@scenario()
async def smabandon(t):
    """bob on follower B, B killed -9; bob sends <resume/> on A and goes
    at once (his new stream is gone when the answer comes): the session
    hibernates at the leader again, and ends after the resume time like
    any other: what was sent to it reaches his account, no error."""
    os.environ['MMPD_SM_RESUME_SECS'] = str(RESUME_SECS)
    c = Cluster(t, 3)
    leader, (a, b), _ = await c.form_with_users()
    alice = await login(t, a, 'alice', 'a')
    bob_other = await login(t, leader, 'bob', 'other')
    bob, jid, smid = await sm_login(b, 'bob', 'sm')
    t.streams.append(bob)
    reader = Reader(bob)
    s = Sender(alice, jid, 'fb', 0.02).start()
    await until(lambda: (len(bob.bodies) >= 10, len(bob.bodies)), w(20),
                lambda n: 'bob got %s messages before the kill' % n)
    b.kill9()
    await reader.join(drain=True)
    before = list(bob.bodies)

    def abandon():
        c2 = SMClient(a)
        c2.login('bob')
        c2.push("<resume xmlns='%s' previd='%s' h='%d'/>" %
                (NS_SM, smid, bob.h))
        c2.pump(lambda: not c2.out, w(5), 'the <resume/> written')
        c2.close()
    await asyncio.to_thread(abandon)
    with t.check('answered-for-nobody'):
        await until(lambda: ('csm_resumed' in a.log_text() or
                             'resumes here' in a.log_text(), None),
                    w(10), 'the leader to answer the abandoned resume')
    await asyncio.sleep(0)
    await s.stop()
    acc = accepted(s, alice.inbox.items)
    missing = [x for x in acc if x not in before]

    def other_has():
        have = [st['body'] for st in bob_other.inbox.items
                if st.name == 'message' and st['body']]
        return all(m in have for m in missing), len(missing)
    await until(other_has, w(RESUME_SECS + 15),
                lambda n: '%d messages never reached bob\'s account' % n)
    check(len(acc) == len(s.bodies), '%d of %d messages answered with an '
          'error' % (len(s.bodies) - len(acc), len(s.bodies)))
    t.note('%d accepted, %d went to the account' % (len(acc), len(missing)))
