"""`xmpp cluster status` parsed (Status, one Peer a line of the list of
peers), what keeps the statuses of live nodes from agreeing on a cluster
(agreement_problems), and the node ids they show. Used through
tests/cluster/clib.py, which re-exports these names.
"""

import re

ADDR_LINE = re.compile(r'^\s*(\d{1,3}(?:\.\d{1,3}){3}:\d+)(.*)$')


class Peer:
    """One line of the list of peers."""

    def __init__(self, addr, rest):
        self.addr = addr
        self.ip = addr.rsplit(':', 1)[0]
        self.leader = '(leader)' in rest.lower()
        self.me = '(me)' in rest.lower()
        # (unreachable 12 s): nobody heard it lately (not a role).
        marks = re.findall(r'\(([^)]*)\)', rest.lower())
        self.unreachable = any(f.startswith('unreachable') for f in marks)
        # Anything else in parentheses: (joining), (standby) ...
        self.other = [f for f in marks if f not in ('leader', 'me') and
                      not f.startswith('unreachable')]

    def __repr__(self):
        return self.addr + (' (Leader)' if self.leader else '') + \
            (' (me)' if self.me else '') + \
            ''.join(' (%s)' % f for f in self.other) + \
            (' (unreachable)' if self.unreachable else '')


class Status:
    """`xmpp cluster status` of one node, parsed: state, peers, and the
    'Label : value' lines (labels lower-cased; the first one wins)."""

    def __init__(self, node, rc, out, err):
        self.node = node
        self.rc = rc
        self.text = out
        self.err = err.strip()
        self.peers = []
        self.labels = {}
        in_peers = False
        for line in out.splitlines():
            if not line.strip():
                continue
            if line.strip().lower().startswith('list of peers'):
                in_peers = True
                continue
            m = ADDR_LINE.match(line)
            if in_peers and m:
                self.peers.append(Peer(m.group(1), m.group(2)))
            elif ':' in line and not line[0].isspace():
                k, v = line.split(':', 1)
                self.labels.setdefault(k.strip().lower(), v.strip())
        self.state = self.labels.get('state', '').split(' ')[0].upper() \
            if rc == 0 else None

    def get(self, label):
        """The value of label, or '' if absent."""
        return self.labels.get(label.lower(), '')

    @property
    def addrs(self):
        return [p.addr for p in self.peers]

    @property
    def leader_addrs(self):
        return [p.addr for p in self.peers if p.leader]

    @property
    def quorum(self):
        return self.get('quorum').lower().startswith('yes')

    @property
    def no_quorum(self):
        """The node says it has no quorum."""
        return 'no quorum' in self.get('quorum').lower() or \
            'no quorum' in self.text.lower()

    @property
    def secrets_consistent(self):
        return re.match(r'consistent\b',
                        self.get('call bridge secrets').lower()) is not None

    def secrets_differ(self, cb, addr):
        """Some line says call bridge cb differs on addr."""
        return any(re.search(r'\b%s\b' % re.escape(cb), line) and
                   addr in line and 'differ' in line.lower()
                   for line in self.text.splitlines())

    def summary(self):
        """One line for failure messages."""
        if self.rc != 0:
            return '%s: mmp exit %s: %s' % (self.node.name, self.rc,
                                             self.err or self.text.strip())
        return '%s: %s | %s | quorum %s | secrets %s | term %s' % (
            self.node.name, self.state or '?', ', '.join(map(repr,
                                                            self.peers)),
            self.get('quorum') or '?',
            self.get('call bridge secrets') or '?', self.get('term') or '?')


def agreement_problems(statuses, members, secrets=True):
    """What keeps statuses (of live nodes) from agreeing on a cluster of
    members: exactly one LEADER, the others FOLLOWER, every node listing
    each member once with (me) on its own line and (Leader) on the
    leader's, quorum, consistent secrets, distinct node ids."""
    probs = []
    want = sorted(members)
    for s in statuses:
        n = s.node.name
        if s.rc != 0:
            probs.append(s.summary())
            continue
        if s.state not in ('LEADER', 'FOLLOWER'):
            probs.append('%s: State %s' % (n, s.state or '(none)'))
        if sorted(s.addrs) != want:
            probs.append('%s lists %s, expected %s' % (n, s.addrs, want))
        odd = [repr(p) for p in s.peers if p.other]
        if odd:
            probs.append('%s: not every member votes: %s' % (n, odd))
        ips = [p.ip for p in s.peers]
        if len(set(ips)) != len(ips):
            probs.append('%s lists an address twice: %s' % (n, s.addrs))
        mes = [p.addr for p in s.peers if p.me]
        if mes != [s.node.peer]:
            probs.append('%s: (me) on %s, expected on %s' % (
                n, mes or 'no line', s.node.peer))
        if len(s.leader_addrs) != 1:
            probs.append('%s: (Leader) on %s' % (n, s.leader_addrs or
                                                 'no line'))
        if not s.quorum:
            probs.append('%s: Quorum %r' % (n, s.get('quorum')))
        if secrets and not s.secrets_consistent:
            probs.append('%s: Call bridge secrets %r' % (
                n, s.get('call bridge secrets')))
    if probs:
        return probs, None
    leaders = [s.node for s in statuses if s.state == 'LEADER']
    if len(leaders) != 1:
        return ['%d nodes say LEADER: %s' % (
            len(leaders), ' '.join(x.name for x in leaders))], None
    for s in statuses:
        if s.leader_addrs != [leaders[0].peer]:
            probs.append('%s: (Leader) on %s, but %s says LEADER' % (
                s.node.name, s.leader_addrs[0], leaders[0].name))
    ids = [s.get('node id') for s in statuses]
    if not all(ids) or len(set(ids)) != len(ids):
        probs.append('node ids missing or not distinct: %s' % ids)
    return probs, (None if probs else leaders[0])


def node_ids(sts):
    """{node: its id (int)} from statuses."""
    return {s.node: int(s.get('node id'), 16) for s in sts}
