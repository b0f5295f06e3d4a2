"""The checker of the fault test: reads a run's directory (written by
tests/faults/faults.py) and prints a short report and every violation.

    checker.py DIR        exit 0 without violations, 1 with

What it asserts:
  delivery   every message the server accepted (a ping round trip on the
             sender's session completed after it), on the session it was
             first sent on or resent on after a reconnect, and that was
             not answered with an error, reached its recipient; no single
             attempt arrived twice; per sender-recipient pair the first
             arrivals come in sending order. One loss is counted on its
             own line and is no violation: a message whose recipient's
             session, alive when it was sent, ended (the recipient's node
             killed -9, or its connection dropped) between the send and
             IN_FLIGHT seconds after the server accepted it: it was on its
             way to that client, and only stream management (issue 13)
             can save it. A session the server closed with a stream
             error (system-shutdown when its node lost quorum) did not
             drop: what the server had written before the error arrives,
             what came after it must answer. Every other loss is a
             violation.
  stream     endpoints with stream management (XEP-0198; conn events
  management with sm true): a message from one counts as accepted when
             the server acknowledged it with <a h/> (its acc event comes
             from the ack, not from a ping); a message to one is never
             excused as lost in flight: its session resumes on any node
             (or the server stores what it held offline), so a loss is a
             violation; and an accepted message from one arrives once: a
             second copy under another attempt is a violation, unless
             that attempt was made after the sender's resumption failed
             (resume-failed), when it could not know; and the server's h
             (in <a/> or <resumed/>) never goes back behind what it
             acknowledged nor past what was sent (sm-protocol events).
  state      accounts, rosters, call-bridge secret digests and membership
             identical on every node after healing (state.json)
  leaders    at most one node leader in any term (node logs and status
             polls)
  listing    no status poll lists an address twice
  quorum     no endpoint stays connected to a node longer than the bound
             (summary.json) past the moment the node said it had no
             quorum, while it keeps saying so

A message sent twice because the client could not know the first went
through (its session ended before the ping came back) and that arrived
twice is counted ("resent, arrived twice") but is no violation: without
stream management the client cannot tell.
"""

import glob
import json
import os
import re
import sys

ROLES = ('LEADER', 'FOLLOWER', 'CANDIDATE')
# Seconds after its acceptance within which a message lost to a recipient
# whose session ended (its node killed -9, or its connection dropped) is
# put down to the missing stream management (issue 13), not counted a
# violation: the message had been handed to the recipient's node, and
# without stream management no server can tell what the client read.
IN_FLIGHT = 2.0
POLL_SLACK = 1.5        # seconds: the status poll's period and its delay
LOSS_SLACK = 0.5        # seconds: the daemon's poll tick and the client
                        # seeing its stream end, after the documented bound
LEADER_LINE = re.compile(r'mmpd: (?:cluster_poll: )?(leader|follower|'
                         r'candidate) in term (\d+)', re.I)


# The nemesis's notes the report counts.
NOTES = ('leave-failed', 'leave-unknown-left', 'leave-failed-but-left',
         'member-skipped', 'join-failed', 'join-unknown-joined',
         'join-failed-but-joined', 'join-ok-not-member',
         'remove-before-join', 'stray-member',
         'cut-skipped')
# Those that are violations: a membership change that said it failed and
# happened all the same, a running node the nemesis never removed (or
# whose remove said it failed) that the leader does not list.
MEMBERSHIP = {
    'leave-failed-but-left': 'left the cluster though its xmpp cluster '
                             'remove said it failed',
    'join-failed-but-joined': 'joined though its xmpp cluster join said '
                              'it failed',
    'join-ok-not-member': 'is no member though its xmpp cluster join '
                          'said it was done',
    'stray-member': 'is no member though no remove of it succeeded',
}


def jsonl(path):
    out = []
    with open(path) as f:
        for ln in f:
            ln = ln.strip()
            if ln:
                try:
                    out.append(json.loads(ln))
                except ValueError:
                    pass
    return out


def sessions(evs):
    """An endpoint's sessions from its log: [node, conn time, down time
    or None, whether the server ended it with a stream error, whether it
    had stream management], in order."""
    out = []
    cur = {}
    told = set()
    for e in evs:
        if e['ev'] == 'conn':
            cur[e['epoch']] = [e['node'], e['t'], None, False,
                               bool(e.get('sm'))]
            out.append(cur[e['epoch']])
        elif e['ev'] == 'stream-error':
            told.add(e['epoch'])
        elif e['ev'] == 'down' and e['epoch'] in cur:
            x = cur.pop(e['epoch'])
            x[2], x[3] = e['t'], e['epoch'] in told
    return out


def session_end(sess, kills, t):
    """The session of sess alive at t: (its node, when it broke: its
    node killed -9, or its connection dropped without a stream error,
    whichever came first, or None), or None if the endpoint had no
    session at t. A session the server closed with a stream error did
    not break: the server wrote what it had before the error and must
    answer what came after."""
    for node, t0, t1, told, _ in sess:
        if t0 <= t and (t1 is None or t1 >= t):
            ends = [x for x in kills.get(node, ()) if x >= t]
            ends += [t1] if t1 is not None and not told else []
            return node, min(ends) if ends else None
    return None


def sm_on_at(sess, t):
    """Whether the session of sess alive at t had stream management."""
    for _, t0, t1, _, sm in sess:
        if t0 <= t and (t1 is None or t1 >= t):
            return sm
    return False


def sm_facts(eps):
    """Per endpoint: the SM session (the epoch it was enabled in) of each
    epoch, the SM sessions whose resumption failed, and counts for the
    report."""
    of, failed = {}, {}
    n = {'endpoints': 0, 'sessions': 0, 'resumed': 0, 'elsewhere': 0,
         'failed': 0, 'acked': 0}
    for name, evs in eps.items():
        of[name], failed[name] = {}, set()
        node = {}
        used = False
        for e in evs:
            if e['ev'] == 'conn':
                node[e['epoch']] = e['node']
                if e.get('sm'):
                    used = True
                    of[name][e['epoch']] = e.get('sms', e['epoch'])
                    if e.get('resumed'):
                        n['resumed'] += 1
                        if node.get(e.get('prev')) not in (None,
                                                           e['node']):
                            n['elsewhere'] += 1
                    else:
                        n['sessions'] += 1
            elif e['ev'] == 'resume-failed':
                failed[name].add(e.get('sms'))
                n['failed'] += 1
            elif e['ev'] == 'acc' and e.get('by') == 'ack':
                n['acked'] += len(e['ids'])
        n['endpoints'] += used
    return of, failed, n


def delivery(d, rep, viol, nem=()):
    eps = {}
    for p in sorted(glob.glob(os.path.join(d, 'ep-*.jsonl'))):
        eps[os.path.basename(p)[3:-6]] = jsonl(p)
    sent = {}           # aid -> (frm, to, seq)
    times = {}          # aid -> when it was sent
    epoch_of = {}       # aid -> the sender's epoch when it was sent
    acc_at = {}         # aid -> when the ping that accepted it came back
    accepted = {}       # (frm, to) -> set of seqs
    bounced = {}        # (frm, to) -> set of seqs
    attempts_of = {}    # (frm, to, seq) -> aids
    order_sent = {}     # (frm, to) -> max seq sent
    n_bounced_aids = 0
    for name, evs in eps.items():
        for e in evs:
            if e['ev'] == 'sent':
                sent[e['id']] = (name, e['to'], e['seq'])
                times[e['id']] = e['t']
                epoch_of[e['id']] = e.get('epoch')
                attempts_of.setdefault((name, e['to'], e['seq']),
                                       []).append(e['id'])
                k = (name, e['to'])
                order_sent[k] = max(order_sent.get(k, -1), e['seq'])
        for e in evs:
            if e['ev'] == 'acc':
                for a in e['ids']:
                    f, t, s = sent[a]
                    acc_at.setdefault(a, e['t'])
                    accepted.setdefault((f, t), set()).add(s)
            elif e['ev'] == 'err' and e['id'] in sent:
                f, t, s = sent[e['id']]
                n_bounced_aids += 1
                bounced.setdefault((f, t), set()).add(s)
    per_aid = {}
    firsts = {}         # (frm, to) -> seqs in order of first arrival
    arrived = {}        # (frm, to) -> {seq: count}
    for name, evs in eps.items():
        for e in evs:
            if e['ev'] != 'recv':
                continue
            k = (e['frm'], name)
            per_aid[e['id']] = per_aid.get(e['id'], 0) + 1
            c = arrived.setdefault(k, {})
            if e['seq'] not in c:
                firsts.setdefault(k, []).append(e['seq'])
            c[e['seq']] = c.get(e['seq'], 0) + 1
    n_acc = sum(len(v) for v in accepted.values())
    sess = {n: sessions(evs) for n, evs in eps.items()}
    kills = {}
    for e in nem:
        if e.get('ev') == 'kill':
            kills.setdefault(e['node'], []).append(e['t'])
    lost = []           # violations
    in_flight = []      # put down to missing stream management
    sender_died = 0     # of lost: the sender's node killed just after
    to_sm = 0           # of lost: to a recipient with stream management
    for k, seqs in sorted(accepted.items()):
        got = arrived.get(k, {})
        miss = sorted(s for s in seqs if s not in got and
                      s not in bounced.get(k, ()))
        for s in miss:
            name = '%s>%s #%d' % (k[0], k[1], s)
            accs = [a for a in attempts_of[(k[0], k[1], s)] if a in acc_at]
            rs = sess.get(k[1], ())
            if accs and all(_in_flight(rs, kills, times[a], acc_at[a]) and
                            not sm_on_at(rs, times[a]) for a in accs):
                in_flight.append(name)
                continue
            lost.append(name)
            if any(sm_on_at(rs, times[a]) for a in accs):
                to_sm += 1
            if any(_in_flight(sess.get(k[0], ()), kills, times[a],
                              acc_at[a]) for a in accs):
                sender_died += 1
    dup_server = sorted(a for a, n in per_aid.items() if n > 1)
    dup_resend = sum(1 for c in arrived.values() for s, n in c.items()
                     if n > 1)
    # An SM sender makes a new attempt at a message only when it cannot
    # know what became of the last one: its resumption failed.
    sm_of, sm_failed, sm_n = sm_facts(eps)
    dup_sm = []
    for k, c in sorted(arrived.items()):
        for s, n in sorted(c.items()):
            att = attempts_of.get((k[0], k[1], s), [])
            if n < 2 or len(att) < 2 or any(per_aid.get(a, 0) > 1
                                            for a in att):
                continue
            smss = [sm_of.get(k[0], {}).get(epoch_of.get(a))
                    for a in att[:-1]]
            if all(x is not None and x not in sm_failed.get(k[0], ())
                   for x in smss) and s in accepted.get(k, ()):
                dup_sm.append('%s>%s #%d' % (k[0], k[1], s))
    told_and_got = sum(1 for k, ss in bounced.items() for s in ss
                       if s in arrived.get(k, {}))
    disorder = []
    for k, seq in sorted(firsts.items()):
        skip = bounced.get(k, set())
        seq = [s for s in seq if s not in skip]
        for a, b in zip(seq, seq[1:]):
            if b < a:
                disorder.append('%s>%s #%d after #%d' % (k[0], k[1], b, a))
                break
    unknown = [a for a in per_aid if a not in sent]
    n_msgs = sum(v + 1 for v in order_sent.values())
    rep.append('messages: %d numbered, %d attempts sent, %d accepted, %d '
               'delivered, %d answered with an error (%d attempts), %d '
               'lost, %d duplicated by the server, %d resent and arrived '
               'twice, %d pairs out of order' % (
                   n_msgs, len(sent), n_acc,
                   sum(len(c) for c in arrived.values()),
                   sum(len(v) for v in bounced.values()), n_bounced_aids,
                   len(lost) + len(in_flight), len(dup_server),
                   dup_resend - len(dup_server), len(disorder)))
    rep.append('lost in flight to a recipient whose node died: %d — needs '
               'stream management (its node killed, or its connection '
               'dropped without a stream error, within %gs of acceptance)'
               % (
                   len(in_flight), IN_FLIGHT))
    rep.append('lost otherwise: %d (%d of them within %gs of the sender\'s '
               'node being killed or its connection dropping; %d to a '
               'recipient with stream management)' % (
                   len(lost), sender_died, IN_FLIGHT, to_sm))
    rep.append('stream management: %d endpoints, %d sessions, %d '
               'resumptions (%d on another node), %d failed; %d attempts '
               'accepted by <a h/>' % (
                   sm_n['endpoints'], sm_n['sessions'], sm_n['resumed'],
                   sm_n['elsewhere'], sm_n['failed'], sm_n['acked']))
    if told_and_got:
        rep.append('answered with an error and delivered all the same: %d'
                   % told_and_got)
    if lost:
        viol.append('lost: %d accepted messages never delivered nor '
                    'answered with an error: %s%s' % (
                        len(lost), ' '.join(lost[:12]),
                        ' ...' if len(lost) > 12 else ''))
    if dup_server:
        viol.append('duplicated: %d attempts delivered more than once: '
                    '%s' % (len(dup_server), ' '.join(dup_server[:12])))
    bad_sm = ['%s: %s' % (name, e.get('what')) for name, evs in
              sorted(eps.items()) for e in evs if e['ev'] == 'sm-protocol']
    if bad_sm:
        viol.append('stream management: %d times the server\'s h was '
                    'wrong: %s' % (len(bad_sm), '; '.join(bad_sm[:4])))
    if dup_sm:
        viol.append('duplicated: %d accepted messages from a sender with '
                    'stream management arrived twice (a second attempt '
                    'without a failed resumption): %s' % (
                        len(dup_sm), ' '.join(dup_sm[:12])))
    if disorder:
        viol.append('order: %d pairs out of order: %s' % (
            len(disorder), '; '.join(disorder[:6])))
    if unknown:
        viol.append('delivered but never sent: %s' % ' '.join(unknown[:6]))
    return eps


def _in_flight(sess, kills, t_sent, t_acc):
    """Whether the session (of sess) alive when a message was sent ended
    (down, or its node killed) between the send and IN_FLIGHT seconds
    after the server accepted it."""
    got = session_end(sess, kills, t_sent)
    return got is not None and got[1] is not None and \
        t_sent <= got[1] <= t_acc + IN_FLIGHT


def state(d, rep, viol):
    p = os.path.join(d, 'state.json')
    if not os.path.exists(p):
        viol.append('state: no state.json (the run did not get that far)')
        return
    with open(p) as f:
        st = json.load(f)
    names = sorted(st)
    keys = sorted({k for v in st.values() for k in v})
    differ = []
    for k in keys:
        vals = {n: json.dumps(st[n].get(k), sort_keys=True) for n in names}
        if len(set(vals.values())) > 1:
            differ.append(k)
    first = st[names[0]] if names else {}
    rep.append('state: %d accounts, %d roster items, %d call bridges, %d '
               'members on %s; %s' % (
                   len(first.get('accounts', {})),
                   len(first.get('rosters', [])),
                   len(first.get('callbridge secrets', {})),
                   len(first.get('members', [])), ','.join(names),
                   'identical' if not differ else 'DIFFERENT: ' +
                   ', '.join(differ)))
    for k in differ:
        viol.append('state: %s differ: %s' % (k, _diff(
            {n: st[n].get(k) for n in names})))


def _diff(vals):
    """What differs between the nodes' values: for lists and dicts the
    elements not on every node, with the nodes that have them."""
    items = {}
    for n, v in vals.items():
        if isinstance(v, dict):
            v = sorted([kk, vv] for kk, vv in v.items())
        if not isinstance(v, list):
            return '; '.join('%s %s' % (n, _short(x))
                             for n, x in vals.items())
        for x in v:
            items.setdefault(json.dumps(x, sort_keys=True), []).append(n)
    odd = ['%s only on %s' % (x, ','.join(ns)) for x, ns in
           sorted(items.items()) if len(ns) != len(vals)]
    return '; '.join(odd[:8]) + (' ...' if len(odd) > 8 else '')


def _short(v):
    s = json.dumps(v, sort_keys=True)
    return s if len(s) < 200 else s[:200] + '...'


def leaders(d, polls, rep, viol):
    terms = {}
    for p in glob.glob(os.path.join(d, 'c', 'n*', 'mmpd.log')):
        node = os.path.basename(os.path.dirname(p))
        with open(p, errors='replace') as f:
            for ln in f:
                m = LEADER_LINE.search(ln)
                if m and m.group(1).upper() == 'LEADER':
                    terms.setdefault(int(m.group(2)), set()).add(node)
    for s in polls:
        if s.get('state') == 'LEADER' and str(s.get('term', '')).isdigit():
            terms.setdefault(int(s['term']), set()).add(s['node'])
    two = {t: sorted(n) for t, n in terms.items() if len(n) > 1}
    rep.append('leaders: %d terms with a leader, %s' % (
        len(terms), 'at most one each' if not two else '%d with more' %
        len(two)))
    for t, n in sorted(two.items()):
        viol.append('leaders: term %d had %s' % (t, ' and '.join(n)))
    twice = [s for s in polls if len({a.rsplit(':', 1)[0]
                                      for a in s.get('addrs', [])}) !=
             len(s.get('addrs', []))]
    if twice:
        viol.append('listing: %d polls list an address twice, first %s at '
                    '%.1f: %s' % (len(twice), twice[0]['node'],
                                  twice[0]['t'], twice[0]['addrs']))


def loss_moment(p):
    """When the node of poll p (one saying no quorum) last had contact
    with a quorum, from its Last heard lines: a leader needs half of the
    other voters (the one heard longest ago among the most recently heard
    half), a follower or candidate the leader (the most recently heard
    peer). None when the poll carries no such lines or heard nobody."""
    agos = sorted(h for _, h in p.get('heard') or () if h is not None)
    if p.get('state') == 'LEADER':
        k = len(p.get('addrs', [])) // 2
        h = agos[k - 1] if k and len(agos) >= k else None
    else:
        h = agos[0] if agos else None
    return None if h is None else p['t'] - h


def quorum(polls, eps, nem, bound, election, rep, viol):
    """Stretches of no quorum per node (consecutive polls saying so, the
    stretch ending at the first poll that does not or a gap in the
    polls), against the sessions endpoints had on that node. A session
    may last until the earlier of: bound (the election timeout + the
    grace) + POLL_SLACK after the first poll of the stretch; two election
    timeouts + the grace + LOSS_SLACK after the node last heard a quorum
    (mmpd(8), LIMITS: no quorum contact for two election timeouts plus
    CLUSTER_QUORUM_GRACE_MS sends clients away), when the polls carry
    Last heard lines, but never before the last poll in which it said it
    had quorum (a membership change takes quorum away at once). The
    node's own pause stops its clock: the limits run from its resumption
    (SIGCONT) if that came later, and from its (re)start likewise."""
    by = {}
    for s in polls:
        by.setdefault(s['node'], []).append(s)
    back = {}           # node -> times it resumed or was (re)started
    for e in nem:
        if e.get('ev') in ('resumed', 'restarted'):
            back.setdefault(e['node'], []).append(e['t'])
    stretches = []
    for node, ps in by.items():
        ps.sort(key=lambda x: x['t'])
        start = prev = None
        yes = None          # the last poll in which the node had quorum
        for s in ps + [None]:
            nq = s is not None and s.get('rc') == 0 and \
                s.get('state') in ROLES and not s['quorum']
            gap = s is not None and prev is not None and \
                s['t'] - prev['t'] > POLL_SLACK
            if start is not None and (not nq or gap):
                stretches.append((node, start, prev['t'] if gap or s is
                                  None else s['t'], yes))
                start = None
            if nq and start is None:
                start = s
            if s is not None and s.get('rc') == 0 and s['quorum']:
                yes = s['t']
            prev = s if s is not None else prev
    sessions_ = []
    last = max([e['t'] for evs in eps.values() for e in evs] +
               [s['t'] for s in polls] or [0])
    for name, evs in eps.items():
        for node, t0, t1, _, _ in sessions(evs):
            sessions_.append((name, node, t0, last if t1 is None else t1))
    longest = max([b - a['t'] for _, a, b, _ in stretches] or [0])
    bad = []
    n_loss = 0
    for node, first, b, yes in stretches:
        a = first['t']
        limit = a + bound + POLL_SLACK
        lost = loss_moment(first) if election else None
        if lost is not None and yes is not None:
            # It had quorum when it last said so (a membership change
            # can take it away at once, whatever it last heard).
            lost = max(lost, yes)
        if lost is not None:
            n_loss += 1
            limit = min(limit, lost + bound + election + LOSS_SLACK)
        # Paused or restarted in the meantime: the clock starts again.
        for t in back.get(node, ()):
            if (lost if lost is not None else a) <= t <= b:
                limit = max(limit, t + bound + POLL_SLACK)
        if b <= limit:
            continue
        for name, snode, t0, t1 in sessions_:
            if snode == node and t0 < b and t1 > limit:
                bad.append('%s on %s: connected %.1fs into %.1fs without '
                           'quorum (%.1fs past its limit%s)' % (
                               name, node, min(t1, b) - a, b - a,
                               min(t1, b) - limit,
                               '; quorum last heard %.1fs before the first '
                               'poll' % (a - lost) if lost is not None
                               else ''))
    rep.append('quorum: %d stretches without quorum (longest %.1fs), bound '
               '%gs after the first poll saying so (+%gs poll slack)%s' % (
                   len(stretches), longest, bound, POLL_SLACK,
                   ' and %gs after the node last heard a quorum (+%gs, %d '
                   'stretches timed so)' % (bound + election,
                                            LOSS_SLACK, n_loss)
                   if election else ''))
    if bad:
        viol.append('quorum: %d sessions outlived the bound: %s' % (
            len(bad), '; '.join(bad[:6])))


def main(argv):
    if len(argv) != 1:
        print('usage: checker.py DIR')
        return 2
    d = argv[0]
    rep, viol = [], []
    summ = {}
    p = os.path.join(d, 'summary.json')
    if os.path.exists(p):
        with open(p) as f:
            summ = json.load(f)
    else:
        viol.append('no summary.json (the run did not finish)')
    nem = jsonl(os.path.join(d, 'nemesis.jsonl')) if os.path.exists(
        os.path.join(d, 'nemesis.jsonl')) else []
    polls = jsonl(os.path.join(d, 'status.jsonl')) if os.path.exists(
        os.path.join(d, 'status.jsonl')) else []
    rep.append('seed %s (the nemesis draws from it, each endpoint from '
               '"%s/<name>", the operations from "%s/ops"), %s nodes, %ss '
               'of faults (%s)' % (
                   summ.get('seed'), summ.get('seed'), summ.get('seed'),
                   summ.get('nodes'), summ.get('duration'),
                   ','.join(summ.get('kinds', []))))
    rep.append('logs: %s (ep-*.jsonl, nemesis.jsonl, status.jsonl, '
               'c/n*/mmpd.log)' % os.path.abspath(d))
    rep.append('faults: %s' % ', '.join('%s %d' % kv for kv in
                                        summ.get('faults', {}).items()))
    rep.append('operations: %s; endpoint reconnects %s' % (
        ', '.join('%s %d' % kv for kv in summ.get('ops', {}).items()),
        summ.get('reconnects')))
    conv = summ.get('convergence')
    rep.append('convergence: %s' % ('agreement %.2fs after healing' % conv
                                    if conv is not None else 'NONE'))
    if summ and conv is None:
        viol.append('convergence: no agreement within the bound after '
                    'healing')
    eps = delivery(d, rep, viol, nem)
    state(d, rep, viol)
    leaders(d, polls, rep, viol)
    bound = (summ.get('noquorum_bound') or [8, '?'])
    quorum(polls, eps, nem, float(bound[0]), summ.get('election'), rep,
           viol)
    pend = [e.get('pending') for e in nem if e['ev'] == 'finished']
    if pend and pend[-1]:
        rep.append('not accepted at the end (no session took them): %s' %
                   ', '.join('%s %d' % kv for kv in sorted(
                       pend[-1].items())))
    notes = {}
    for e in nem:
        if e['ev'] in NOTES or (e['ev'] == 'join' and e['rc']):
            notes.setdefault(e['ev'] if e['ev'] != 'join' else
                             'join refused', []).append(e)
    for k, es in sorted(notes.items()):
        rep.append('note: %s %d times, first: %s' % (
            k, len(es), es[0].get('err') or es[0].get('why') or
            es[0].get('node')))
    t0 = min([e['t'] for e in nem if e['ev'] == 'traffic'] or [0])
    for k, what in MEMBERSHIP.items():
        per = {}
        for e in notes.get(k, ()):
            per.setdefault(e['node'], []).append(e)
        for node, es in sorted(per.items()):
            viol.append('membership: %s %s (%s at +%.1fs%s)' % (
                node, what, es[0].get('err') or es[0].get('why'),
                es[0]['t'] - t0, ', %d times in all' % len(es)
                if len(es) > 1 else ''))
    for ln in rep:
        print('  ' + ln)
    for v in viol:
        print('VIOLATION %s' % v)
    print('faults: %s (seed %s, %d violations)' % (
        'PASS' if not viol else 'FAIL', summ.get('seed'), len(viol)))
    return 1 if viol else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
