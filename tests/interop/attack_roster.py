"""Roster floods (issue 10, finding 4), as alice on raw streams: items
past the per-roster caps (by roster set and by subscription requests),
names and groups past their lengths, too many groups; each must get the
stanza error the man page names. Afterwards <presence/> and a roster get
must still be answered at once, and mmpd's resident memory must not have
grown by more than a generous bound. Every test removes the items it
made, so the tests after it see alice's roster as it was.

    attack_roster.py [test ...]     the named tests, or all of them
"""

import os
import sys

from ixlib import (NS_CLIENT, NS_STANZA_ERR, check, local, login, ns,
                   registry, tostr)

NS_ROSTER = 'jabber:iq:roster'
# The limits of man/mmpd.8 (LIMITS, rosters).
MAX_ITEMS = 1000
MAX_NAME = 1023
MAX_GROUP = 1023
MAX_GROUPS = 16
MAX_BYTES = 256 * 1024
# Generous: the unbounded server grew by hundreds of megabytes.
RSS_GROWTH = 64 * 1024 * 1024
ASAN_QUARANTINE = 320 * 1024 * 1024
FLOOD = 'flood.example.net'
BATCH = 100

TESTS, test = registry()


def mem(field):
    """A size from mmpd's /proc status in bytes (MMPD_PID is exported by
    tests/interop/run): VmRSS now, VmHWM the peak so far."""
    with open('/proc/%s/status' % os.environ['MMPD_PID']) as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) * 1024
    raise AssertionError('no %s for mmpd' % field)


def sanitized():
    """Whether mmpd runs with AddressSanitizer (make check SAN=1)."""
    with open('/proc/%s/maps' % os.environ['MMPD_PID']) as f:
        return 'libasan' in f.read()


def check_growth(before):
    """The peak of mmpd's memory since resident size before stays within
    RSS_GROWTH of it; with AddressSanitizer, whose quarantine holds up to
    256 MiB of freed memory, within that much more."""
    bound = RSS_GROWTH + (ASAN_QUARANTINE if sanitized() else 0)
    grown = mem('VmHWM') - before
    check(grown < bound, 'mmpd grew by %d MiB (bound %d MiB)' %
          (grown >> 20, bound >> 20))


def esc(s):
    """s escaped for a single-quoted attribute or for text."""
    return (s.replace('&', '&amp;').replace('<', '&lt;')
            .replace('>', '&gt;').replace("'", '&apos;'))


class Seq:
    """Stanza ids that no other test uses."""
    n = 0

    @classmethod
    def next(cls, what):
        cls.n += 1
        return 'ros-%s-%d' % (what, cls.n)


def item_set(jid, name=None, groups=(), raw_groups=None):
    """(id, text) of a roster set for one item."""
    ident = Seq.next('set')
    attrs = " jid='%s'" % esc(jid)
    if name is not None:
        attrs += " name='%s'" % esc(name)
    body = raw_groups if raw_groups is not None else ''.join(
        '<group>%s</group>' % esc(g) for g in groups)
    return ident, ("<iq type='set' id='%s'><query xmlns='%s'><item%s>%s"
                   "</item></query></iq>" % (ident, NS_ROSTER, attrs, body))


def item_remove(jid):
    """(id, text) of a roster set that removes an item."""
    ident = Seq.next('rm')
    return ident, ("<iq type='set' id='%s'><query xmlns='%s'><item jid='%s' "
                   "subscription='remove'/></query></iq>" %
                   (ident, NS_ROSTER, esc(jid)))


def answers(r, ids, what='roster answers'):
    """Wait for the iq answers to ids (pushes and presences are skipped);
    a dict id -> element."""
    want = set(ids)
    got = {}
    while want:
        el = r.next(what='%s (%d left)' % (what, len(want)))
        if el.tag == '{%s}iq' % NS_CLIENT and el.get('id') in want and \
                el.get('type') in ('result', 'error'):
            want.discard(el.get('id'))
            got[el.get('id')] = el
    return got


def exchange(r, reqs):
    """Send (id, text) requests in batches; the answers in order."""
    out = []
    for i in range(0, len(reqs), BATCH):
        part = reqs[i:i + BATCH]
        r.send(''.join(text for _, text in part))
        got = answers(r, [ident for ident, _ in part])
        out += [got[ident] for ident, _ in part]
    return out


def cond(el):
    """'result', or the stanza error condition of an answer."""
    if el.get('type') == 'result':
        return 'result'
    e = el.find('{%s}error' % NS_CLIENT)
    check(e is not None, 'error without <error/>: %s' % tostr(el))
    conds = [local(k.tag) for k in e if ns(k.tag) == NS_STANZA_ERR and
             local(k.tag) != 'text']
    check(len(conds) == 1, 'no single condition: %s' % tostr(el))
    return conds[0]


def expect(r, req, want, what):
    """Send one request; its answer must be want ('result' or a condition)."""
    got = cond(exchange(r, [req])[0])
    check(got == want, '%s: answered %s, expected %s' % (what, got, want))


def roster_get(r):
    """A roster get on r; the list of <item/> elements."""
    ident = Seq.next('get')
    r.send("<iq type='get' id='%s'><query xmlns='%s'/></iq>" %
           (ident, NS_ROSTER))
    el = answers(r, [ident], 'the roster')[ident]
    check(el.get('type') == 'result', 'roster get: %s' % tostr(el))
    return list(el.iter('{%s}item' % NS_ROSTER))


def roster_now():
    """Alice's roster JIDs, from a stream of its own."""
    r = login('alice', 'ros-peek')
    try:
        return [it.get('jid') for it in roster_get(r)]
    finally:
        r.close()


def cleanup():
    """Remove every item of alice's roster on the flood domain."""
    r = login('alice', 'ros-clean')
    try:
        left = [j for j in [it.get('jid') for it in roster_get(r)]
                if j.endswith('@' + FLOOD)]
        r.close()
        r = login('alice', 'ros-clean')     # no pushes on this one
        exchange(r, [item_remove(j) for j in left])
    finally:
        r.close()
    check(not [j for j in roster_now() if j.endswith('@' + FLOOD)],
          'the flood items were not all removed')


def flood_jid(i):
    """The i-th contact of the floods."""
    return 'f%04d@%s' % (i, FLOOD)


@test
def roster_item_cap():
    """Fill alice's roster to the item cap by roster sets: one item more
    is refused with policy-violation, and so is a subscription request to
    a new contact (it would add an item too); changing an item that is
    there still works; unsubscribing from a contact who is not there adds
    nothing. Then <presence/> and a roster get are answered at once and
    memory did not grow past the bound."""
    before = mem('VmRSS')
    try:
        have = len(roster_now())
        room = MAX_ITEMS - have
        check(room > 0, 'alice already has %d items' % have)
        r = login('alice', 'ros-flood')
        try:
            got = exchange(r, [item_set(flood_jid(i), 'n%d' % i, ['g'])
                               for i in range(room)])
            bad = [cond(el) for el in got if cond(el) != 'result']
            check(not bad, 'items under the cap refused: %s' % bad[:3])
            got = [cond(el) for el in exchange(r, [
                item_set(flood_jid(room + i), 'x') for i in range(5)])]
            check(got == ['policy-violation'] * 5,
                  'items past the cap of %d answered %s' % (MAX_ITEMS, got))
            expect(r, item_set(flood_jid(0), 'renamed', ['h']), 'result',
                   'changing an item of a full roster')
            sub = flood_jid(room + 10)
            r.send("<presence type='subscribe' to='%s' id='ros-sub'/>" % sub)
            while True:
                el = r.next(what='the subscription request refused')
                if el.tag == '{%s}presence' % NS_CLIENT:
                    break
            check(el.get('type') == 'error' and el.get('from') == sub,
                  'subscription past the cap: %s' % tostr(el))
            e = el.find('{%s}error' % NS_CLIENT)
            check(e is not None and e.find('{%s}policy-violation' %
                                           NS_STANZA_ERR) is not None,
                  'subscription past the cap: %s' % tostr(el))
            r.send("<presence type='unsubscribe' to='%s'/>"
                   "<presence type='unsubscribed' to='%s'/>" %
                   (flood_jid(room + 11), flood_jid(room + 12)))
            # Still answered at once, with exactly the cap.
            r.send('<presence/>')
            while True:
                el = r.next(what='our own presence back')
                if el.tag == '{%s}presence' % NS_CLIENT and \
                        el.get('from') == r.jid and el.get('type') is None:
                    break
            items = roster_get(r)
            check(len(items) == MAX_ITEMS, 'the full roster has %d items' %
                  len(items))
            check_growth(before)
        finally:
            r.close()
    finally:
        cleanup()


@test
def roster_lengths():
    """Names and groups one byte past their caps (bytes, not characters),
    one group too many, an empty group, a group with a control character:
    not-acceptable. Duplicate groups: bad-request (RFC 6121 2.3.3). The
    longest allowed of each is stored as sent."""
    r = login('alice', 'ros-len')
    try:
        j = flood_jid(1)
        expect(r, item_set(j, 'a' * (MAX_NAME + 1)), 'not-acceptable',
               'a name of %d bytes' % (MAX_NAME + 1))
        expect(r, item_set(j, '\u00e9' * ((MAX_NAME + 1) // 2)),
               'not-acceptable', 'a name of %d two-byte characters' %
               ((MAX_NAME + 1) // 2))
        expect(r, item_set(j, 'n', ['g' * (MAX_GROUP + 1)]),
               'not-acceptable', 'a group of %d bytes' % (MAX_GROUP + 1))
        expect(r, item_set(j, 'n', ['g%d' % i for i in
                                    range(MAX_GROUPS + 1)]),
               'not-acceptable', '%d groups' % (MAX_GROUPS + 1))
        expect(r, item_set(j, 'n', raw_groups='<group/>'), 'not-acceptable',
               'an empty group')
        expect(r, item_set(j, 'n', ['a\nb']), 'not-acceptable',
               'a group with a newline')
        expect(r, item_set(j, 'n', ['same', 'other', 'same']),
               'bad-request', 'duplicate groups')
        check(flood_jid(1) not in roster_now(),
              'a refused item is in the roster')
        groups = ['%02d' % i + 'g' * (MAX_GROUP - 2) for i in
                  range(MAX_GROUPS)]
        expect(r, item_set(j, 'n' * MAX_NAME, groups), 'result',
               'the longest name and groups allowed')
        items = [it for it in roster_get(r) if it.get('jid') == j]
        check(len(items) == 1 and items[0].get('name') == 'n' * MAX_NAME and
              sorted(g.text for g in items[0].iter('{%s}group' % NS_ROSTER))
              == groups, 'the item was not stored as sent')
        expect(r, item_remove(flood_jid(2)), 'item-not-found',
               'removing an item that is not there')
    finally:
        r.close()
        cleanup()


@test
def roster_byte_cap():
    """Items as large as allowed (the longest name, the most and longest
    groups) until the roster's bytes pass their cap: policy-violation
    from then on, and the roster get that follows carries no more."""
    before = mem('VmRSS')
    name = 'n' * MAX_NAME
    groups = ['%02d' % i + 'g' * (MAX_GROUP - 2) for i in range(MAX_GROUPS)]
    size = len(flood_jid(0)) + MAX_NAME + MAX_GROUPS * (MAX_GROUP + 1) - 1
    tries = MAX_BYTES // size + 5
    r = login('alice', 'ros-bytes')
    try:
        got = [cond(el) for el in exchange(r, [
            item_set(flood_jid(i), name, groups) for i in range(tries)])]
        ok = got.count('result')
        check(ok >= 1 and got == ['result'] * ok +
              ['policy-violation'] * (tries - ok),
              'fat items answered %s' % got)
        check(ok <= MAX_BYTES // size, '%d items of %d bytes stored' %
              (ok, size))
        items = roster_get(r)
        total = sum(len(it.get('jid').encode()) +
                    len((it.get('name') or '').encode()) +
                    len('\n'.join(g.text for g in it.iter(
                        '{%s}group' % NS_ROSTER)).encode()) for it in items)
        check(total <= MAX_BYTES, 'the roster holds %d bytes' % total)
        check_growth(before)
    finally:
        r.close()
        cleanup()


if __name__ == '__main__':
    sys.exit(__import__('ixlib').main(TESTS, sys.argv[1:]))
