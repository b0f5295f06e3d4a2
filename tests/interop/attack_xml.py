"""Attacks on the XML parser from a logged-in account (issue 10, finding
2): one start tag with tens of thousands of attributes or namespace
declarations, within the 256 KiB stanza limit, used to hold the event
loop for seconds (libxml2 checks a tag's attributes for duplicates
pairwise). The server must refuse it with policy-violation at once,
while another client's ping is answered.

    attack_xml.py [test ...]      the named tests, or all of them
"""

import socket
import sys
import time

from hostile import ping_self
from ixlib import NS_CLIENT, TIMEOUT, check, login, registry, tostr

TESTS, test = registry()
# "Quickly", generously: the attack cost 1.8 s before the cap, ~0 now.
QUICK = max(1.0, TIMEOUT / 5)


def attack(stanza):
    """alice sends stanza and must get policy-violation quickly; bob, on
    another stream, must get his ping answered quickly meanwhile. Returns
    the error text."""
    check(len(stanza) < 256 * 1024, 'the stanza must be within the limit')
    a = login('alice', 'xmlcap-a')
    b = login('bob', 'xmlcap-b')
    try:
        # The server refuses after the first few hundred bytes and closes
        # with the rest unread (a reset): the whole stanza goes to the
        # kernel at once, so that no write fails on the reset and takes
        # the TLS session, with the error still unread, down with it.
        a.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        t0 = time.monotonic()
        a.send(stanza)
        # bob pings until alice hears her error: a stalled loop would
        # keep one of his pings waiting (1.8 s before the cap).
        while True:
            p0 = time.monotonic()
            ping_self(b, 'during')
            dt = time.monotonic() - p0
            check(dt < QUICK, 'bob waited %.2f s for his ping' % dt)
            a.pump(lambda: a.stanzas or time.monotonic() > p0 + 0.05)
            if a.stanzas or a.closed or time.monotonic() > t0 + QUICK:
                break
        text = a.expect_stream_error('policy-violation', timeout=QUICK)
        dt = time.monotonic() - t0
        check(dt < QUICK, 'policy-violation after %.2f s' % dt)
        ping_self(b, 'after')
        return text
    finally:
        a.close()
        b.close()


@test
def attr_flood():
    """28,000 attributes in one start tag (248 KB)."""
    attrs = ''.join(" a%x=''" % i for i in range(28000))
    text = attack('<message%s/>' % attrs)
    check(text and 'attributes' in text, 'error text %r' % text)


@test
def prefixed_attr_flood():
    """22,000 prefixed attributes: libxml2 also looks each prefix up."""
    attrs = ''.join(" p:a%x=''" % i for i in range(22000))
    attack("<message xmlns:p='urn:p'%s/>" % attrs)


@test
def ns_decl_flood():
    """12,000 namespace declarations in one start tag."""
    decls = ''.join(" xmlns:p%x='urn:x'" % i for i in range(12000))
    text = attack('<message%s/>' % decls)
    check(text and 'namespace declarations' in text, 'error text %r' % text)


@test
def many_attrs_within_limit():
    """A stanza with 40 attributes of its own (no legitimate client comes
    near the limit) is delivered whole."""
    a = login('alice', 'xmlcap-c')
    b = login('bob', 'xmlcap-d')
    try:
        attrs = ''.join(" x%d='%d'" % (i, i) for i in range(40))
        a.send("<message to='%s' id='m40'%s><body>40</body></message>" %
               (b.jid, attrs))
        el = b.expect('{%s}message' % NS_CLIENT)
        check(el.get('id') == 'm40' and all(
            el.get('x%d' % i) == str(i) for i in range(40)),
            'the attributes did not arrive: %s' % tostr(el))
        ping_self(a, 'still')
    finally:
        a.close()
        b.close()


if __name__ == '__main__':
    sys.exit(__import__('ixlib').main(TESTS, sys.argv[1:]))
