"""Attacks on fairness and on authentication (issue 10, findings 6 and 7):
one sender must not be able to push another off the server, and nobody
may guess passwords at speed or stall the loop with PLAIN.

    attack_flood.py --list       the tests
    attack_flood.py [test ...]   the named tests, or all of them

The attackers connect from their own loopback addresses (127.0.0.77,
127.0.0.78, 127.0.0.100 to 199, 127.0.0.211 to 214) so that the
per-address limits they run into do not touch the other tests, which all
come from 127.0.0.1.
"""

import select
import sys
import time

from ixlib import (NS_CLIENT, NS_SASL, Closed, Failed, b64, check, local,
                   login, main, ping_server, registry, sasl_stage)

TESTS, test = registry()

# What the server promises (man/mmpd.8, LIMITS): a client stream is read
# at 64 KiB/s after a burst of 256 KiB; 10 authentication failures a
# minute from one address.
SHAPE_RATE = 64 * 1024
SHAPE_BURST = 256 * 1024
AUTHFAIL_ADDR = 10

GUESSER = '127.0.0.77'
QUEUER = '127.0.0.78'
# derive-queue needs more streams than one address may hold (32).
QUEUERS = [QUEUER] + ['127.0.0.%d' % i for i in range(211, 215)]


@test
def flood_slow_reader():
    """A client floods a slow reader with messages as fast as its socket
    takes them. The reader reads at four times the shaping rate: it
    must stay connected and keep receiving, and the flooder must be held
    near the shaping rate. (Unshaped, the reader's 4 MiB output limit
    fills within a couple of seconds and the server cuts it off.)"""
    victim = login('bob', 'victim')
    flooder = login('alice', 'flooder')
    body = 'x' * 4000
    stanza = ("<message to='%s' type='chat'><body>%s</body></message>" %
              (victim.jid, body)).encode()
    total = 8 * 1024 * 1024
    secs = 3.0
    read_rate = 4 * SHAPE_RATE
    sent = got = 0
    pending = b''
    try:
        t0 = time.monotonic()
        while True:
            now = time.monotonic() - t0
            if now >= secs or victim.closed:
                break
            want_w = [flooder.sock] if sent < total else []
            r, w, _ = select.select([victim.sock], want_w, [], 0.01)
            if w:
                if not pending:
                    pending = stanza * 16
                try:
                    n = flooder.sock.send(pending)
                    pending = pending[n:]
                    sent += n
                except (BlockingIOError, OSError):
                    pass
                if flooder.sock.pending():
                    flooder._recv()
            # The victim reads no faster than read_rate.
            if (r or victim.sock.pending()) and got < read_rate * now:
                try:
                    data = victim.sock.recv(16384)
                except (BlockingIOError, OSError) as e:
                    data = None
                    if not isinstance(e, BlockingIOError) and \
                            'WantRead' not in type(e).__name__:
                        victim.closed = 'reset'
                if data == b'':
                    victim.closed = 'EOF'
                elif data:
                    got += len(data)
                    victim._feed(data)
        check(not victim.closed and not victim.ended,
              'the slow reader was cut off after %.1fs (%d bytes read, '
              'the flooder wrote %d)' % (time.monotonic() - t0, got, sent))
        msgs = sum(1 for el in victim.stanzas
                   if el.tag == '{%s}message' % NS_CLIENT)
        check(msgs > 0, 'the reader received no messages')
        # The reader is still served: its ping is answered once the
        # messages before it are read.
        victim.stanzas.clear()
        try:
            ping_server(victim, 'victim-ping', 5.0)
        except Closed as e:
            raise Failed('the slow reader was cut off: %s' % e)
        # Every stanza the server took from the flooder went to the
        # reader, who keeps up: what the reader got is what the server
        # read, within the shaping bound and not starved either.
        hi = SHAPE_BURST + SHAPE_RATE * secs * 1.5 + 32 * 1024
        lo = SHAPE_RATE * secs * 0.5
        check(got <= hi, 'the flooder was not held back: the reader got '
              '%d bytes in %.0fs, more than %d' % (got, secs, hi))
        check(got >= lo, 'the flooder was starved: the reader got %d '
              'bytes in %.0fs, fewer than %d' % (got, secs, lo))
        print('flood-slow-reader: flooder wrote %d bytes, reader got %d '
              '(%d messages) in %.0fs' % (sent, got, msgs, secs))
    finally:
        victim.close()
        flooder.close()


@test
def burst_completes():
    """A client sends 480 KB of messages to itself in one go and then
    waits: shaping delays the part above the burst, but every message
    comes back, within what the rate allows and some seconds more."""
    r = login('alice', 'burst')
    try:
        n = 120
        body = 'z' * 4000
        r.send(''.join("<message to='%s' id='burst%d'><body>%s</body>"
                       "</message>" % (r.jid, i, body) for i in range(n)),
               timeout=30)
        bound = (n * 4100 - SHAPE_BURST) / SHAPE_RATE + 10
        t = time.monotonic()
        for i in range(n):
            el = r.expect('{%s}message' % NS_CLIENT, timeout=bound)
            check(el.get('id') == 'burst%d' % i, 'got %s' % el.get('id'))
        print('burst-completes: %d messages back in %.1fs' %
              (n, time.monotonic() - t))
    finally:
        r.close()


@test
def auth_guessing():
    """Wrong PLAIN passwords from one address: after the per-address
    limit every attempt is refused at once with temporary-auth-failure,
    even with the right password, while a client from another address
    logs in and pings promptly."""
    good = login('alice', 'guess-bystander')
    refused = None
    try:
        for i in range(4 * AUTHFAIL_ADDR):
            r = sasl_stage(GUESSER)
            try:
                check(not r.auth_plain('alice', 'guess%d' % i),
                      'guess %d was accepted' % i)
            finally:
                r.close()
            if r.sasl_failure == 'temporary-auth-failure':
                refused = i
                break
            check(r.sasl_failure == 'not-authorized',
                  'guess %d: failure %s' % (i, r.sasl_failure))
        check(refused is not None, '%d wrong passwords from %s and none '
              'refused' % (4 * AUTHFAIL_ADDR, GUESSER))
        check(refused <= AUTHFAIL_ADDR, 'refused only after %d failures' %
              refused)
        # Refused quickly, and the stream is closed.
        for i in range(5):
            r = sasl_stage(GUESSER)
            try:
                t = time.monotonic()
                check(not r.auth_plain('alice', 'more%d' % i),
                      'a guess was accepted')
                took = time.monotonic() - t
                check(r.sasl_failure == 'temporary-auth-failure',
                      'attempt after the limit: %s' % r.sasl_failure)
                check(took < 0.5, 'the refusal took %.2fs' % took)
                r.expect_stream_error('policy-violation')
            finally:
                r.close()
        # The right password from the limited address: refused too.
        r = sasl_stage(GUESSER)
        try:
            check(not r.auth_plain('alice', 'alicepw1'),
                  'the right password from a limited address was '
                  'accepted')
            check(r.sasl_failure == 'temporary-auth-failure',
                  'right password from the limited address: %s' %
                  r.sasl_failure)
        finally:
            r.close()
        # Everybody else is served.
        ping_server(good, 'bystander-ping')
        other = login('bob', 'guess-other')
        try:
            ping_server(other, 'other-ping')
        finally:
            other.close()
    finally:
        good.close()


@test
def plain_stall():
    """Many streams from many addresses each send three PLAIN attempts
    back to back, all at once (hundreds of key derivations). A logged-in
    client's pings (one every 10 ms) must still be answered within 0.2 s:
    key derivation does not run on the event loop. (On the loop, each
    turn of it verifies dozens of them, 0.4 s and more.)"""
    good = login('alice', 'stall-bystander')
    streams = []
    worst = 0.0
    try:
        for i in range(150):
            streams.append(sasl_stage('127.0.0.%d' % (100 + i % 100)))
        cred = b64('\0alice\0nope')
        burst = ("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>" %
                 (NS_SASL, cred)) * 3
        for s in streams:
            s.push(burst)
        n = 0
        t0 = time.monotonic()
        while time.monotonic() - t0 < 2.0:
            for s in streams:
                s.push()
            worst = max(worst, ping_server(good, 'stall%d' % n, 5.0))
            n += 1
            # A ping every 10 ms: well under the shaping rate.
            time.sleep(0.01)
        check(worst < 0.2, 'a ping took %.2fs while PLAIN attempts were '
              'verified' % worst)
        print('plain-stall: %d pings, the slowest %.3fs' % (n, worst))
    finally:
        for s in streams:
            s.close()
        good.close()


@test
def derive_queue():
    """160 streams from five addresses (32 each, all the unauthenticated
    streams an address may hold) send the right PLAIN password all at
    once: at most 128 key derivations may run or wait, so some are
    answered temporary-auth-failure at once and the rest succeed; nothing
    else."""
    streams = [sasl_stage(a) for a in QUEUERS for i in range(32)]
    outcomes = {}
    try:
        cred = b64('\0bob\0bobpw123')
        for r in streams:
            r.push("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>" %
                   (NS_SASL, cred))
        for r in streams:
            el = r.next(what='the SASL outcome')
            got = local(el.tag)
            if got == 'failure':
                got += ' ' + ' '.join(local(k.tag) for k in el)
            outcomes[got] = outcomes.get(got, 0) + 1
    finally:
        for r in streams:
            r.close()
    temp = outcomes.pop('failure temporary-auth-failure', 0)
    ok = outcomes.pop('success', 0)
    check(not outcomes, 'unexpected outcomes: %r' % outcomes)
    check(temp > 0, 'all %d derivations were queued' % ok)
    check(ok >= 128, 'only %d of 160 succeeded' % ok)
    print('derive-queue: %d succeeded, %d temporary-auth-failure' %
          (ok, temp))


@test
def sasl_pipelined():
    """Two PLAIN attempts back to back: the second comes before the
    outcome of the first (RFC 6120 6.4.5 has the client wait), which
    ends the stream."""
    r = sasl_stage(QUEUER)
    try:
        cred = b64('\0bob\0bobpw123')
        r.send(("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>" %
                (NS_SASL, cred)) * 2)
        r.expect_stream_error('policy-violation')
    finally:
        r.close()


if __name__ == '__main__':
    sys.exit(main(TESTS, sys.argv[1:]))
