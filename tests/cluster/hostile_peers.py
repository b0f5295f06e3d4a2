"""The cluster scenarios with peers that misbehave: the cluster port and
the members against connections that idle, trickle or flood, against
certificates that chain to the cluster's CA but are no member's, a fake
member or leader, and requests a member may not make. scenarios.py
imports this file; run them as any other (scenarios.py NAME).

guard      the cluster port and the leader against peers that misbehave
           (a dead member's certificate, address and id for the links):
           idle connections from one address do not keep a node out,
           refused sockets go in time however they trickle, a follower
           that links again is not routed twice, and the sessions of its
           old link neither flap nor linger
outsider   certificates that chain to the cluster's CA but are no
           member's (one for nodes, one without extended key usage, one
           for servers only, a removed member's) cannot speak for the
           leader, replace a password, remove a member or forward a
           message "from alice"; each refusal is logged
slots      more idle connections to the leader's cluster port than it
           has handshake slots, from as many addresses, kept up all the
           time: a member restarts and the cluster agrees again; idle
           connections that never start TLS go within a few seconds
viewlimits the view's limits: a member that accepts connections but never
           answers (SIGSTOP) costs a status or a user list one second, not
           more, and is marked unreachable; a fake member (a dead one's
           certificate, address and id) that answers VIEW with 300 KiB and
           no end of line is cut off at 256 KiB and named, and the asking
           node serves on
takeover   what a member's certificate, or another one from a member's
           address, cannot do: a follower's REMOVED makes no one leave; a
           member cannot APPLY the leader's entries (member, forget, init)
           or another node's (digests, published); a JOIN with another
           certificate under a member's id, or a new id at its address,
           is refused, and the fake link as that member after it too; a
           removed member's open request channel takes no APPLY, and it
           joins again only after xmpp cluster trust on the leader
dialcheck  40 status commands leave no descriptors behind on any member;
           with the leader killed, an outsider certificate listening on
           its address (answering as another id, and as the leader's)
           gets no forwarding link, no VIEW and no APPLY from the followers;
           a joining node prints its ERR text without control characters

"""

import asyncio
import contextlib
import os
import re
import signal
import time

from clib import (DOMAIN, TIMERS, Cluster, Status, check,
                  is_presence, login, make_node_cert, node_ids,
                  password_works, scenario, until, w, wait_bodies,
                  wait_new_leader)
from rawpeers import (PORT_LINGERS, PORT_PENDING,
                      PORT_PENDING_PER_ADDRESS, PORT_PRETLS_SECS,
                      FakeFollower, Squatters, dead_member_cluster, node_tls, open_fds,
                      port_hello, port_talk, raw_conn, s_frame, scram_blob,
                      settled_fds, wait_fds, wait_peer_closed)
from xmpptest import server_context


@scenario()
async def guard(t):
    # The leader's links are tested with a fake follower: a member that
    # died, whose certificate, address and id the test then speaks with.
    c, n1, fake, fid = await dead_member_cluster(t)
    base = await settled_fds(n1)

    def follower(epoch=None):
        return FakeFollower(n1, fid, epoch=epoch, cert=fake.i,
                            src=fake.addr)
    hello = 'MMPC1 req 0000000000000000 127.0.0.6:1 -'

    with t.check('idle-connections-do-not-keep-nodes-out'):
        squat = [raw_conn(n1, '127.0.0.7') for _ in range(64)]
        try:
            await wait_peer_closed(squat, 64 - PORT_PENDING_PER_ADDRESS,
                                   'connections from 127.0.0.7 beyond '
                                   'its share refused')
            said = await port_hello(n1, '127.0.0.6', hello)
            check(said.startswith('MMPC1 OK'), 'with 64 idle connections '
                  'from 127.0.0.7, a node from 127.0.0.6: %s' % said)
        finally:
            for s in squat:
                s.close()
        await wait_fds(n1, lambda n: n <= base + 4, 'idle connections gone')

    with t.check('refused-sockets-go-in-time'):
        before = open_fds(n1)
        junk = [raw_conn(n1, '127.0.2.%d' % (i // 4 + 1), b'\0' * 16)
                for i in range(100)]

        def trickle():
            for s in junk:
                try:
                    s.send(b'x')
                except OSError:
                    pass
        try:
            await wait_peer_closed(junk, len(junk), 'TLS junk refused')
            n = open_fds(n1) - before
            check(n <= PORT_LINGERS + 2, '%d refused sockets linger, '
                  'more than %d' % (n, PORT_LINGERS))
            await wait_fds(n1, lambda k: k <= base + 4, 'refused sockets '
                           'closed while their peers trickle bytes',
                           tick=trickle)
        finally:
            for s in junk:
                s.close()

    with t.check('relinked-follower-not-routed-twice'):
        bob = await login(t, n1, 'bob', 'r')
        f1 = 'alice@%s/f1' % DOMAIN
        to = bob.boundjid.full
        bind = "<bind jid='%s'/><synced/>" % f1
        f = await follower(epoch=12345).open()
        f.send(bind + ''.join(s_frame(i, f1, to, b) for i, b in
                              ((1, 'one'), (2, 'two'), (3, 'three'))))
        await f.wait(lambda x: x.acked() == 3, '<ack> of 3')
        f.close()
        # Its process links again and sends 2 and 3 again, unacknowledged
        # as far as it knows; then it restarts and counts from 1.
        f = await follower(epoch=12345).open()
        f.send(bind + ''.join(s_frame(i, f1, to, b) for i, b in
                              ((2, 'two'), (3, 'three'), (4, 'four'))))
        await f.wait(lambda x: x.acked() == 4, '<ack> of 4')
        f.close()
        f = await follower(epoch=999).open()
        f.send(bind + s_frame(1, f1, to, 'restarted'))
        got = await wait_bodies(bob, ['one', 'two', 'three', 'four',
                                      'restarted'], 'alice@' + DOMAIN)
        f.close()
        check(got == ['one', 'two', 'three', 'four', 'restarted'],
              'bob got %s' % got)

    with t.check('relinked-follower-sessions-do-not-flap'):
        al = await login(t, n1, 'alice', 'real')
        await al.inbox.wait(is_presence('available', frm=al.boundjid.full),
                            'alice/real available')
        fa, fb = 'alice@%s/fa' % DOMAIN, 'alice@%s/fb' % DOMAIN
        pres = "<presence xmlns='jabber:client'><status>up</status>" \
            "</presence>"
        old = await follower().open()
        old.send("<bind jid='%s'>%s</bind><bind jid='%s'>%s</bind>"
                 "<synced/>" % (fa, pres, fb, pres))
        await al.inbox.wait(is_presence('available', frm=fb),
                            'presence of %s' % fb)
        al.inbox.items.clear()
        # The same node links again; fb ended while it was unlinked.
        new = await follower().open()
        new.send("<bind jid='%s'>%s</bind><synced/>" % (fa, pres))
        await al.inbox.wait(is_presence('unavailable', frm=fb),
                            'unavailable presence of %s' % fb)
        flaps = [st for st in al.inbox.items
                 if is_presence('unavailable', frm=fa)(st)]
        old.close()
        new.close()
        check(not flaps, '%s, bound again, was said unavailable' % fa)


@scenario()
async def outsider(t):
    c = Cluster(t, 3)
    leader, (other, gone), ids = await c.form_with_users()
    members = [leader, other]
    # A removed member: its certificate still chains to the CA.
    await leader.ok('xmpp', 'cluster', 'remove', gone.peer)
    await c.wait_agree(members, what='agreement after the removal')
    await gone.term()
    make_node_cert(c.certs, 'ca', 'outsider', '127.0.0.9', 3001)
    make_node_cert(c.certs, 'ca', 'noeku', '127.0.0.9', 3002, eku='')
    make_node_cert(c.certs, 'ca', 'webonly', '127.0.0.9', 3003,
                   eku='serverAuth')
    lid, oid, gid = ids[leader], ids[other], ids[gone]
    k = c.kport
    bob = await login(t, leader, 'bob', 'inbox')
    alice = await login(t, other, 'alice', 'real')
    blob = scram_blob('evilpw99')

    def hello(kind, nid, addr):
        return 'MMPC1 %s %016x %s %s' % (kind, nid, addr, DOMAIN)

    def refused(said):
        return not said[0].startswith('MMPC1 OK') or \
            not any(a.startswith('OK') for a in said[1:])

    attackers = (('outsider', '127.0.0.9', oid),
                 ('noeku', '127.0.0.9', oid),
                 ('webonly', '127.0.0.9', oid),
                 ('node%d' % gone.i, gone.addr, gid))
    def logged(nd, since, src):
        # Equal refusals of a host are logged once in 10 s, then debug.
        check(re.search(r'(from|at) %s:\d+.* refused' % re.escape(src),
                        nd.log_text(since)),
              'no refusal of %s logged by %s' % (src, nd.name))

    for cert, src, nid in attackers:
        own = '%s:%d' % (src, k)
        since = [nd.log_size() for nd in members]
        with t.check('%s-claims-the-leader' % cert):
            for addr in (leader.peer, own):
                said = await port_talk(other, src, cert,
                                       hello('raft', lid, addr))
                check(not said[0].startswith('MMPC1 OK'), 'raft hello as '
                      'the leader %016x at %s to %s: %s' % (
                          lid, addr, other.name, said))
                said = await port_talk(leader, src, cert,
                                       hello('fwd', oid, addr))
                check(not said[0].startswith('MMPC1 OK'), 'fwd hello as '
                      '%016x at %s: %s' % (oid, addr, said))
            logged(other, since[1], src)

        with t.check('%s-apply-user-set' % cert):
            for h in (hello('req', nid, other.peer if nid == oid else own),
                      hello('req', nid, own)):
                said = await port_talk(leader, src, cert, h, [
                    'APPLY user-set\talice\t' + blob,
                    'APPLY user-del\tbob'])
                check(refused(said), '%s, APPLY user-set: %s' % (h, said))
            for nd in members:
                check(await password_works(t, nd, 'alice', 'alicepw1'),
                      'alice\'s own password fails on %s' % nd.name)
                check(not await password_works(t, nd, 'alice', 'evilpw99'),
                      'the outsider\'s password for alice works on %s' %
                      nd.name)
            check(set(await leader.users()) >= {'alice', 'bob'},
                  'accounts gone')
            logged(leader, since[0], src)

        with t.check('%s-removes-a-member' % cert):
            said = await port_talk(leader, src, cert, hello('req', nid, own),
                                   ['REMOVE %016x %s' % (oid, other.peer)])
            check(refused(said), 'REMOVE: %s' % said)
            await c.wait_agree(members, what='the same two members')
            logged(leader, since[0], src)

        with t.check('%s-forwards-from-alice' % cert):
            body = 'forged by %s' % cert
            f = await FakeFollower(leader, nid, cert=cert, src=src).open()
            f1 = 'alice@%s/forged' % DOMAIN
            f.send("<bind jid='%s'/><synced/>" % f1 +
                   s_frame(1, f1, bob.boundjid.full, body))
            await f.wait(lambda x: x.eof or b'MMPC1 ERR' in x.buf or
                         x.acked() >= 1, 'refusal of the link')
            f.close()
            marker = 'real after %s' % cert
            alice.send_message(mto=bob.boundjid.bare, mbody=marker,
                               mtype='chat')
            got = await wait_bodies(bob, [marker], 'alice@' + DOMAIN)
            check(body not in got, 'bob got "%s" from alice' % body)
            check(b'MMPC1 OK' not in f.buf, 'the link was taken: %r' %
                  f.buf[:200])
            logged(leader, since[0], src)

    await c.wait_agree(members, what='the same two members at the end')


@scenario()
async def slots(t):
    c = Cluster(t, 3)
    leader = await c.form(timers=TIMERS)
    base = await settled_fds(leader)

    with t.check('idle-before-tls-closed-soon'):
        idle = Squatters(leader, ['127.0.5.%d' % i for i in range(1, 21)])
        try:
            t0 = time.monotonic()
            await wait_peer_closed(list(idle.socks.values()), 20,
                                   'idle connections that sent nothing',
                                   timeout=w(PORT_PRETLS_SECS + 2))
            t.note('20 idle connections closed after %.1fs' %
                   (time.monotonic() - t0))
        finally:
            idle.close()
        await wait_fds(leader, lambda n: n <= base + 4,
                       'idle connections gone')

    with t.check('members-get-through-a-full-port'):
        # The count taken after forming can include a channel that was
        # still closing (a view's, a relink's); take the lower of the two.
        now = await settled_fds(leader)
        t.note('descriptors before: %d after forming, %d now' % (base, now))
        base = min(base, now)
        n = PORT_PENDING + 44
        flood = Squatters(leader, ['127.0.%d.%d' % (6 + i // 250,
                                                    1 + i % 250)
                                   for i in range(n)])
        stop = asyncio.Event()

        async def keep_up():
            while not stop.is_set():
                flood.refresh()
                await asyncio.sleep(0.05)
        task = asyncio.ensure_future(keep_up())
        try:
            # The port is full of them; a follower restarts.
            # Squatters the port drops after CNET_PRETLS_SECS come back
            # at once; on a loaded machine the count can take a while to
            # reach the top, so the bound is generous.
            await wait_fds(leader, lambda k: k >= base + PORT_PENDING,
                           '%d idle connections held' % PORT_PENDING,
                           timeout=w(15))
            member = [nd for nd in c.nodes if nd is not leader][-1]
            await member.term()
            member.start()
            await member.wait_ready()
            await c.wait_agree(what='agreement with %d idle connections '
                               'kept up' % n)

            def heard(st):
                m = re.search(r'%s ([0-9.]+) s ago' %
                              re.escape(member.peer), st.text)
                return m is not None and float(m.group(1)) < 1.0
            # Its channels to the leader got through: it links, and the
            # leader hears it.
            await c.wait_status([member], lambda st: st.get(
                'forwarding').startswith('linked to leader'),
                '%s linked to the leader' % member.name)
            await c.wait_status([leader], heard, '%s heard by the leader' %
                                member.name, timeout=w(5))
            t.note('%d idle connections kept up, %d reopened' %
                   (n, flood.reopened))
        finally:
            stop.set()
            await task
            flood.close()
        await c.wait_agree(what='agreement after the flood')


async def timed(nd, *words):
    """Run mmp words on nd: (seconds, rc, out, err)."""
    t0 = time.monotonic()
    rc, out, err = await nd.mmp(*words)
    return time.monotonic() - t0, rc, out, err


@scenario()
async def viewlimits(t):
    c = Cluster(t, 3)
    leader = await c.form(timers=TIMERS)
    ids = node_ids(t.last)
    watcher, victim = [nd for nd in c.nodes if nd is not leader]
    # What a status costs in a healthy cluster (noted, not asserted).
    took = sorted([(await timed(watcher, 'xmpp', 'cluster', 'status'))[0]
                   for _ in range(10)])
    t.note('status on a follower: median %.3fs' % took[5])

    with t.check('stopped-member-costs-a-second'):
        os.kill(victim.proc.pid, signal.SIGSTOP)
        try:
            worst = 0.0
            deadline = time.monotonic() + w(10)
            while True:
                took, rc, out, err = await timed(watcher, 'xmpp', 'cluster',
                                                 'status')
                worst = max(worst, took)
                s = Status(watcher, rc, out, err)
                if any(p.addr == victim.peer and p.unreachable
                       for p in s.peers):
                    break
                check(time.monotonic() < deadline, 'the stopped member '
                      'never marked unreachable: %s' % s.summary())
            took2, rc, out, err = await timed(watcher, 'xmpp', 'user',
                                              'list')
            worst = max(worst, took2)
            check(rc == 0 and victim.peer in err, 'user list with a '
                  'stopped member: exit %d, stderr %r' % (rc, err))
            t.note('with a stopped member, status and user list answer in '
                   '%.2fs at most' % worst)
            check(worst < w(3), 'a command took %.2fs with a stopped '
                  'member (the view waits 1 s)' % worst)
        finally:
            os.kill(victim.proc.pid, signal.SIGCONT)
        await c.wait_agree()

    with t.check('long-view-answer-cut-off'):
        victim.kill9()
        ctx = server_context(c.cert('node%d.crt' % victim.i),
                             c.cert('node%d.key' % victim.i))
        asked = []

        async def serve(r, wr):
            hello = await r.readline()
            wr.write(b'MMPC1 OK %016x %s %s\n' % (
                ids[victim], victim.peer.encode(), DOMAIN.encode()))
            line = await r.readline()
            asked.append(line)
            # 300 KiB of answer and no end of line, then nothing.
            for _ in range(300):
                wr.write(b'OK ' + b's' * 1021)
                await wr.drain()
            with contextlib.suppress(Exception):
                await r.read()
            wr.close()
        srv = await asyncio.start_server(serve, victim.addr, c.kport,
                                         ssl=ctx)
        try:
            took, rc, out, err = await timed(watcher, 'xmpp', 'user', 'list')
            check(rc == 0, 'user list: exit %d: %r' % (rc, err))
            check(b'VIEW\n' in asked, 'the fake member was asked %r' %
                  asked)
            check(victim.peer in err and 'answer too long' in err,
                  'the cut-off member not named: %r' % err)
            check(took < w(3), 'user list took %.2fs' % took)
            s = await watcher.status()
            check(s.rc == 0 and s.state in ('LEADER', 'FOLLOWER'),
                  'the node after the long answer: %s' % s.summary())
        finally:
            srv.close()
            await srv.wait_closed()


async def apply_answers(c, frm, nid, to, lines):
    """APPLY each of lines on one request channel from member frm (its
    certificate, address and id nid) to node to; the answers."""
    return await port_talk(to, frm.addr, 'node%d' % frm.i,
                           'MMPC1 req %016x %s %s' % (nid, frm.peer, DOMAIN),
                           ['APPLY ' + ln for ln in lines])


@scenario()
async def takeover(t):
    c = Cluster(t, 3)
    leader, (other, victim), ids = await c.form_with_users()
    vid, oid = ids[victim], ids[other]
    make_node_cert(c.certs, 'ca', 'outsider', '127.0.0.9', 3001)
    bob = await login(t, leader, 'bob', 'inbox')

    def req(nid, addr):
        return 'MMPC1 req %016x %s %s' % (nid, addr, DOMAIN)

    with t.check('apply-leader-entries'):
        forged = ['member\t%d\t%s\t%s' % (vid, victim.peer, 'ab' * 32),
                  'forget\t%d' % vid,
                  'init\t%s\t%s' % (DOMAIN, 'cd' * 32),
                  'digest-set\t%d\tcb1\t%s' % (vid, 'ef' * 32),
                  'digest-del\t%d\tcb1' % vid,
                  'published\t%d' % vid]
        # Bare, and in a session's envelope (issue 12) as members send.
        sid = '5e55' * 4
        forged += ['@%s:%d:1\t%s' % (sid, i + 1, e)
                   for i, e in enumerate(forged)]
        said = await apply_answers(c, other, oid, leader, forged)
        t.note('APPLY of leader entries: %s' % said)
        check(said[0].startswith('MMPC1 OK'), 'hello refused: %s' % said)
        check(len(said) == len(forged) + 1 and
              all(a.startswith('ERR ') for a in said[1:]),
              'the leader took entries it alone writes: %s' % said)
        # The member's own entries still go in.
        said = await apply_answers(c, other, oid, leader,
                                   ['session-open\t' + sid,
                                    '@%s:20:20\tpublished\t%d' % (sid,
                                                                  oid)])
        check(len(said) == 3 and all(a.startswith('OK ')
                                     for a in said[1:]),
              'a member cannot APPLY its own entry: %s' % said)
        await c.wait_agree(what='three members after the APPLYs')

    with t.check('removed-from-follower'):
        # A follower (its own certificate, address and id) is no leader.
        said = await port_talk(victim, other.addr, 'node%d' % other.i,
                               req(oid, other.peer), ['REMOVED'])
        check(said[0].startswith('MMPC1 OK'), 'hello refused: %s' % said)
        check(not any(a == 'OK' for a in said[1:]),
              'follower %s made %s leave: %s' % (other.name, victim.name,
                                                 said))
        await c.wait_agree(what='three members after REMOVED')

    with t.check('join-takeover'):
        # Another certificate from the victim's address: same id, new id.
        for nid in (vid, 0x1234abcd5678ef01):
            said = await port_talk(leader, victim.addr, 'outsider',
                                   req(nid, victim.peer),
                                   ['JOIN %016x %s %s' % (nid, victim.peer,
                                                           DOMAIN)])
            t.note('JOIN as %016x: %s' % (nid, said))
            check(len(said) == 2 and said[1].startswith('ERR ') and
                  'xmpp cluster remove' in said[1],
                  'JOIN %016x with another certificate: %s' % (nid, said))
        await c.wait_agree(what='three members after the JOINs')
        f = await FakeFollower(leader, vid, cert='outsider',
                               src=victim.addr).open()
        f1 = 'alice@%s/forged' % DOMAIN
        f.send("<bind jid='%s'/><synced/>" % f1 +
               s_frame(1, f1, bob.boundjid.full, 'forged-by-outsider'))
        await f.wait(lambda x: x.eof or b'MMPC1 ERR' in x.buf or
                     x.acked() >= 1, 'refusal of the link')
        f.close()
        check(b'MMPC1 OK' not in f.buf, 'outsider took over the victim id')
        await c.wait_agree(what='three members after the fake link')

    with t.check('removed-keeps-req'):
        r, wr = await asyncio.wait_for(asyncio.open_connection(
            leader.addr, c.kport, ssl=node_tls(c, other.i),
            local_addr=(other.addr, 0)), w(5))
        wr.write((req(oid, other.peer) + '\n').encode())
        hello = await asyncio.wait_for(r.readline(), w(5))
        check(hello.startswith(b'MMPC1 OK'), 'hello: %r' % hello)
        await leader.ok('xmpp', 'cluster', 'remove', other.peer)
        await c.wait_agree([leader, victim], what='two members')
        wr.write(('APPLY user-set\talice\t' + scram_blob('evilpw99') +
                  '\n').encode())
        try:
            ans = await asyncio.wait_for(r.readline(), w(10))
        except (OSError, asyncio.TimeoutError) as e:
            ans = repr(e).encode()
        wr.close()
        t.note('APPLY after the removal: %r' % ans)
        check(not ans.startswith(b'OK'), 'APPLY on the removed member\'s '
              'channel: %r' % ans)
        check(not await password_works(t, leader, 'alice', 'evilpw99'),
              'the removed member\'s APPLY worked')

    with t.check('removed-stays-out'):
        # Removed by the admin: its certificate joins again only once
        # the admin sets the trust bundle again on the leader.
        async def refused():
            rc, out, err = await other.mmp('xmpp', 'cluster', 'join',
                                           leader.peer)
            check(rc != 0, 'the removed member joined again: %s' % out)
            return ('removed member' in err, err.strip())
        said = await until(refused, w(10), 'the removed member\'s join '
                           'refused')
        t.note('join after removal: %s' % said)
        await leader.ok('xmpp', 'cluster', 'trust', c.trust)

        async def joined():
            rc, out, err = await other.mmp('xmpp', 'cluster', 'join',
                                           leader.peer)
            return (rc == 0, err.strip())
        await until(joined, w(10), 'the join after the trust bundle was '
                    'set')
        await c.wait_agree(what='three members again')


@scenario()
async def dialcheck(t):
    c = Cluster(t, 4)
    three, n4 = c.nodes[:3], c.nodes[3]
    leader, rest, ids = await c.form_with_users(three)

    with t.check('status-fds'):
        before = {nd.name: await settled_fds(nd) for nd in three}
        for i in range(40):
            await leader.ok('xmpp', 'cluster', 'status')
        for nd in three:
            await wait_fds(nd, lambda n, b=before[nd.name]: n <= b + 5,
                           '%s back to %d descriptors after 40 status '
                           'commands' % (nd.name, before[nd.name]),
                           timeout=w(10))

    make_node_cert(c.certs, 'ca', 'outsider', '127.0.0.9', 3001)
    got, conns = [], []

    async def serve(r, wr):
        # fwd: a made-up id; req: the dead leader's id and address.
        conns.append('open')
        k = len(conns) - 1
        hello = await r.readline()
        got.append(b'HELLO ' + hello)
        nid = ids[leader] if b' req ' in hello else 0xdeadbeef
        wr.write(('MMPC1 OK %016x %s %s\n' % (nid, leader.peer,
                                              DOMAIN)).encode())
        try:
            while True:
                d = await asyncio.wait_for(r.read(65536), w(10))
                if not d:
                    break
                got.append(d)
                if d.startswith(b'JOIN '):
                    wr.write(b'ERR evil\x1b]0;owned\x07\x1b[2J answer\n')
        except (OSError, asyncio.TimeoutError):
            pass
        conns[k] = 'done'
        wr.close()

    ctx = server_context(c.cert('outsider.crt'), c.cert('outsider.key'),
                         c.cert('ca.crt'))
    since = time.monotonic()
    leader.kill9()
    srv = None
    deadline = time.monotonic() + w(5)
    while srv is None:
        try:
            srv = await asyncio.start_server(serve, leader.addr, c.kport,
                                             ssl=ctx)
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.02)
    try:
        # A view asks every member, the dead leader's address too.
        await rest[0].mmp('xmpp', 'cluster', 'status')
        await wait_new_leader(rest, since, w(15))

        async def settled():
            return (bool(conns) and all(x == 'done' for x in conns),
                    '%d connections, %r' % (len(conns),
                                            b''.join(got)[:200]))
        await until(settled, w(20), 'the fake leader\'s channels to end')
        t.note('fake leader got: %r' % b''.join(got)[:300])
        with t.check('fake-leader-refused'):
            if not any(b' fwd ' in g for g in got):
                t.note('no follower dialled the fake leader\'s fwd')
            check(not any(b'stream' in g for g in got),
                  'a follower linked its forwarding to the fake leader')
            check(not any(b'VIEW' in g or b'APPLY' in g for g in got),
                  'a follower asked the fake leader a request')

        with t.check('peer-text-printable'):
            # A node that joins through the fake: its ERR text reaches
            # the admin's terminal.
            await c.start([n4])
            await n4.batch(c.base_lines(n4) +
                           ['xmpp cluster trust ' + c.trust,
                            'xmpp disable', 'xmpp cluster enable',
                            'xmpp enable'])
            rc, out, err = await n4.mmp('xmpp', 'cluster', 'join',
                                        leader.peer)
            t.note('join through the fake: %r' % err)
            check(rc != 0 and 'evil' in err, 'no refusal: %r' % (out + err))
            check(not re.search(r'[\x00-\x08\x0b-\x1f\x7f]', out + err),
                  'control characters of a peer reached the admin: %r' %
                  err)
    finally:
        srv.close()
