"""Connection cycles for the leak check: connect, STARTTLS, log in (the
mechanisms in turn), bind, a little traffic, disconnect (cleanly or by
dropping the socket), many times over from several threads.

    cycles.py [-n CYCLES] [-j PARALLEL]

Prints the number of cycles, how many failed and the elapsed time; the
exit status is 1 if any failed.
"""

import argparse
import sys
import threading
import time

from ixlib import DOMAIN, NS_CLIENT, NS_PING, Failed, check, login

MECHS = ('PLAIN', 'SCRAM-SHA-1', 'SCRAM-SHA-256')


def cycle(i):
    """One connection's life; the variations depend on i."""
    user = 'alice' if i % 2 == 0 else 'bob'
    r = login(user, 'c%d' % i, MECHS[i % len(MECHS)])
    try:
        if i % 4 != 3:
            r.send("<presence/>")
        r.send("<iq type='get' id='p%d' to='%s'><ping xmlns='%s'/></iq>" %
               (i, DOMAIN, NS_PING))
        while True:
            el = r.next(what='the answer to the ping')
            if el.tag == '{%s}iq' % NS_CLIENT and el.get('id') == 'p%d' % i:
                check(el.get('type') == 'result', 'ping failed')
                break
        r.send("<message to='%s'><body>cycle %d</body></message>" %
               (r.jid, i))
        if i % 3 == 0:
            r.send('</stream:stream>')
            r.pump(lambda: r.ended, what='the end of the stream')
            check(r.ended or r.closed, 'the stream did not end')
        elif i % 3 == 1:
            r.send("<iq type='get' id='r%d'><query xmlns='jabber:iq:roster'"
                   "/></iq>" % i)
    finally:
        r.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('-n', type=int, default=1000)
    ap.add_argument('-j', type=int, default=8)
    args = ap.parse_args()
    lock = threading.Lock()
    state = {'next': 0, 'done': 0, 'failed': 0, 'errors': []}

    def worker():
        while True:
            with lock:
                i = state['next']
                if i >= args.n:
                    return
                state['next'] += 1
            try:
                cycle(i)
                ok = True
            except (Failed, OSError, KeyError, ValueError) as e:
                ok = False
                err = 'cycle %d: %s' % (i, e)
            with lock:
                state['done'] += 1
                if not ok:
                    state['failed'] += 1
                    state['errors'].append(err)

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(args.j)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    for e in state['errors'][:10]:
        print(e)
    print('cycles: %d done (%d in parallel), %d failed, %.1f s, %.1f/s' % (
        state['done'], args.j, state['failed'], elapsed,
        state['done'] / elapsed if elapsed else 0))
    return 1 if state['failed'] else 0


if __name__ == '__main__':
    sys.exit(main())
