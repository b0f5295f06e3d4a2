"""The checker checked: run directories written by hand, each with one
kind of violation (or none), and what checker.py must say of them.

    checker_test.py       prints PASS/FAIL faults/checker/<case>; exit 1
                          if any failed
"""

import contextlib
import io
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checker  # noqa: E402

T0 = 1000.0


def ev(t, name, **kw):
    kw.update(t=T0 + t, ev=name)
    return kw


def clean():
    """Two endpoints, a and b, on n1 and n2; a sends b #0 and #1, both
    accepted and delivered; b sends a #0, accepted and bounced; two
    nodes with the same state, one leader in term 2."""
    eps = {
        'a': [ev(0, 'conn', epoch=1, node='n1'),
              ev(1, 'sent', epoch=1, to='b', seq=0, id='a-1'),
              ev(1, 'sent', epoch=1, to='b', seq=1, id='a-2'),
              ev(1.1, 'acc', epoch=1, ids=['a-1', 'a-2'])],
        'b': [ev(0, 'conn', epoch=1, node='n2'),
              ev(1, 'sent', epoch=1, to='a', seq=0, id='b-1'),
              ev(1.05, 'recv', frm='a', seq=0, id='a-1'),
              ev(1.06, 'recv', frm='a', seq=1, id='a-2'),
              ev(1.1, 'acc', epoch=1, ids=['b-1']),
              ev(1.2, 'err', id='b-1')],
    }
    st = {'accounts': {'a': 'x', 'b': 'y'}, 'rosters': [['a', 'b@d']],
          'callbridge secrets': {'cb1': 'z'}, 'members': ['1', '2']}
    polls = [{'t': T0 + k / 2, 'node': n, 'rc': 0, 'state': s, 'term': '2',
              'quorum': True, 'addrs': ['127.0.0.1:9', '127.0.0.2:9']}
             for k in range(20) for n, s in (('n1', 'LEADER'),
                                             ('n2', 'FOLLOWER'))]
    summ = {'seed': 7, 'nodes': 2, 'duration': 10, 'kinds': ['kill'],
            'faults': {'kill': 1}, 'ops': {}, 'convergence': 0.5,
            'reconnects': 0, 'noquorum_bound': [3, 'test']}
    return {'eps': eps, 'state': {'n1': st, 'n2': json.loads(
        json.dumps(st))}, 'polls': polls, 'summary': summ, 'logs': {},
        'nem': []}


def write(d, run):
    for n, evs in run['eps'].items():
        with open(os.path.join(d, 'ep-%s.jsonl' % n), 'w') as f:
            f.writelines(json.dumps(e) + '\n' for e in evs)
    with open(os.path.join(d, 'status.jsonl'), 'w') as f:
        f.writelines(json.dumps(p) + '\n' for p in run['polls'])
    with open(os.path.join(d, 'state.json'), 'w') as f:
        json.dump(run['state'], f)
    with open(os.path.join(d, 'summary.json'), 'w') as f:
        json.dump(run['summary'], f)
    with open(os.path.join(d, 'nemesis.jsonl'), 'w') as f:
        f.writelines(json.dumps(e) + '\n' for e in run['nem'])
    for n, text in run['logs'].items():
        os.makedirs(os.path.join(d, 'c', n), exist_ok=True)
        with open(os.path.join(d, 'c', n, 'mmpd.log'), 'w') as f:
            f.write(text)


def lost(r):
    r['eps']['b'] = [e for e in r['eps']['b'] if e.get('id') != 'a-2']


def in_flight(r):
    # a-2 (accepted at 1.1) never reached b, whose connection to n2
    # dropped at 1.8: it was on its way to b; stream management's case.
    lost(r)
    r['eps']['b'].append(ev(1.8, 'down', epoch=1, node='n2'))


def in_flight_killed(r):
    # b's node n2 was killed at 2.5, 1.4 s after a-2 was accepted; b
    # noticed only at 6.
    lost(r)
    r['nem'].append(ev(2.5, 'kill', node='n2', hold=1))
    r['eps']['b'].append(ev(6, 'down', epoch=1, node='n2'))


def lost_told(r):
    # b's node sent it away with a stream error 0.5 s after a-2 was
    # accepted: the server closed the stream itself and had to answer
    # a-2 (or have written it before the error): a loss.
    lost(r)
    r['eps']['b'] += [ev(1.6, 'stream-error', epoch=1,
                         cond='system-shutdown'),
                      ev(1.6, 'down', epoch=1, node='n2')]


def lost_down_later(r):
    # b's connection dropped 3.9 s after a-2 was accepted: too late to
    # be in flight, a loss.
    lost(r)
    r['eps']['b'].append(ev(5, 'down', epoch=1, node='n2'))


def lost_other_kill(r):
    # n1 (the sender's node, not the recipient's) was killed right after
    # a-2 was accepted: still a loss.
    lost(r)
    r['nem'].append(ev(1.2, 'kill', node='n1', hold=1))
    r['eps']['a'].append(ev(1.2, 'down', epoch=1, node='n1'))


def lost_no_session(r):
    # b had no session when a-2 was sent (it came back at 1.5) and its
    # later session dropped: no message was on its way to it.
    lost(r)
    b = r['eps']['b']
    b.insert(1, ev(0.5, 'down', epoch=1, node='n2'))
    b.insert(2, ev(1.5, 'conn', epoch=2, node='n1'))
    b.append(ev(1.9, 'down', epoch=2, node='n1'))


def stray(r):
    # The nemesis found n2 missing from the leader's list though no
    # remove of it had succeeded.
    r['nem'].append(ev(3, 'stray-member', node='n2',
                       why='n1 lists [127.0.0.1:9]'))


def stray_again(r):
    # Found stray at three audits: one violation, counted.
    for t in (3, 4, 5):
        r['nem'].append(ev(t, 'stray-member', node='n2',
                           why='n1 lists [127.0.0.1:9]'))


def join_ok_not_member(r):
    # xmpp cluster join said it was done; the leader did not list n2.
    r['nem'].append(ev(3, 'join-ok-not-member', node='n2', via='n1',
                       why='n1 lists [127.0.0.1:9]'))


def remove_lied(r):
    # xmpp cluster remove said it failed; the leader then listed n2 no
    # more.
    r['nem'] += [ev(3, 'leave', node='n2'),
                 ev(4, 'leave-failed-but-left', node='n2',
                    err='raft kept refusing the change')]


def remove_unknown(r):
    # xmpp cluster remove said its outcome was unknown, and it had
    # happened: no violation (it was checked and joined again).
    r['nem'] += [ev(3, 'leave', node='n2'),
                 ev(4, 'leave-unknown-left', node='n2',
                    err='outcome unknown'),
                 ev(5, 'join', node='n2', via='n1', rc=0, err='')]


def dup(r):
    r['eps']['b'].append(ev(2, 'recv', frm='a', seq=1, id='a-2'))


def resent_twice(r):
    # a's session ended before its ping: #1 went again and came twice.
    a = r['eps']['a']
    a[3] = ev(1.1, 'acc', epoch=1, ids=['a-1'])
    a += [ev(1.2, 'down', epoch=1, node='n1'),
          ev(1.5, 'conn', epoch=2, node='n2'),
          ev(1.6, 'sent', epoch=2, to='b', seq=1, id='a-3'),
          ev(1.7, 'acc', epoch=2, ids=['a-3'])]
    r['eps']['b'].append(ev(1.65, 'recv', frm='a', seq=1, id='a-3'))


def disorder(r):
    b = r['eps']['b']
    b[2], b[3] = b[3], b[2]


def state(r):
    r['state']['n2']['rosters'] = []


def members(r):
    r['state']['n2']['members'] = ['1']


def two_leaders(r):
    r['logs'] = {'n1': 'x mmpd: leader in term 3, leader 127.0.0.1:9\n',
                 'n2': 'x mmpd: leader in term 3, leader 127.0.0.2:9\n'}


def listed_twice(r):
    r['polls'][5]['addrs'] = ['127.0.0.1:9', '127.0.0.1:9']


def overstay(r):
    # n2 says no quorum from 2 s to 9.5 s; b stays on it all along.
    for p in r['polls']:
        if p['node'] == 'n2' and p['t'] >= T0 + 2:
            p['quorum'] = False


def short_noquorum(r):
    # No quorum for less than the bound: no violation.
    for p in r['polls']:
        if p['node'] == 'n2' and T0 + 2 <= p['t'] <= T0 + 4:
            p['quorum'] = False


def quorum_heard(r):
    # n2 says no quorum from 4 s (its status did not answer between 1 s
    # and 4 s), having last heard its leader 3 s before (at 1 s); b
    # leaves it at 7 s: within 3 + 1.5 s of the first poll, but past
    # 2 x 0.5 + 2.5 + 0.5 s after the node lost its quorum.
    r['summary']['election'] = 0.5
    r['polls'] = [p for p in r['polls'] if p['node'] != 'n2' or
                  not T0 + 1 < p['t'] < T0 + 4]
    first = True
    for p in r['polls']:
        if p['node'] == 'n2' and p['t'] >= T0 + 4:
            p['quorum'] = False
            p['heard'] = [['127.0.0.1:9', 3.0 if first else None]]
            first = False
    r['eps']['b'].append(ev(7, 'down', epoch=1, node='n2'))


def quorum_config(r):
    # n2 led with quorum until 4 s; at 4.5 s a membership change left
    # it with a peer it last heard 40 s before: it lost quorum after its
    # last poll with quorum (4 s), not 40 s before; b leaves at 7.8 s,
    # in time (4 + 2 x 0.5 + 2.5 + 0.5).
    r['summary']['election'] = 0.5
    for p in r['polls']:
        if p['node'] == 'n2' and p['t'] >= T0 + 4.5:
            p['quorum'] = False
            p['heard'] = [['127.0.0.1:9', 40.0]]
    r['eps']['b'].append(ev(7.8, 'down', epoch=1, node='n2'))


def quorum_paused(r):
    # n2 says no quorum from 2 s, but it was stopped from 2.5 s to 4 s:
    # its clock runs from 4 s; b leaves at 8.3 s, in time.
    r['summary']['election'] = 0.5
    overstay(r)
    r['nem'] += [ev(2.5, 'pause', node='n2', hold=1.5),
                 ev(4, 'resumed', node='n2')]
    r['eps']['b'].append(ev(8.3, 'down', epoch=1, node='n2'))


def sm(r, who, on=True):
    """Endpoint who's first session had stream management."""
    r['eps'][who][0]['sm'] = on
    r['eps'][who][0]['sms'] = 1


def sm_in_flight(r):
    # As in-flight, but b had stream management: its session resumes
    # anywhere (or what the server held goes offline): a loss.
    in_flight(r)
    sm(r, 'b')


def sm_in_flight_killed(r):
    # As in-flight-killed, b with stream management: a loss.
    in_flight_killed(r)
    sm(r, 'b')


def sm_resumed(r):
    # b with stream management; n2 killed at 1.055, after a-1 arrived:
    # b resumed on n1 at 1.5 and a-2 came then: no violation.
    sm(r, 'b')
    b = r['eps']['b']
    b.remove([e for e in b if e.get('id') == 'a-2'][0])
    r['nem'].append(ev(1.055, 'kill', node='n2', hold=1))
    b += [ev(1.06, 'down', epoch=1, node='n2'),
          ev(1.5, 'conn', epoch=2, node='n1', sm=True, sms=1, resumed=True,
             prev=1),
          ev(1.51, 'recv', frm='a', seq=1, id='a-2')]


def sm_acked_twice(r):
    # a with stream management: #1 (a-2) acknowledged by <a h/>, the
    # stream broke, a resumed and sent #1 again as a new attempt; both
    # arrived: the server had told a it had #1.
    sm(r, 'a')
    a = r['eps']['a']
    a[3] = ev(1.1, 'acc', epoch=1, ids=['a-1', 'a-2'], by='ack')
    a += [ev(1.2, 'down', epoch=1, node='n1'),
          ev(1.5, 'conn', epoch=2, node='n2', sm=True, sms=1, resumed=True,
             prev=1),
          ev(1.6, 'sent', epoch=2, to='b', seq=1, id='a-3'),
          ev(1.7, 'acc', epoch=2, ids=['a-3'], by='ack')]
    r['eps']['b'].append(ev(1.65, 'recv', frm='a', seq=1, id='a-3'))


def sm_failed_twice(r):
    # a with stream management: #1 (a-2) not acknowledged when the
    # stream broke; the resumption failed, a sent #1 again and both
    # arrived: a could not know.
    sm(r, 'a')
    a = r['eps']['a']
    a[3] = ev(1.1, 'acc', epoch=1, ids=['a-1'], by='ack')
    a += [ev(1.2, 'down', epoch=1, node='n1'),
          ev(1.5, 'resume-failed', epoch=1, sms=1, why='item-not-found'),
          ev(1.5, 'conn', epoch=2, node='n2', sm=True, sms=2),
          ev(1.6, 'sent', epoch=2, to='b', seq=1, id='a-3'),
          ev(1.7, 'acc', epoch=2, ids=['a-3'], by='ack')]
    r['eps']['b'].append(ev(1.65, 'recv', frm='a', seq=1, id='a-3'))


def sm_h_back(r):
    # a resumed, and the server's <resumed h/> was behind what it had
    # acknowledged before.
    sm_resumed(r)
    r['eps']['b'].insert(-1, ev(1.5, 'sm-protocol', epoch=1,
                                what="<resumed h='3'/> behind the last "
                                "ack 7"))


def no_convergence(r):
    r['summary']['convergence'] = None


CASES = [  # (name, change, violation expected (a substring) or None
    #           [, a line the report must hold])
    ('clean', None, None),
    ('lost', lost, 'VIOLATION lost: 1 accepted'),
    ('in-flight', in_flight, None,
     'lost in flight to a recipient whose node died: 1'),
    ('in-flight-killed', in_flight_killed, None,
     'lost in flight to a recipient whose node died: 1'),
    ('lost-told', lost_told, 'VIOLATION lost: 1 accepted'),
    ('lost-down-later', lost_down_later, 'VIOLATION lost: 1 accepted'),
    ('lost-sender-killed', lost_other_kill, 'VIOLATION lost: 1 accepted',
     'lost otherwise: 1 (1 of them'),
    ('lost-no-session', lost_no_session, 'VIOLATION lost: 1 accepted'),
    ('stray-member', stray, 'VIOLATION membership: n2 is no member'),
    ('stray-again', stray_again, 'VIOLATION membership: n2 is no member',
     '3 times in all'),
    ('join-ok-not-member', join_ok_not_member,
     'VIOLATION membership: n2 is no member though its xmpp cluster join'),
    ('remove-lied', remove_lied, 'VIOLATION membership: n2 left'),
    ('remove-unknown', remove_unknown, None,
     'note: leave-unknown-left 1 times'),
    ('duplicate', dup, 'VIOLATION duplicated: 1 attempts'),
    ('resent-twice', resent_twice, None),
    ('order', disorder, 'VIOLATION order: 1 pairs'),
    ('state', state, 'VIOLATION state: rosters differ'),
    ('members', members, 'VIOLATION state: members differ'),
    ('two-leaders', two_leaders, 'VIOLATION leaders: term 3 had n1 and n2'),
    ('listed-twice', listed_twice, 'VIOLATION listing: 1 polls'),
    ('quorum-overstay', overstay, 'VIOLATION quorum: 1 sessions'),
    ('quorum-short', short_noquorum, None),
    ('quorum-heard', quorum_heard, 'VIOLATION quorum: 1 sessions'),
    ('quorum-paused', quorum_paused, None),
    ('quorum-config', quorum_config, None),
    ('convergence', no_convergence, 'VIOLATION convergence'),
    ('sm-in-flight', sm_in_flight, 'VIOLATION lost: 1 accepted',
     'to a recipient with stream management'),
    ('sm-in-flight-killed', sm_in_flight_killed,
     'VIOLATION lost: 1 accepted'),
    ('sm-resumed', sm_resumed, None,
     'stream management: 1 endpoints, 1 sessions, 1 resumptions (1 on '
     'another node), 0 failed'),
    ('sm-acked-twice', sm_acked_twice, 'VIOLATION duplicated: 1 accepted '
     'messages from a sender with stream management'),
    ('sm-failed-twice', sm_failed_twice, None,
     '1 resent and arrived twice'),
    ('sm-h-back', sm_h_back, "VIOLATION stream management: 1 times the "
     "server's h was wrong"),
]


def main():
    failed = 0
    for name, change, want, *line in CASES:
        r = clean()
        if change:
            change(r)
        d = tempfile.mkdtemp(prefix='mmp-faults-checker.')
        try:
            write(d, r)
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                rc = checker.main([d])
        finally:
            shutil.rmtree(d, ignore_errors=True)
        text = out.getvalue()
        viols = [ln for ln in text.splitlines()
                 if ln.startswith('VIOLATION')]
        if want is None:
            ok = rc == 0 and not viols
        else:
            ok = rc == 1 and len(viols) == 1 and viols[0].startswith(want)
        ok = ok and all(x in text for x in line)
        if ok:
            print('PASS faults/checker/%s' % name)
        else:
            failed += 1
            print('FAIL faults/checker/%s: exit %d, expected %s' % (
                name, rc, want or 'no violation') +
                  (' and %r' % line[0] if line else ''))
            for ln in text.splitlines():
                print('    ' + ln)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
