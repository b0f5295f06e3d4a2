"""What the Python test suites share and what needs no XMPP library:
the failure they raise, bounded waits (plain and asyncio), registries of
named tests, free loopback ports, certificates made with the openssl
command line, TLS contexts, and a few raw socket and process helpers.

Imported by tests/cluster/clib.py, tests/interop/ixlib.py,
tests/json/check.py and tests/dns/dnstest.py (and through clib by
bench/cluster.py) after a sys.path insert of this folder. The slixmpp
side is tests/lib/slixtest.py: importing slixmpp logs a warning, so a
harness sets up logging first and this module never imports it.

Every wait is bounded and polls its condition; one that times out raises
Failed with what it saw last.
"""

import asyncio
import inspect
import os
import socket
import ssl
import subprocess
import time

DOMAIN = 'example.com'          # the XMPP domain every suite serves


class Failed(Exception):
    """An expectation did not hold. The first line says what; further
    lines are details."""


def check(cond, what):
    """Fail with what unless cond holds."""
    if not cond:
        raise Failed(what)


# ------------------------------------------------------------------ waits

def wait_until(pred, timeout, what, step=0.02):
    """Poll pred until it returns something true, that value; fail after
    timeout seconds, saying what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise Failed('timed out after %gs waiting for %s' %
                         (timeout, what))
        time.sleep(step)


async def until(probe, timeout, fail, step=0.1):
    """Call probe() (awaiting what it returns if that is awaitable), a
    (done, seen) pair, until done; seen. After timeout seconds fail with
    fail(seen), the message for what was seen last, or if fail is a
    string, with one saying that fail was awaited and seen last."""
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if inspect.isawaitable(got):
            got = await got
        done, seen = got
        if done:
            return seen
        if time.monotonic() > deadline:
            if isinstance(fail, str):
                raise Failed('timed out after %gs waiting for %s: %s' %
                             (timeout, fail, seen))
            raise Failed(fail(seen))
        await asyncio.sleep(step)


async def wait_event(pred, event, timeout, fail):
    """Wait until pred() holds, rechecking whenever event is set (it is
    cleared before each wait); fail with the text fail() after timeout
    seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        left = deadline - time.monotonic()
        if left <= 0:
            raise Failed(fail())
        event.clear()
        try:
            await asyncio.wait_for(event.wait(), left)
        except asyncio.TimeoutError:
            pass


# ------------------------------------------------------------- registries

def registry():
    """A dict of tests and the decorator that adds a function to it under
    its name, with - for _."""
    tests = {}

    def test(fn):
        tests[fn.__name__.replace('_', '-')] = fn
        return fn
    return tests, test


# ------------------------------------------------------------------ ports

def free_ports(count=3, hosts=1):
    """count TCP ports free on every one of 127.0.0.1..hosts at once (a
    cluster's nodes use the same ports, each on its own address)."""
    held = []
    ports = []
    try:
        while len(ports) < count:
            s = socket.socket()
            s.bind(('127.0.0.1', 0))
            port = s.getsockname()[1]
            held.append(s)
            ok = True
            for h in range(2, hosts + 1):
                t = socket.socket()
                try:
                    t.bind(('127.0.0.%d' % h, port))
                    held.append(t)
                except OSError:
                    ok = False
                    t.close()
                    break
            if ok and port not in ports:
                ports.append(port)
    finally:
        for s in held:
            s.close()
    return ports


def free_udp(host):
    """A UDP port free on host now."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ----------------------------------------------------------- certificates

def _ossl(cwd, *args):
    """Run openssl with args in cwd; fail with its stderr."""
    p = subprocess.run(['openssl'] + list(args), cwd=cwd,
                       capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise Failed('openssl %s: %s' % (' '.join(args), p.stderr.strip()))


def make_ca(d, name):
    """A self-signed EC P-256 CA: <name>.key, <name>.crt in d."""
    _ossl(d, 'req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt',
          'ec_paramgen_curve:P-256', '-nodes', '-keyout', name + '.key',
          '-out', name + '.crt', '-subj', '/O=mmp tests/CN=' + name,
          '-days', '7', '-addext', 'basicConstraints=critical,CA:TRUE',
          '-addext', 'keyUsage=critical,keyCertSign,cRLSign')


def make_node_cert(d, ca, name, addr, serial, eku='serverAuth,clientAuth',
                   domain=DOMAIN):
    """<name>.key and <name>.crt in d, signed by CA ca, for a node at
    addr: extended key usage eku (none if empty), SAN DNS:<domain> and
    IP:addr."""
    with open(os.path.join(d, name + '.ext'), 'w') as f:
        f.write('basicConstraints=critical,CA:FALSE\n'
                'keyUsage=critical,digitalSignature,keyAgreement\n' +
                ('extendedKeyUsage=%s\n' % eku if eku else '') +
                'subjectAltName=DNS:%s,IP:%s\n' % (domain, addr))
    _ossl(d, 'req', '-new', '-newkey', 'ec', '-pkeyopt',
          'ec_paramgen_curve:P-256', '-nodes', '-keyout', name + '.key',
          '-out', name + '.csr', '-subj', '/O=mmp tests/CN=' + domain)
    _ossl(d, 'x509', '-req', '-in', name + '.csr', '-CA', ca + '.crt',
          '-CAkey', ca + '.key', '-set_serial', str(serial), '-days', '7',
          '-out', name + '.crt', '-extfile', name + '.ext')


# ------------------------------------------------------------------- TLS

def insecure_context():
    """A client TLS context that accepts any certificate (the servers
    under test have self-signed ones)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def client_context(ca, crt, key):
    """A client TLS context that verifies the server against ca (names
    not checked) and presents crt and key."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(ca)
    ctx.load_cert_chain(crt, key)
    return ctx


def server_context(crt, key, ca=None):
    """A server TLS context with crt and key; with ca, it requires a
    client certificate that verifies against ca."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    if ca is not None:
        ctx.load_verify_locations(ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


# ------------------------------------------------- sockets and processes

def peer_closed(s):
    """Whether the peer of non-blocking socket s has closed or reset it
    (what it sent meanwhile is read and thrown away)."""
    try:
        return s.recv(4096) == b''
    except BlockingIOError:
        return False
    except OSError:
        return True


def stop_process(proc, bound):
    """SIGTERM a child (if it still runs) and reap it; one still running
    after bound seconds is killed."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(bound)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
