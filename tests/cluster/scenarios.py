"""The cluster scenarios. Each runs alone, with its own daemons on
127.0.0.1..5, temporary directory, certificates and ports, and prints
PASS/FAIL/SKIP lines (see clib.main). Those with peers that misbehave
(guard, outsider, slots, viewlimits, takeover, dialcheck) are in
hostile_peers.py, those of lost quorum and a member's address (noquorum,
memberaddr) in quorum.py, once (an APPLY sent again is applied once) in
once.py, those of rosters across a leader's death and a join (rosterack,
rostermerge) in rosters.py, those of delivery across cut links and
presence after failover (relaycut, relaylink, relaypres, relaysilent) in
relay.py, those of offline messages (offstore, offkillsend, offkillleader,
offinit, offjoin) in offline.py, relink (a follower's process links
again after a partition) in relink.py, all imported at the end, so they run
after these.

    scenarios.py --list        the scenarios make check runs
    scenarios.py NAME          run one

story      the administrator's story typed through mmp batch mode on three
           nodes; status agrees; accounts are cluster-wide; clients on
           nodes 2 and 3 and a call bridge on node 1 exchange messages; a
           mistyped secret shows on every node; xmpp reset is refused
failover   kill -9 of the leader with the default timers: a new leader
           within the documented bound, messages sent meanwhile arrive,
           a mutual subscription made before is still in the new leader's
           rosters, a contact's session on the dead leader is reported
           unavailable by the new one, the call bridge reconnects to a
           survivor, the killed node comes back as a follower without a
           duplicate
handover   SIGTERM of the leader while messages flow between followers: it
           hands leadership over before it exits (its log says so), a
           new leader follows, no message is lost, none bounces
duplicate  a member's data directory wiped and the node joined again from
           the same address: listed once
five       five nodes lose two (one the leader) and still elect; dead
           members removed; a member leaves
partition  (own network namespace) the leader cut off: the majority elects
           and serves, the old leader says no quorum; healed: one leader
mtls       nodes with a certificate from a foreign CA cannot join, and
           both sides log why; a node of another XMPP domain is refused
shared     the lab setup: one certificate on every node, and that
           certificate as the trust bundle; the cluster forms, survives
           kill -9 of its leader and takes the node back; another
           certificate of the same CA cannot speak for a member
trustreload
           a new trust bundle takes effect without restarting mmpd: a
           node whose certificate only the new bundle trusts joins at
           once; a newer bundle that no longer trusts it drops its links
           (and its new ones fail) while the other members stay linked
views      the cluster seen from any node: where each call bridge is
           connected and its last failure, the sessions of each user
           (resource, node, address, since) and their count, on every
           member; a member that dies is marked unreachable on the
           others; followers hear of each other; the Quorum line during
           an election; timers set on a follower apply on every member
           and on a node that joins later, which is never reported as
           missing secrets while it publishes them
harness    (not in --list) what can be checked without clustering: ports,
           certificates, five daemons, clients bound to node addresses,
           the status parser
"""

import asyncio
import contextlib
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from clib import (DOMAIN, FAILOVER_MAX, TIMERS, Cluster,  # noqa: E402
                  Failed, Sender, Status, agreement_problems, check,
                  component, db_config, deliver, free_ports, is_presence,
                  login, main, make_node_cert, nft_heal, nft_partition,
                  node_ids, pair, reachable, scenario, subscribe_both,
                  until, w, wait_bodies, wait_db_subscription,
                  wait_new_leader, wait_roster)
from rawpeers import port_talk  # noqa: E402

CB1 = 'cb1.' + DOMAIN
TLS_FAILURE = re.compile(r'verif|unknown ca|bad certificate|certificate '
                         r'unknown|certificate required|unsupported '
                         r'certificate|alert', re.I)


async def clients(t, c, a_node, b_node, cb_node, tag):
    """alice on a_node, bob on b_node (accounts added on a_node and seen
    everywhere), cb1 as a component on cb_node; each reachable from the
    others; the four messages of the story delivered."""
    await c.add_users(a_node)
    await c.wait_users([nd for nd in c.nodes if nd.running()])
    alice, bob = await pair(t, a_node, b_node, tag)
    cb = await component(t, cb_node)
    await reachable(alice, CB1)
    await exchange(alice, bob, cb, tag)
    return alice, bob, cb


async def exchange(alice, bob, cb, tag):
    """alice -> bob, bob -> alice, alice -> cb1, cb1 -> bob."""
    await deliver(alice, bob.boundjid.full, bob, '%s: alice to bob' % tag)
    await deliver(bob, alice.boundjid.full, alice, '%s: bob to alice' % tag)
    await deliver(alice, CB1, cb, '%s: alice to cb1' % tag)
    await deliver(cb, bob.boundjid.full, bob, '%s: cb1 to bob' % tag)


@scenario()
async def story(t):
    c = Cluster(t, 3)
    n1, n2, n3 = c.nodes
    await c.start()
    await c.initialize(n1)
    for nd in (n2, n3):
        await nd.batch(c.base_lines(nd))
        if nd is n2:
            with t.check('cluster-enable-refused-while-xmpp-enabled'):
                rc, out, err = await nd.mmp('xmpp', 'cluster', 'enable')
                check(rc == 1, 'xmpp cluster enable with XMPP enabled: '
                      'exit %d: %s' % (rc, (out + err).strip()))
        await c.join(nd, n1, base=False)
    leader = await c.wait_agree()
    t.note('leader %s' % leader.name)
    await clients(t, c, n2, n3, n1, 'story')

    with t.check('secret-mismatch-shown-everywhere'):
        await n3.ok('xmpp', 'callbridge', 'del', 'cb2')
        await n3.ok('xmpp', 'callbridge', 'add-secret', 'cb2',
                    stdin='not-the-same-secret-2\n' * 2)
        await c.wait_status(c.nodes, lambda s: s.secrets_differ(
            'cb2', n3.peer), 'every node to say cb2 differs on %s' %
            n3.peer)
        await n3.ok('xmpp', 'callbridge', 'del', 'cb2')
        await n3.ok('xmpp', 'callbridge', 'add-secret', 'cb2',
                    stdin=(c.secrets['cb2'] + '\n') * 2)
        await c.wait_status(c.nodes, lambda s: s.secrets_consistent,
                            'every node to say the secrets are consistent '
                            'again')

    with t.check('reset-refused-on-member'):
        rc, out, err = await n3.mmp('xmpp', 'reset', stdin='Y\n')
        check(rc != 0, 'xmpp reset on a member: exit 0: %s' % out.strip())
        check('cluster' in (out + err).lower(), 'xmpp reset refused '
              'without a word about the cluster: %s' % (out + err).strip())
        s = await n3.status()
        check(s.state in ('LEADER', 'FOLLOWER') and n3.peer in s.addrs,
              'after xmpp reset: %s' % s.summary())

    await c.wait_agree(what='agreement at the end')


@scenario()
async def failover(t):
    c = Cluster(t, 3)
    leader = await c.form()             # the default timers
    a_node, b_node = [nd for nd in c.nodes if nd is not leader]
    alice, bob, cb = await clients(t, c, a_node, b_node, leader, 'before')

    # Rosters go through the log: a subscription the leader granted is
    # in every member's database before the leader dies.
    roster_setup = None
    try:
        await subscribe_both(alice, bob)
        for owner, jid in (('alice', bob.boundjid.bare),
                           ('bob', alice.boundjid.bare)):
            await wait_db_subscription(c.nodes, owner, jid, 'both')
    except Failed as e:
        roster_setup = str(e)

    # A session on the leader itself: when the leader dies with it, the
    # new leader tells its contacts it is unavailable.
    on_leader = None
    try:
        on_leader = await login(t, leader, 'bob', 'onleader')
        await alice.inbox.wait(
            lambda st: st.name == 'presence' and st['type'] != 'unavailable'
            and str(st['from']) == on_leader.boundjid.full,
            'the presence of bob/onleader')
    except Failed as e:
        on_leader_setup = str(e)
    else:
        on_leader_setup = None

    sender = Sender(alice, bob.boundjid.full, 'during election', 0.1)
    t0 = time.monotonic()
    leader.kill9()
    sender.start()
    try:
        new, took = await wait_new_leader([a_node, b_node], t0,
                                          max(w(10), FAILOVER_MAX + 2))
    finally:
        await sender.stop()
    sent = sender.bodies
    t.note('%s killed, %s LEADER after %.2fs, %d messages sent meanwhile'
           % (leader.name, new.name, took, len(sent)))
    with t.check('new-leader-within-%gs' % FAILOVER_MAX):
        check(took <= FAILOVER_MAX, 'the new leader came after %.2fs' %
              took)
    await wait_bodies(bob, sent, alice.boundjid.bare)
    await c.wait_agree([a_node, b_node], [nd.peer for nd in c.nodes],
                       what='agreement of the survivors')

    with t.check('dead-leaders-sessions-unavailable'):
        check(on_leader_setup is None, 'before the failover: %s' %
              on_leader_setup)
        await alice.inbox.wait(
            is_presence('unavailable', frm=on_leader.boundjid.full),
            'unavailable presence of bob/onleader from the new leader')

    with t.check('roster-survives'):
        check(roster_setup is None, 'before the failover: %s' %
              roster_setup)
        a2 = await login(t, a_node, 'alice', 'roster')
        b2 = await login(t, b_node, 'bob', 'roster')
        await wait_roster(a2, bob.boundjid.bare, 'both')
        await wait_roster(b2, alice.boundjid.bare, 'both')
        a2.drop()
        b2.drop()

    # The call bridge lost its node; it connects to a survivor.
    try:
        await asyncio.wait_for(asyncio.shield(cb.gone), w(5))
    except asyncio.TimeoutError:
        raise Failed('the component on the killed node is still connected')
    cb = await component(t, a_node, retry_for=w(10))
    await reachable(alice, CB1)
    await exchange(alice, bob, cb, 'after')

    # The killed node comes back by itself, as a follower, once.
    leader.start()
    await leader.wait_ready()
    now = await c.wait_agree(what='agreement after the restart')
    check(now is not leader, '%s came back as LEADER' % leader.name)


@scenario()
async def handover(t):
    c = Cluster(t, 3)
    leader = await c.form()             # the default timers
    a_node, b_node = [nd for nd in c.nodes if nd is not leader]
    alice, bob, cb = await clients(t, c, a_node, b_node, leader, 'before')
    since = leader.log_size()
    sender = Sender(alice, bob.boundjid.full, 'during handover', 0.02)
    sender.start()
    await asyncio.sleep(0.1)            # messages in flight at the signal
    t0 = time.monotonic()
    try:
        rc = await leader.term()
        new, took = await wait_new_leader([a_node, b_node], t0, w(10))
        await asyncio.sleep(0.3)        # and some through the new leader
    finally:
        await sender.stop()
    sent = sender.bodies
    t.note('%s stopped, %s LEADER after %.2fs, %d messages sent' %
           (leader.name, new.name, took, len(sent)))
    check(rc == 0, 'the old leader exited with status %s' % rc)
    with t.check('handed-over'):
        check('handing leadership over' in leader.log_text(since),
              'the old leader did not log a handover')
    await wait_bodies(bob, sent, alice.boundjid.bare)
    with t.check('none-bounced'):
        errs = [st['body'] for st in alice.inbox.items
                if st.name == 'message' and st['type'] == 'error']
        check(not errs, '%d messages came back as errors: %s' %
              (len(errs), ' '.join(errs[:5])))


@scenario()
async def duplicate(t):
    c = Cluster(t, 3)
    n1, n2, n3 = c.nodes
    await c.form(timers=TIMERS)
    old = (await n3.status()).get('node id')
    rc = await n3.term()
    check(rc == 0, 'n3 exited with status %s on SIGTERM' % rc)
    await c.wait_agree([n1, n2], [nd.peer for nd in c.nodes],
                       what='agreement while n3 is down')
    n3.wipe()
    n3.install('ca.crt', 'node3.key', 'node3.crt')
    await c.start([n3])
    await c.join(n3, n2, TIMERS)
    await c.wait_agree(what='agreement after the wiped node joined again')
    new = (await n3.status()).get('node id')
    check(new != old, 'the wiped node kept its node id %s' % old)

    with t.check('join-again-is-idempotent'):
        await n3.ok('xmpp', 'cluster', 'join', n1.peer)
        await c.wait_agree(what='agreement after joining twice')


@scenario()
async def five(t):
    c = Cluster(t, 5)
    leader = await c.form(timers=TIMERS or ('100', '500'))
    victim = [nd for nd in c.nodes if nd is not leader][-1]
    rest = [nd for nd in c.nodes if nd not in (leader, victim)]
    t0 = time.monotonic()
    leader.kill9()
    victim.kill9()
    new, took = await wait_new_leader(rest, t0, w(15))
    t.note('%s and %s killed, %s LEADER after %.2fs' % (
        leader.name, victim.name, new.name, took))
    await c.wait_agree(rest, [nd.peer for nd in c.nodes],
                       what='agreement of the three survivors')

    n = len(t.results)
    with t.check('remove-dead-members'):
        await rest[0].ok('xmpp', 'cluster', 'remove', leader.peer)
        await rest[0].ok('xmpp', 'cluster', 'remove', victim.peer)
        await c.wait_agree(rest, what='agreement after removing the dead')
    if t.results[n][1] is not None:
        return
    with t.check('member-leaves'):
        sts = await c.statuses(rest)
        leaver = [s.node for s in sts if s.state == 'FOLLOWER'][0]
        await leaver.ok('xmpp', 'cluster', 'remove')
        await c.wait_agree([nd for nd in rest if nd is not leaver],
                           what='agreement after a member left')
        s = await leaver.status()
        check(s.state not in ('LEADER', 'FOLLOWER', 'CANDIDATE'),
              'after leaving: %s' % s.summary())


@scenario(netns=True)
async def partition(t):
    c = Cluster(t, 3)
    leader = await c.form(timers=TIMERS)
    a_node, b_node = [nd for nd in c.nodes if nd is not leader]
    alice, bob, cb = await clients(t, c, a_node, b_node, leader, 'before')
    cb.drop()

    t0 = time.monotonic()
    await nft_partition(leader.addr, [a_node.addr, b_node.addr])
    members = [nd.peer for nd in c.nodes]
    new = await c.wait_agree([a_node, b_node], members, w(20),
                             what='a leader on the majority side')
    t.note('%s cut off, %s LEADER after %.2fs' % (
        leader.name, new.name, time.monotonic() - t0))
    await c.wait_status([leader], lambda s: s.state != 'LEADER' and
                        s.no_quorum, '%s to step down and say no quorum' %
                        leader.name)
    await reachable(alice, bob.boundjid.full)
    await deliver(alice, bob.boundjid.full, bob, 'across the majority')
    await deliver(bob, alice.boundjid.full, alice, 'and back')

    await nft_heal()
    await c.wait_agree(timeout=w(30), what='agreement after healing')


async def foreign_join(t, c, joiner, member):
    """joiner's xmpp cluster join through member fails (exit 1, a clear
    message) and both logs say why; the message."""
    j0, m0 = joiner.log_size(), member.log_size()
    rc, out, err = await joiner.mmp('xmpp', 'cluster', 'join', member.peer,
                                     timeout=w(40))
    said = (err + out).strip()
    check(rc == 1, 'xmpp cluster join from %s: exit %d: %s' % (
        joiner.name, rc, said))
    check(re.search(r'certificat|tls|verif|trust', said, re.I),
          'the refusal does not say it is about certificates: %s' % said)

    def probe():
        missing = [nd.name for nd, off in ((joiner, j0), (member, m0))
                   if not TLS_FAILURE.search(nd.log_text(off))]
        return not missing, missing
    await until(probe, w(5), lambda missing: 'no TLS verification failure '
                'in the log of %s (the join said: %s)' % (
                    ' and '.join(missing), said), step=0.05)
    return said


@scenario()
async def mtls(t):
    c = Cluster(t, 2, foreign=(3, 4))
    n1, n2 = c.nodes
    await c.form(timers=TIMERS)
    n3 = c.add_node(3)
    n3.install('ca.crt', 'foreign-ca.crt', 'foreign3.key', 'foreign3.crt')
    n4 = c.add_node(4)
    n4.install('foreign-ca.crt', 'foreign4.key', 'foreign4.crt')
    await c.start([n3, n4])

    with t.check('foreign-cert-trusting-our-ca'):
        await n3.batch(c.base_lines(n3, 'foreign3.key', 'foreign3.crt',
                                    'foreign-ca.crt'))
        # Refusing earlier, because the node's own certificate does not
        # verify against the bundle it trusts, is right too if it says so.
        for words in (('xmpp', 'cluster', 'trust', 'ca.crt'),
                      ('xmpp', 'disable'), ('xmpp', 'cluster', 'enable'),
                      ('xmpp', 'enable')):
            rc, out, err = await n3.mmp(*words)
            if rc != 0:
                said = (err + out).strip()
                check(rc == 1 and re.search(r'certificat|verif|trust', said,
                                            re.I), '%s: exit %d: %s' % (
                    ' '.join(words), rc, said))
                t.note('n3: %s refused' % ' '.join(words))
                break
        else:
            await foreign_join(t, c, n3, n1)

    with t.check('foreign-cert-trusting-its-own-ca'):
        await n4.batch(c.base_lines(n4, 'foreign4.key', 'foreign4.crt',
                                    'foreign-ca.crt') +
                       ['xmpp cluster trust foreign-ca.crt', 'xmpp disable',
                        'xmpp cluster enable', 'xmpp enable'])
        await foreign_join(t, c, n4, n2)

    with t.check('other-domain-refused'):
        # A node with a good certificate but another XMPP domain.
        make_node_cert(c.certs, 'ca', 'node5', '127.0.0.5', 1005,
                       domain='example.org')
        n5 = c.add_node(5)
        n5.install('ca.crt', 'node5.key', 'node5.crt')
        await c.start([n5])
        await n5.batch([ln.replace('xmpp domain ' + DOMAIN,
                                   'xmpp domain example.org')
                        for ln in c.base_lines(n5)] +
                       ['xmpp cluster trust ca.crt', 'xmpp disable',
                        'xmpp cluster enable', 'xmpp enable'])
        rc, out, err = await n5.mmp('xmpp', 'cluster', 'join', n2.peer,
                                    timeout=w(40))
        said = (err + out).strip()
        check(rc == 1 and 'domain mismatch' in said and
              DOMAIN in said and 'example.org' in said,
              'xmpp cluster join from another domain: exit %d: %s' %
              (rc, said))

    await c.wait_agree([n1, n2], what='the two members alone')


@scenario()
async def trustreload(t):
    c = Cluster(t, 3, foreign=(2,))
    n1, n2, n3 = c.nodes
    with open(os.path.join(c.certs, 'both.crt'), 'w') as f:
        for name in ('ca.crt', 'foreign-ca.crt'):
            with open(os.path.join(c.certs, name)) as g:
                f.write(g.read())
    for nd in (n1, n3):
        nd.install('both.crt')
    await c.form([n1, n3], timers=TIMERS)
    pids = (n1.proc.pid, n3.proc.pid)
    n2.install('both.crt', 'foreign2.key', 'foreign2.crt')
    await c.start([n2])
    await n2.batch(c.base_lines(n2, 'foreign2.key', 'foreign2.crt',
                                'both.crt') +
                   ['xmpp cluster trust both.crt', 'xmpp disable',
                    'xmpp cluster enable', 'xmpp enable'])

    with t.check('refused-under-the-old-bundle'):
        await foreign_join(t, c, n2, n1)

    with t.check('joins-under-the-new-bundle-without-restart'):
        said = [await nd.ok('xmpp', 'cluster', 'trust', 'both.crt')
                for nd in (n1, n3)]
        rc, out, err = await n2.mmp('xmpp', 'cluster', 'join', n1.peer,
                                    timeout=w(40))
        check(rc == 0, 'join after the new bundle: exit %d: %s' % (
            rc, (err + out).strip()))
        check(not any('restart' in x for x in said),
              'xmpp cluster trust says: %s' % said)
        await c.wait_agree([n1, n2, n3], secrets=False,
                           what='three members with the foreign node')
        check(all(nd.running() for nd in (n1, n3)) and
              (n1.proc.pid, n3.proc.pid) == pids,
              'n1 or n3 restarted meanwhile')

    with t.check('untrusted-links-dropped'):
        offs = (n1.log_size(), n3.log_size())
        for nd in (n1, n3):
            await nd.ok('xmpp', 'cluster', 'trust', 'ca.crt')

        def probe():
            texts = [nd.log_text(off) for nd, off in zip((n1, n3), offs)]
            dropped = [re.findall(r'link with (\S+) dropped', x)
                       for x in texts]
            refused = [bool(TLS_FAILURE.search(x)) for x in texts]
            # The leader links with every member; a follower perhaps
            # with none but the leader.
            return any(dropped) and any(refused), (dropped, refused)
        dropped, _ = await until(probe, w(10), lambda seen: 'after a bundle '
                                 'without the foreign CA: dropped %s, TLS '
                                 'refusals %s' % seen, step=0.05)
        wrong = [a for d in dropped for a in d
                 if not a.startswith(n2.addr + ':')]
        check(not wrong, 'links to trusted members dropped: %s' % wrong)
        await c.wait_status(
            [n1, n3], lambda s: s.quorum and len(s.leader_addrs) == 1 and
            s.leader_addrs[0] in (n1.peer, n3.peer),
            'n1 and n3 to keep a leader between them')
        check((n1.proc.pid, n3.proc.pid) == pids,
              'n1 or n3 restarted meanwhile')


@scenario()
async def shared(t):
    c = Cluster(t, 3)
    make_node_cert(c.certs, 'ca', 'lab', '127.0.0.1', 4001)
    make_node_cert(c.certs, 'ca', 'outsider', '127.0.0.9', 4002)
    for nd in c.nodes:
        nd.install('lab.key', 'lab.crt')
    c.shared = ('lab.key', 'lab.crt')
    c.trust = 'lab.crt'
    leader = await c.form(timers=TIMERS)
    ids = node_ids(t.last)
    rest = [nd for nd in c.nodes if nd is not leader]
    with t.check('outsider-refused'):
        said = await port_talk(rest[0], '127.0.0.9', 'outsider',
                               'MMPC1 raft %016x %s %s' % (
                                   ids[leader], leader.peer, DOMAIN))
        check(not said[0].startswith('MMPC1 OK'), 'an outsider as the '
              'leader: %s' % said)
    t0 = time.monotonic()
    leader.kill9()
    new, took = await wait_new_leader(rest, t0, w(15))
    t.note('%s killed, %s LEADER after %.2fs' % (leader.name, new.name,
                                                  took))
    leader.start()
    await leader.wait_ready()
    await c.wait_agree(what='agreement with the old leader back')


# ---------------------------------------------------------------- harness

SAMPLE = """State: FOLLOWER
List of peers
127.0.0.1:5270 (Leader)
  127.0.0.2:5270 (me)   last heard 0.0s ago
127.0.0.3:5270
Node id             : 4f1c2a
Term                : 7
Quorum              : yes
Call bridge secrets : cb2: differs on 127.0.0.3:5270
  cb3: differs on 127.0.0.1:5270
Forwarding          : connected to 127.0.0.1:5270
"""


class _N:
    def __init__(self, name, peer):
        self.name, self.peer = name, peer


def _parser_checks():
    s = Status(_N('n2', '127.0.0.2:5270'), 0, SAMPLE, '')
    check(s.state == 'FOLLOWER', 'state %r' % s.state)
    check(s.addrs == ['127.0.0.1:5270', '127.0.0.2:5270',
                      '127.0.0.3:5270'], 'peers %s' % s.addrs)
    check(s.leader_addrs == ['127.0.0.1:5270'], 'leader %s' %
          s.leader_addrs)
    check([p.addr for p in s.peers if p.me] == ['127.0.0.2:5270'], 'me')
    check(s.quorum and not s.no_quorum, 'quorum')
    check(s.get('node id') == '4f1c2a' and s.get('term') == '7', 'labels')
    check(not s.secrets_consistent, 'secrets consistent?')
    check(s.secrets_differ('cb2', '127.0.0.3:5270') and
          s.secrets_differ('cb3', '127.0.0.1:5270') and
          not s.secrets_differ('cb1', '127.0.0.3:5270'), 'differs')
    lead = Status(_N('n1', '127.0.0.1:5270'), 0, SAMPLE.replace(
        'FOLLOWER', 'LEADER').replace('(Leader)', '(Leader) (me)').replace(
        '(me)   last', 'last').replace('4f1c2a', '99').replace(
        'cb2: differs on 127.0.0.3:5270\n  cb3: differs on 127.0.0.1:5270',
        'consistent'), '')
    s3 = Status(_N('n3', '127.0.0.3:5270'), 0, SAMPLE.replace(
        '(me)   last', 'last').replace('127.0.0.3:5270\nNode',
                                       '127.0.0.3:5270 (me)\nNode'), '')
    check(lead.secrets_consistent and lead.state == 'LEADER', 'leader')
    peers = [p.addr for p in s.peers]
    probs, _ = agreement_problems([lead, s, s3], peers)
    check(any('secrets' in p for p in probs), 'secrets not noticed: %s' %
          probs)
    probs, ldr = agreement_problems([lead, s, s3], peers, secrets=False)
    check(probs == ['node ids missing or not distinct: %s' %
                    (['99', '4f1c2a', '4f1c2a'],)], 'ids: %s' % probs)
    joining = Status(_N('n2', '127.0.0.2:5270'), 0, SAMPLE.replace(
        '127.0.0.3:5270\n', '127.0.0.3:5270 (joining)\n', 1), '')
    probs, _ = agreement_problems([joining], peers, secrets=False)
    check(any('votes' in p for p in probs), 'joining: %s' % probs)
    no = Status(_N('n1', '127.0.0.1:5270'), 0, SAMPLE.replace(
        'Quorum              : yes', 'Quorum : no (no quorum: 1 of 3)'), '')
    check(no.no_quorum and not no.quorum, 'no quorum')
    dup = Status(_N('n2', '127.0.0.2:5270'), 0, SAMPLE.replace(
        '127.0.0.3:5270\n', '127.0.0.3:5270\n127.0.0.3:5271\n', 1), '')
    probs, _ = agreement_problems([dup], peers, secrets=False)
    check(any('twice' in p for p in probs), 'duplicate: %s' % probs)


@scenario(hidden=True)
async def harness(t):
    with t.check('status-parser'):
        _parser_checks()
    c = Cluster(t, 5, foreign=(3,))
    for nd in c.nodes:
        p = subprocess.run(
            ['openssl', 'verify', '-x509_strict', '-purpose', 'sslserver',
             '-CAfile', 'ca.crt', 'node%d.crt' % nd.i], cwd=c.certs,
            capture_output=True, text=True)
        check(p.returncode == 0, 'node%d.crt: %s' % (nd.i, p.stdout +
                                                     p.stderr))
        p = subprocess.run(
            ['openssl', 'verify', '-purpose', 'sslclient', '-CAfile',
             'ca.crt', 'node%d.crt' % nd.i], cwd=c.certs,
            capture_output=True, text=True)
        check(p.returncode == 0, 'node%d.crt as client: %s' % (nd.i,
                                                               p.stderr))
    p = subprocess.run(['openssl', 'verify', '-CAfile', 'ca.crt',
                        'foreign3.crt'], cwd=c.certs, capture_output=True,
                       text=True)
    check(p.returncode != 0, 'foreign3.crt verifies against ca.crt')
    await c.start()
    # Without clustering: each node alone, with the base configuration
    # minus the cluster port.
    for nd in c.nodes:
        await nd.batch([ln for ln in c.base_lines(nd)
                        if 'port cluster' not in ln])
    n1, n2 = c.nodes[:2]
    out = await n1.ok('xmpp', 'callbridge', 'add', 'cb1')
    c.secrets['cb1'] = re.search(r'Secret\s*:\s*(\S+)', out).group(1)
    await c.add_users(n1)
    await c.add_users(n2)
    alice = await login(t, n2, 'alice', 'h')
    bob = await login(t, n2, 'bob', 'h')
    await reachable(alice, bob.boundjid.full)
    await deliver(alice, bob.boundjid.full, bob, 'on node 2')
    a1 = await login(t, n1, 'alice', 'h1')
    cb = await component(t, n1)
    await reachable(a1, CB1)
    await deliver(a1, CB1, cb, 'to cb1')
    await deliver(cb, a1.boundjid.full, a1, 'from cb1')
    check(re.search(r'127\.0\.0\.2:\d+ authenticated as alice',
                    n2.log_text()), 'the client of n2 did not come from '
          '127.0.0.2')
    s = await n1.status()
    t.note('status of an unclustered node: %r' % s.state)
    # kill -9 and a restart on the same directory.
    n2.kill9()
    n2.start()
    await n2.wait_ready()
    check('alice' in await n2.users(), 'n2 lost its accounts')


def cb_blocks(out):
    """xmpp callbridge list, parsed: name -> {label: value}."""
    blocks, cur = {}, None
    for line in out.splitlines():
        if ':' not in line:
            continue
        k, v = (x.strip() for x in line.split(':', 1))
        if k == 'Callbridge':
            cur = blocks.setdefault(v, {})
        elif cur is not None:
            cur.setdefault(k, v)
    return blocks


def kv_records(out):
    """Blank-line separated 'Label : value' records: a list of dicts."""
    recs = []
    for chunk in out.split('\n\n'):
        d = {}
        for line in chunk.splitlines():
            if ':' in line:
                k, v = line.split(':', 1)
                d.setdefault(k.strip(), v.strip())
        if d:
            recs.append(d)
    return recs


def wrong_quorum(s):
    """A Quorum line that says no quorum while a majority is reachable
    (the old 'no quorum (3 of 3 voters reachable)' during elections)."""
    m = re.match(r'no quorum \((\d+) of (\d+) voters', s.get('quorum'))
    return m is not None and int(m.group(1)) > int(m.group(2)) // 2


@scenario()
async def views(t):
    c = Cluster(t, 4)
    n1, n2, n3, n4 = c.nodes
    await c.start([n1, n2, n3])
    await c.initialize(n1)
    # n2 and n3 join while the leader's status is watched: a joining
    # node is never reported as missing secrets it is about to publish.
    missing = []
    stop = asyncio.Event()

    async def watch():
        while not stop.is_set():
            for nd in (n1,):
                s = await nd.status()
                for line in s.text.splitlines():
                    if 'missing on' in line:
                        missing.append('%s: %s' % (nd.name, line.strip()))
            await asyncio.sleep(0.05)
    task = asyncio.ensure_future(watch())
    try:
        for nd in (n2, n3):
            await c.join(nd, n1)
        leader = await c.wait_agree([n1, n2, n3])
    finally:
        stop.set()
        await task
    with t.check('joining-node-not-missing'):
        check(not missing, 'a joining node was reported missing secrets: '
              '%s' % missing[:3])
    followers = [nd for nd in (n1, n2, n3) if nd is not leader]
    t.note('leader %s' % leader.name)

    with t.check('followers-hear-each-other'):
        for nd in followers:
            s = await nd.status()
            never = [ln.strip() for ln in s.text.splitlines()
                     if ln.startswith('Last heard') and 'never' in ln]
            check(not never, '%s: %s' % (nd.name, never))

    await c.add_users(n1)
    await c.wait_users([n1, n2, n3])
    a_phone = await login(t, n2, 'alice', 'phone')
    a_laptop = await login(t, n3, 'alice', 'laptop')
    await login(t, n1, 'bob', 'desk')
    cb = await component(t, n3, 'cb1')
    await reachable(a_phone, CB1)
    # cb2 with a mistyped secret on node 2: refused there.
    bad = None
    with contextlib.suppress(Failed):
        bad = await component(t, n2, 'cb2', secret='not-the-secret')
    check(bad is None, 'cb2 with a wrong secret was let in on n2')

    with t.check('callbridge-list-everywhere'):
        for nd in (n1, n2, n3):
            async def look(nd=nd):
                out = await nd.ok('xmpp', 'callbridge', 'list')
                b = cb_blocks(out)
                ok = (b.get('cb1', {}).get('Connected', '').startswith(
                    'yes, on %s from 127.0.0.3:' % n3.peer) and
                    b.get('cb2', {}).get('Connected') == 'no' and
                    re.match(r'authentication failure on %s from '
                             r'127\.0\.0\.2:\d+ at \d{4}-\d\d-\d\d '
                             r'\d\d:\d\d:\d\d UTC$' % re.escape(n2.peer),
                             b.get('cb2', {}).get('Last failure', '')))
                return ok, '%s: %r' % (nd.name, out)
            await until(look, w(10), '%s to show where cb1 is and cb2 '
                        'failed' % nd.name)

    with t.check('user-list-counts-cluster-wide'):
        for nd in (n1, n2, n3):
            async def look(nd=nd):
                out = await nd.ok('xmpp', 'user', 'list')
                rows = dict(ln.split()[:2] for ln in out.splitlines()[1:]
                            if ln.split())
                return (rows.get('alice') == '2' and
                        rows.get('bob') == '1'), '%s: %r' % (nd.name, out)
            await until(look, w(10), '%s to count 2 sessions of alice, 1 '
                        'of bob' % nd.name)

    with t.check('user-sessions-everywhere'):
        for nd in (n1, n2, n3):
            out = await nd.ok('xmpp', 'user', 'list', 'alice')
            recs = kv_records(out)
            check(recs and recs[0].get('User') == 'alice' and
                  recs[0].get('Sessions') == '2', '%s: %r' % (nd.name, out))
            got = sorted((r.get('Resource'), r.get('Node'),
                          r.get('Address', '').rsplit(':', 1)[0])
                         for r in recs[1:])
            want = sorted([('phone', n2.peer, n2.addr),
                           ('laptop', n3.peer, n3.addr)])
            check(got == want, '%s: sessions %s, expected %s' % (
                nd.name, got, want))
            check(all(re.match(r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$',
                               r.get('Since', '')) for r in recs[1:]),
                  '%s: Since: %r' % (nd.name, out))
        rc, out, err = await n2.mmp('xmpp', 'user', 'list', 'nobody')
        check(rc == 1 and 'no user named nobody' in err,
              'user list of an unknown user: exit %d: %r' % (rc, err + out))

    with t.check('timers-cluster-wide'):
        await followers[0].ok('xmpp', 'cluster', 'timers', '50', '400')
        await c.wait_status(
            [n1, n2, n3], lambda s: s.get('timers').startswith(
                'heartbeat 50 ms, election timeout 400 ms'),
            'the timers set on a follower on every member')
        # A node that joins now takes the cluster's timers.
        await c.start([n4])
        await c.join(n4, n1)
        await c.wait_agree([n1, n2, n3, n4])
        await c.wait_status(
            [n4], lambda s: s.get('timers').startswith(
                'heartbeat 50 ms, election timeout 400 ms'),
            'the cluster\'s timers on a node that joined')
        rows = db_config(n4, ('cluster.heartbeat', 'cluster.election'))
        check(rows == ['50', '400'], 'n4 keeps timers %s' % rows)

    with t.check('unreachable-marked'):
        victim = followers[1]
        watcher = followers[0]
        victim.kill9()
        sts = await c.wait_status(
            [watcher], lambda s: any(
                p.addr == victim.peer and p.unreachable for p in s.peers),
            'a dead member marked unreachable', timeout=w(10))
        s = sts[0]
        check(s.quorum, '%s: Quorum %r with 3 of 4 up' % (
            watcher.name, s.get('quorum')))
        others = [p for p in s.peers if p.unreachable and
                  p.addr != victim.peer]
        check(not others, 'live members marked unreachable: %s' % others)
        line = [ln for ln in s.text.splitlines()
                if ln.startswith(victim.peer)][0]
        check(re.search(r'\(unreachable \d+ s\)', line), line)

    with t.check('quorum-line-during-election'):
        # Back to four, then the leader dies: three of four elect.
        for nd in (n1, n2, n3, n4):
            if not nd.running():
                nd.start()
                await nd.wait_ready()
        await c.wait_agree([n1, n2, n3, n4])
        leader = [s.node for s in t.last if s.state == 'LEADER'][0]
        live = [n1, n2, n3, n4]
        t0 = time.monotonic()
        leader.kill9()
        live.remove(leader)
        bad = []
        while True:
            sts = await c.statuses(live)
            bad += ['%s: %s %s' % (s.node.name, s.state, s.get('quorum'))
                    for s in sts if wrong_quorum(s)]
            if any(s.state == 'LEADER' for s in sts) and \
                    all(s.quorum for s in sts):
                break
            check(time.monotonic() - t0 < w(15), 'no new leader: %s' %
                  '; '.join(s.summary() for s in sts))
            await asyncio.sleep(0.02)
        check(not bad, 'Quorum said no quorum with a majority reachable: '
              '%s' % bad[:3])


@scenario(hidden=True, netns=True)
async def harness_netns(t):
    """The partition rules cut exactly what they should, on lo."""
    port = free_ports(1, 3)[0]
    lsn = []
    for i in (1, 2, 3):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('127.0.0.%d' % i, port))
        s.listen(8)
        lsn.append(s)

    async def can(src, dst):
        try:
            r, wr = await asyncio.wait_for(asyncio.open_connection(
                '127.0.0.%d' % dst, port, local_addr=('127.0.0.%d' % src,
                                                      0)), 0.5)
            wr.close()
            return True
        except (OSError, asyncio.TimeoutError):
            return False
    pairs = [(a, b) for a in (1, 2, 3) for b in (1, 2, 3)]
    check(all([await can(a, b) for a, b in pairs]), 'loopback not open')
    await nft_partition('127.0.0.1', ['127.0.0.2', '127.0.0.3'])
    got = {(a, b): await can(a, b) for a, b in pairs}
    want = {(a, b): (a == 1) == (b == 1) for a, b in pairs}
    check(got == want, 'partitioned: %s' % got)
    await nft_heal()
    check(all([await can(a, b) for a, b in pairs]), 'not healed')
    for s in lsn:
        s.close()


@scenario()
async def edges(t):
    """Issue 15's rough edges on a follower of three: xmpp cluster join
    through a member of its own cluster says it is a member already and
    changes nothing; xmpp cluster remove with its own address says to run
    remove without one, and the node stays a member."""
    c = Cluster(t, 3)
    leader = await c.form(timers=TIMERS or ('100', '500'))
    f = [nd for nd in c.nodes if nd is not leader][0]
    with t.check('join-when-already-a-member'):
        rc, out, err = await f.mmp('xmpp', 'cluster', 'join', leader.peer)
        check(rc == 0 and 'already a member' in out,
              'join on a member: exit %d: %s' % (rc, (err + out).strip()))
    with t.check('remove-self-address-on-follower'):
        rc, out, err = await f.mmp('xmpp', 'cluster', 'remove', f.peer)
        check(rc == 1 and 'run xmpp cluster remove, without an address'
              in err, 'remove <self> on a follower: exit %d: %s' %
              (rc, (err + out).strip()))
        await c.wait_agree(what='agreement with the follower still in')


import hostile_peers  # noqa: E402,F401 (its scenarios register last)
import quorum  # noqa: E402,F401
import once  # noqa: E402,F401 (exactly-once application, issue 12)
import rosters  # noqa: E402,F401
import rosterfollow  # noqa: E402,F401 (a follower client's roster change)
import relay  # noqa: E402,F401 (delivery across cut links, presence)
import loss  # noqa: E402,F401 (a recipient leaves, stanzas on their way)
import origin  # noqa: E402,F401 (no duplicates after a leader dies)
import stepdown  # noqa: E402,F401 (a leader steps down, quorum lost)
import nqtime  # noqa: E402,F401 (the no-quorum bound on every path)
import members  # noqa: E402,F401 (membership changes under faults)
import order  # noqa: E402,F401 (order across lost quorum, a paused leader)
import carbons  # noqa: E402,F401 (XEP-0280 copies across nodes, failover)
import smresume  # noqa: E402,F401 (stream management resumes anywhere)
import smhandover  # noqa: E402,F401 (SM sessions across leaders)
import offline  # noqa: E402,F401 (offline messages, issue 13)
import smfault  # noqa: E402,F401 (SM sessions of paused nodes)
import smsafe  # noqa: E402,F401 (a follower's <a h/> is what the leader has)
import relink  # noqa: E402,F401 (a follower's process links again)

if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
