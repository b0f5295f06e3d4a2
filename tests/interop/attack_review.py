"""Attacks from the security review of the XMPP server (notes
review-xmpp.txt, findings 1, 2 and 4): a stanza whose tree is a hundred
times its size, SCRAM proofs checked past the per-address limit because
the exchanges began before the first failure, and many sessions of one
account that together flood a slow reader.

    attack_review.py --list       the tests
    attack_review.py [test ...]   the named tests, or all of them

The attackers that run into per-address limits connect from 127.0.0.201
and up, which no other test uses.
"""

import base64
import os
import sys
import time

from ixlib import (NS_CLIENT, NS_SASL, USERS, Closed, Failed, b64, check,
                   local, login, main, mmp, ping_server, registry,
                   sasl_stage, tostr)

TESTS, test = registry()

# man/mmpd.8, LIMITS: 10 wrong passwords a minute from one address.
AUTHFAIL_ADDR = 10
SCRAMMER = '127.0.0.201'


@test
def ns_amplify():
    """One 250 KB message declares 15 prefixes with 8,000-byte URIs on an
    outer element, then a thousand leaves use all 15: the tree gave each
    leaf its own copy of every declaration (121 MB, the loop stalled and
    the recipient was cut off as a slow reader). Now the sender's stream
    ends with policy-violation at once; the recipient and a bystander
    are served promptly."""
    bob = login('bob', 'amp-victim')
    alice = login('alice', 'amp')
    good = login('alice', 'amp-pinger')
    try:
        ping_server(bob, 'amp-b0')
        decls = ' '.join("xmlns:p%d='u%d%s'" % (k, k, 'x' * 7990)
                         for k in range(15))
        leaf = '<a ' + ' '.join("p%d:a=''" % k for k in range(15)) + '/>'
        head = "<message to='%s' id='amp'><x %s>" % (bob.jid, decls)
        n = (250000 - len(head) - 30) // len(leaf)
        t = time.monotonic()
        alice.send(head + leaf * n + '</x></message>', timeout=30)
        text = alice.expect_stream_error('policy-violation', timeout=10)
        took = time.monotonic() - t
        check('namespace' in (text or ''), 'error text %r' % text)
        worst = max(ping_server(good, 'amp-g%d' % q, 0.2)
                    for q in range(10))
        ping_server(bob, 'amp-b1', 1.0)
        got = [el for el in bob.stanzas
               if el.tag == '{%s}message' % NS_CLIENT]
        check(not got, 'bob got the message: %s' % tostr(got[0])
              if got else '')
        print('ns-amplify: sender closed after %.2fs, bystander ping '
              'at worst %.3fs, recipient still served' % (took, worst))
    finally:
        for r in (bob, alice, good):
            r.close()


@test
def scram_parallel():
    """30 SCRAM-SHA-1 exchanges from one address (of the 32
    unauthenticated streams it may hold) all reach the challenge before
    any proof is sent, then 30 wrong proofs: at most the limit (10) are
    checked and answered not-authorized, the rest get
    temporary-auth-failure. (The limit was checked only at <auth>: all
    30 proofs were checked.)"""
    streams = [sasl_stage(SCRAMMER) for i in range(30)]
    res = {}
    try:
        nonces = []
        for r in streams:
            cn = base64.b64encode(os.urandom(18)).decode()
            r.send("<auth xmlns='%s' mechanism='SCRAM-SHA-1'>%s</auth>" %
                   (NS_SASL, b64('n,,n=alice,r=' + cn)))
        for r in streams:
            el = r.next(what='a challenge')
            check(local(el.tag) == 'challenge', 'got %s' % tostr(el))
            sf = base64.b64decode(el.text).decode()
            nonces.append(dict(kv.split('=', 1)
                               for kv in sf.split(','))['r'])
        for r, nonce in zip(streams, nonces):
            r.push("<response xmlns='%s'>%s</response>" % (
                NS_SASL, b64('c=biws,r=%s,p=%s' % (
                    nonce, base64.b64encode(b'x' * 20).decode()))))
        for r in streams:
            el = r.next(what='the SASL outcome')
            k = local(el[0].tag) if len(el) else local(el.tag)
            res[k] = res.get(k, 0) + 1
    finally:
        for r in streams:
            r.close()
    bad = res.pop('not-authorized', 0)
    temp = res.pop('temporary-auth-failure', 0)
    check(not res, 'unexpected outcomes %r' % res)
    check(bad <= AUTHFAIL_ADDR, '%d wrong SCRAM proofs checked from one '
          'address, the limit is %d' % (bad, AUTHFAIL_ADDR))
    check(bad + temp == 30, 'outcomes: %d not-authorized, %d '
          'temporary-auth-failure' % (bad, temp))
    print('scram-parallel: %d not-authorized, %d temporary-auth-failure'
          % (bad, temp))


@test
def multi_stream_flood():
    """40 sessions of one account (mallory) each send a 240 KB burst
    (within a stream's own burst) to bob, who reads nothing for 3 s:
    shaping per stream let all 9.6 MB through and bob was closed as a
    slow reader. The account's streams share a bucket now: bob stays
    connected and is answered once he reads."""
    # An account of its own: its streams share one bucket, and the
    # pinger that runs beside the hostile tests is alice.
    mmp('xmpp', 'user', 'add', 'mallory', stdin='mallorypw\nmallorypw\n',
        ok=False)
    USERS['mallory'] = 'mallorypw'
    bob = login('bob', 'msf-victim')
    fl = [login('mallory', 'msf%d' % i) for i in range(40)]
    try:
        body = 'z' * 4000
        for k, f in enumerate(fl):
            f.push(''.join(
                "<message to='%s' id='m%d_%d'><body>%s</body></message>" %
                (bob.jid, k, i, body) for i in range(60)))
        # Write what each socket takes, for 3 s, while bob reads nothing.
        end = time.monotonic() + 3
        while time.monotonic() < end:
            for f in fl:
                f.push()
            time.sleep(0.01)
        # Now bob reads: his ping comes after what was queued for him.
        t = time.monotonic()
        try:
            ping_server(bob, 'msf-ping', 30.0)
        except Closed as e:
            raise Failed('bob was cut off: %s' % e)
        msgs = sum(1 for el in bob.stanzas
                   if el.tag == '{%s}message' % NS_CLIENT)
        print('multi-stream-flood: bob stayed, %d messages before his '
              'ping, read in %.1fs' % (msgs, time.monotonic() - t))
    finally:
        for r in fl + [bob]:
            r.close()


if __name__ == '__main__':
    sys.exit(main(TESTS, sys.argv[1:]))
