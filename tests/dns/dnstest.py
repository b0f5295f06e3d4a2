"""DNS tests: `xmpp dns check` and `xmpp dns records` against a real DNS
server (Debian's dnsmasq, run in the foreground on 127.0.0.8 with one
configuration per case, stopped by PID), for a node alone and for a
three-node cluster, and against a resolver that never answers.

Reuses the cluster tests' helpers (tests/cluster/clib.py): nodes, mmp,
certificates, bounded waits. Prints "PASS name" or "FAIL name: reason"
for each case and "dns: N passed, N failed" at the end.

  /usr/bin/python3 tests/dns/dnstest.py [case ...]
  /usr/bin/python3 tests/dns/dnstest.py --list
"""

import asyncio
import contextlib
import os
import random
import re
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TMPDIR = os.environ.get('CLUSTER_TMP') or tempfile.mkdtemp(prefix='mmp-dns.')
os.environ.setdefault('CLUSTER_TMP', TMPDIR)
sys.path.insert(0, os.path.join(HERE, '..', 'cluster'))

import clib  # noqa: E402
from clib import Failed, check, w  # noqa: E402
from xmpptest import free_udp, registry, stop_process  # noqa: E402

DNS_ADDR = '127.0.0.8'
HOLE_ADDR = '127.0.0.9'
DOMAIN = clib.DOMAIN
DNSMASQ = '/usr/sbin/dnsmasq'


def dns_ask(addr, port, name, timeout=0.2):
    """One A query; True if anything answered."""
    qid = random.randrange(65536)
    q = struct.pack('>HHHHHH', qid, 0x0100, 1, 0, 0, 0)
    for label in name.split('.'):
        q += bytes([len(label)]) + label.encode()
    q += b'\0' + struct.pack('>HH', 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(q, (addr, port))
        data, _ = s.recvfrom(4096)
        return len(data) >= 12 and data[:2] == q[:2]
    except OSError:
        return False
    finally:
        s.close()


class Dnsmasq:
    """dnsmasq in the foreground on DNS_ADDR:port, authoritative-like for
    example.com (--local: what is not configured does not exist)."""

    def __init__(self, port):
        self.port = port
        self.proc = None
        self.n = 0

    async def start(self, lines):
        await self.stop()
        self.n += 1
        conf = os.path.join(TMPDIR, 'dnsmasq%d.conf' % self.n)
        with open(conf, 'w') as f:
            f.write('local=/%s/\n' % DOMAIN)
            for ln in lines:
                f.write(ln + '\n')
        self.log = os.path.join(TMPDIR, 'dnsmasq%d.log' % self.n)
        with open(self.log, 'wb') as logf:
            self.proc = subprocess.Popen(
                [DNSMASQ, '-k', '--no-resolv', '--no-hosts',
                 '--bind-interfaces', '--listen-address=' + DNS_ADDR,
                 '--port=%d' % self.port, '--conf-file=' + conf,
                 '--pid-file=', '--user=root', '--group=root',
                 '--log-facility=-'],
                stdin=subprocess.DEVNULL, stdout=logf,
                stderr=subprocess.STDOUT)
        deadline = time.monotonic() + w(5)
        while not dns_ask(DNS_ADDR, self.port, 'probe.' + DOMAIN):
            if self.proc.poll() is not None:
                raise Failed('dnsmasq exited: %s' % open(self.log).read())
            if time.monotonic() > deadline:
                raise Failed('dnsmasq does not answer after %gs' % w(5))
            await asyncio.sleep(0.05)

    async def stop(self):
        """Stop dnsmasq if it runs."""
        stop_process(self.proc, w(5))
        self.proc = None


def srv(svc, target, port, prio=10, weight=50):
    """A dnsmasq SRV line; target None serves the target "."."""
    if target is None:
        return 'srv-host=%s.%s' % (svc, DOMAIN)
    return 'srv-host=%s.%s,%s,%d,%d,%d' % (svc, DOMAIN, target, port,
                                           prio, weight)


def host(name, addr):
    return 'host-record=%s,%s' % (name, addr)


def zone_from_records(out):
    """dnsmasq lines from the zone file lines of xmpp dns records."""
    lines = []
    for ln in out.splitlines():
        m = re.match(r'^(\S+)\.\s+\d+\s+IN\s+SRV\s+(\d+)\s+(\d+)\s+(\d+)'
                     r'\s+(\S+)\.$', ln)
        if m:
            lines.append('srv-host=%s,%s,%s,%s,%s' % (
                m.group(1), m.group(5), m.group(4), m.group(2),
                m.group(3)))
            continue
        m = re.match(r'^(\S+)\.\s+\d+\s+IN\s+(A|AAAA)\s+(\S+)$', ln)
        if m:
            lines.append(host(m.group(1), m.group(3)))
            continue
        check(ln == '' or ln.startswith(';'),
              'xmpp dns records: not a zone file line: %r' % ln)
    return lines


class Check:
    """The result of one xmpp dns check."""

    def __init__(self, rc, out, err):
        self.rc = rc
        self.out = out
        self.err = err
        self.lines = out.splitlines()

    def level(self, lvl):
        return [ln for ln in self.lines if ln.startswith(lvl + ':')]

    def want(self, lvl, pattern, why):
        """A line of that level matching pattern (a regex)."""
        for ln in self.level(lvl):
            if re.search(pattern, ln):
                return ln
        raise Failed('%s: no %s line matching %r in:\n%s%s' % (
            why, lvl, pattern, self.out, self.err))

    def none(self, lvl, why, pattern='.'):
        bad = [ln for ln in self.level(lvl) if re.search(pattern, ln)]
        check(not bad, '%s: unexpected %s lines:\n%s' % (
            why, lvl, '\n'.join(bad)))

    def status(self, rc, why):
        check(self.rc == rc, '%s: exit status %d, not %d:\n%s%s' % (
            why, self.rc, rc, self.out, self.err))


async def dns_check(nd):
    """xmpp dns check on node nd: a Check."""
    rc, out, err = await nd.mmp('xmpp', 'dns', 'check', timeout=w(30))
    check(rc != 2, 'xmpp dns check does not parse: %s' % err.strip())
    return Check(rc, out, err)


async def check_with(t, nd, records):
    """dnsmasq serving records (dnsmasq lines), then xmpp dns check on
    node nd: a Check."""
    await t.dns.start(records)
    return await dns_check(nd)


async def broken(t, nd, name, records, why, wants):
    """Check name: with dnsmasq serving records, xmpp dns check on node
    nd exits 1 (why) and prints, for each (level, pattern, what) of
    wants, a line of that level matching pattern."""
    r = await check_with(t, nd, records)
    with t.check(name):
        r.status(1, why)
        for lvl, pattern, what in wants:
            r.want(lvl, pattern, what)
    return r


async def records_round_trip(t, nd, wants):
    """Check 'records': with no records served, xmpp dns records on node
    nd prints each line of wants (a (line, what is missing) pair), and
    its zone file lines, served, pass xmpp dns check."""
    await t.dns.start([])
    rc, out, err = await nd.mmp('xmpp', 'dns', 'records')
    with t.check('records'):
        check(rc == 0, 'xmpp dns records: exit %d: %s' % (rc, err))
        for line, what in wants:
            check(line in out, '%s:\n%s' % (what, out))
        # Pasted into the zone, they pass the check.
        r = await check_with(t, nd, zone_from_records(out))
        r.status(0, 'the records xmpp dns records printed')
        r.none('FAILURE', 'the records xmpp dns records printed')


CASES, case = registry()


C, M = 5222, 5223
CL, XS, CO = '_xmpp-client._tcp', '_xmpps-client._tcp', '_xmpp-component._tcp'
X1 = 'xmpp1.' + DOMAIN


def esc(s):
    """s as a regular expression that matches s."""
    return re.escape(s)


def fq(svc):
    """The SRV name of service svc in DOMAIN, with the final dot, as a
    regular expression."""
    return esc(svc + '.' + DOMAIN + '.')


async def solo_node(t, name='solo'):
    """One node on 127.0.0.1 configured as the field does it (ports 5222
    and 5223; XMPP need not be enabled for the check), with a certificate
    for example.com and xmpp1.example.com."""
    c = clib.Cluster(t, 1, name=name)
    nd = c.node(1)
    await c.start([nd])
    await nd.batch(['xmpp domain ' + DOMAIN, 'xmpp listen 127.0.0.1',
                    'xmpp port client %d' % C, 'xmpp port component %d' % M,
                    'pki selfsigned good CN:%s subjectAltName:%s,%s '
                    'key:ec256' % (DOMAIN, DOMAIN, X1),
                    'pki selfsigned other CN:cms4.example.net key:ec256',
                    'xmpp certs good.key good.crt'])
    return nd


GOOD = [srv(CL, X1, C), srv(XS, X1, C), srv(CO, X1, M),
        host(X1, '127.0.0.1')]


@case
async def solo(t):
    """A node alone: the good set-up, then each broken one."""
    nd = await solo_node(t)

    t0 = time.monotonic()
    r = await check_with(t, nd, GOOD)
    t.note('the good check took %.0f ms' % ((time.monotonic() - t0) * 1000))
    with t.check('good'):
        r.status(0, 'good set-up')
        r.none('FAILURE', 'good set-up')
        r.none('WARNING', 'good set-up')
        for svc, port in ((CL, C), (XS, C), (CO, M)):
            r.want('SUCCESS', '^SUCCESS: %s SRV 10 50 %d %s\\.: resolves '
                   'to this node, 127\\.0\\.0\\.1$' % (fq(svc), port, esc(X1)),
                   'good ' + svc)
        r.want('SUCCESS', 'certificate good.crt covers %s$' % esc(DOMAIN),
               'good certificate')
        r.want('SUCCESS', 'certificate good.crt covers %s\\., a direct '
               'TLS target' % esc(X1), 'good direct TLS name')

    x1 = host(X1, '127.0.0.1')
    await broken(t, nd, 'missing', [srv(CO, X1, M), x1],
                 'client records missing', [
                     ('FAILURE', 'no %s SRV record: clients cannot find '
                      'this service; add .*: %s 3600 IN SRV 10 50 %d %s\\.$'
                      % (fq(CL), fq(CL), C, esc(X1)),
                      'missing client record'),
                     ('WARNING', 'no %s SRV record \\(optional' % fq(XS),
                      'missing direct TLS record'),
                     ('SUCCESS', esc(CO),
                      'the component record still checked')])
    await broken(t, nd, 'component_on_5222', [srv(CL, X1, C),
                                              srv(CO, X1, C), x1],
                 'component record on 5222', [
                     ('FAILURE', '^FAILURE: %s SRV 10 50 5222 %s\\.: port '
                      '5222 is not the component port 5223 \\(it is the '
                      'client port\\); change it to: %s 3600 IN SRV 10 50 '
                      '5223 %s\\.$' % (fq(CO), esc(X1), fq(CO), esc(X1)),
                      'component on the client port')])
    await broken(t, nd, 'typo_522', [srv(CL, X1, 522), srv(CO, X1, M), x1],
                 'the field\'s 522 typo', [
                     ('FAILURE', 'SRV 10 50 522 %s\\.: port 522 is not the '
                      'client port 5222; change it to: %s 3600 IN SRV 10 50 '
                      '5222 %s\\.$' % (esc(X1), fq(CL), esc(X1)),
                      'port 522')])
    await broken(t, nd, 'no_address', [srv(CL, 'nohost.' + DOMAIN, C),
                                       srv(CO, X1, M), x1],
                 'target without an address', [
                     ('FAILURE', 'nohost\\.example\\.com\\. has no A or AAAA '
                      'record; add one .*nohost\\.example\\.com\\. 3600 IN '
                      'A 127\\.0\\.0\\.1', 'target that does not resolve'),
                     ('FAILURE', 'no %s record points at this node '
                      '\\(127\\.0\\.0\\.1\\)' % fq(CL), 'node not covered')])
    await broken(t, nd, 'elsewhere', [srv(CL, 'xmpp9.' + DOMAIN, C),
                                      srv(CO, X1, M), x1,
                                      host('xmpp9.' + DOMAIN, '127.0.0.9')],
                 'target on another machine', [
                     ('FAILURE', 'xmpp9\\.example\\.com\\. resolves to '
                      '127\\.0\\.0\\.9, which is not this node '
                      '\\(127\\.0\\.0\\.1\\)', 'target resolving elsewhere')])
    await broken(t, nd, 'dot_target', [srv(CL, None, 0), srv(CO, X1, M),
                                       x1],
                 'target "."', [
                     ('FAILURE', 'SRV \\d+ \\d+ \\d+ \\.: the target "\\." '
                      'says the service is not offered at all; replace it '
                      'with: %s 3600 IN SRV 10 50 5222 %s\\.$' % (
                          fq(CL), esc(X1)), 'target .')])

    await nd.ok('xmpp', 'certs', 'other.key', 'other.crt')
    await broken(t, nd, 'certificate', GOOD, 'certificate for another name',
                 [('FAILURE', 'certificate other.crt does not cover '
                   'example\\.com: ', 'certificate name'),
                  ('WARNING', 'certificate other.crt does not cover '
                   '%s\\., the target of %s' % (esc(X1), esc(XS)),
                   'direct TLS target name')])
    await nd.ok('xmpp', 'certs', 'good.key', 'good.crt')

    await records_round_trip(t, nd, [
        ('%s.%s. 3600 IN SRV 10 50 %d %s.' % (svc, DOMAIN, port, X1),
         'xmpp dns records lacks the %s record' % svc)
        for svc, port in ((CL, C), (XS, C), (CO, M))] + [
        ('%s. 3600 IN A 127.0.0.1' % X1,
         'xmpp dns records suggests no address record')])


@case
async def blocking(t):
    """A resolver that never answers: the daemon keeps answering, and
    the check ends with a timeout FAILURE within its bound."""
    hole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    hole.bind((HOLE_ADDR, 0))
    hole.setblocking(False)
    os.environ['MMP_RESOLVER'] = '%s:%d' % (HOLE_ADDR, hole.getsockname()[1])
    try:
        c = clib.Cluster(t, 2, name='hole')
        nd = c.node(2)
        await c.start([nd])
    finally:
        os.environ['MMP_RESOLVER'] = '%s:%d' % (DNS_ADDR, t.dns.port)
    await nd.batch(['xmpp domain ' + DOMAIN, 'xmpp listen 127.0.0.2'])
    start = time.monotonic()
    jobs = []
    for _ in range(2):
        job = asyncio.ensure_future(nd.mmp('xmpp', 'dns', 'check',
                                           timeout=w(30)))
        jobs.append(job)
        # Wait until its query has reached the silent resolver.
        deadline = time.monotonic() + w(5)
        while True:
            with contextlib.suppress(BlockingIOError):
                hole.recvfrom(4096)
                break
            check(time.monotonic() < deadline and not job.done(),
                  'no query reached the silent resolver')
            await asyncio.sleep(0.02)
    # Two checks wait: a third is refused at once.
    t0 = time.monotonic()
    rc, out, err = await nd.mmp('xmpp', 'dns', 'check', timeout=w(5))
    check(rc == 1 and 'xmpp dns check: 2 DNS lookups are running '
          'already; try again when they are done' in err,
          'a third check while two wait: exit %d: %s%s' % (rc, out, err))
    check(time.monotonic() - t0 < w(1), 'the refusal took over 1s')
    slowest = 0
    for _ in range(3):
        t0 = time.monotonic()
        rc, out, err = await nd.mmp('version', timeout=w(5))
        took = time.monotonic() - t0
        slowest = max(slowest, took)
        check(rc == 0, 'mmp version while the check waits: exit %d' % rc)
        check(took < w(1), 'mmp version took %.2fs while the check waits '
              '(bound 1s)' % took)
        check(not any(j.done() for j in jobs), 'a check ended before the '
              'resolver could time out')
    for job in jobs:
        rc, out, err = await job
        took = time.monotonic() - start
        r = Check(rc, out, err)
        r.status(1, 'silent resolver')
        r.want('FAILURE', '^FAILURE: DNS not checked: %s SRV: %s:%d did '
               'not answer within 4 s' % (fq(CL),
                                          esc(HOLE_ADDR),
                                          hole.getsockname()[1]),
               'timeout line')
        check(len(r.lines) == 1, 'more than the timeout line:\n' + out)
    check(took < w(10), 'the check took %.1fs (bound 10s)' % took)
    t.note('checks against a silent resolver ended after %.1fs; mmp '
           'version meanwhile took %.0f ms at most' % (took, slowest * 1000))
    hole.close()


@case
async def limits(t):
    """Twenty records of each service: 16 of each name are looked at, and
    32 targets in all; the rest are named as left out."""
    nd = await solo_node(t, name='limits')
    lines = []
    for svc, tag, port in ((CL, 'c', C), (XS, 'x', C), (CO, 'm', M)):
        for i in range(20):
            name = '%s%d.%s' % (tag, i, DOMAIN)
            lines += [srv(svc, name, port), host(name, '127.0.0.1')]
    r = await check_with(t, nd, lines)
    for svc in (CL, XS, CO):
        r.want('WARNING', '^WARNING: %s has 4 more SRV records than the 16 '
               'looked at$' % fq(svc), 'cap ' + svc)
    skipped = [ln for ln in r.level('WARNING')
               if re.search(': not looked up \\(only 32 targets are\\)$',
                            ln)]
    check(len(skipped) == 16, '%d records not looked up, not 16:\n%s' % (
        len(skipped), r.out))
    check(len(r.level('SUCCESS')) == 32 + 1,
          '%d SUCCESS lines, not 33:\n%s' % (len(r.level('SUCCESS')),
                                              r.out))


CLUSTER_NAMES = ['xmpp%d.%s' % (i, DOMAIN) for i in (1, 2, 3)]


@case
async def cluster(t):
    """Three members: each must be covered, by records at members only,
    not all at one node."""
    c = clib.Cluster(t, 3, name='c')
    await c.form()
    nd = c.node(2)
    cp, mp = c.cport, c.mport
    hosts = [host(n, '127.0.0.%d' % (i + 1))
             for i, n in enumerate(CLUSTER_NAMES)]

    r = await check_with(t, nd, hosts +
                         [srv(CL, n, cp) for n in CLUSTER_NAMES] +
                         [srv(CO, n, mp) for n in CLUSTER_NAMES])
    with t.check('good'):
        r.status(0, 'good cluster set-up')
        r.none('FAILURE', 'good cluster set-up')
        for n in CLUSTER_NAMES:
            for svc, port in ((CL, cp), (CO, mp)):
                r.want('SUCCESS', '^SUCCESS: %s SRV 10 50 %d %s\\.: '
                       'resolves to member 127\\.0\\.0\\.%d$' % (
                           fq(svc), port, esc(n),
                           CLUSTER_NAMES.index(n) + 1), 'record for ' + n)

    r = await check_with(t, nd, hosts +
                         [srv(CL, n, cp) for n in CLUSTER_NAMES[:2]] +
                         [srv(CO, n, mp) for n in CLUSTER_NAMES])
    with t.check('missing_member'):
        r.status(1, 'a member without a client record')
        r.want('FAILURE', '^FAILURE: member 127\\.0\\.0\\.3 has no %s '
               'record: add %s 3600 IN SRV 10 50 %d %s\\.$' % (
                   fq(CL),
                   fq(CL), cp,
                   esc(CLUSTER_NAMES[2])), 'missing member')
        r.none('FAILURE', 'component records cover everyone', esc(CO))

    await broken(t, nd, 'one_node', hosts + [
        srv(CL, CLUSTER_NAMES[0], cp), srv(CO, CLUSTER_NAMES[0], mp)],
        'all targets at one node', [
            ('WARNING', 'every %s target points at one node, '
             '127\\.0\\.0\\.1' % fq(CL), 'one node (clients)'),
            ('WARNING', 'every %s target points at one node' % fq(CO),
             'one node (components)'),
            ('FAILURE', 'member 127\\.0\\.0\\.2 \\(this node\\) has no',
             'this node uncovered')])
    await broken(t, nd, 'not_member', hosts + [
        host('xmpp9.' + DOMAIN, '127.0.0.9')] +
        [srv(CL, n, cp) for n in CLUSTER_NAMES] +
        [srv(CL, 'xmpp9.' + DOMAIN, cp)] +
        [srv(CO, n, mp) for n in CLUSTER_NAMES],
        'a target that is not a member', [
            ('FAILURE', 'xmpp9\\.example\\.com\\. resolves to 127\\.0\\.0'
             '\\.9, which is not a cluster member \\(127\\.0\\.0\\.1, '
             '127\\.0\\.0\\.2, 127\\.0\\.0\\.3\\)', 'non-member target')])

    wants = []
    for i, n in enumerate(CLUSTER_NAMES):
        wants += [('%s.%s. 3600 IN SRV 10 50 %d %s.' % (svc, DOMAIN, port, n),
                   'no %s record for %s' % (svc, n))
                  for svc, port in ((CL, cp), (XS, cp), (CO, mp))]
        wants.append(('%s. 3600 IN A 127.0.0.%d' % (n, i + 1),
                      'no address record for %s' % n))
    await records_round_trip(t, nd, wants)


async def run_case(name):
    t = clib.Test(name)
    t.dns = Dnsmasq(free_udp(DNS_ADDR))
    os.environ['MMP_RESOLVER'] = '%s:%d' % (DNS_ADDR, t.dns.port)
    with t.outcome(name):
        try:
            await CASES[name](t)
            await t.stop_all()
        finally:
            t.kill_all()
            await t.dns.stop()
    return t


def main():
    if '--list' in sys.argv[1:]:
        print('\n'.join(CASES))
        return 0
    names = [a for a in sys.argv[1:]] or list(CASES)
    for n in names:
        if n not in CASES:
            print('dnstest: no case %s (have: %s)' % (n, ', '.join(CASES)))
            return 2
    if not os.access(DNSMASQ, os.X_OK):
        print('FAIL dns: %s missing (sh scripts/setup installs '
              'dnsmasq-base)' % DNSMASQ)
        print('dns: 0 passed, 1 failed')
        return 1
    passed = failed = 0
    for n in names:
        t = asyncio.run(run_case(n))
        for sub, reason in t.results:
            if reason is None:
                print('PASS %s' % sub)
                passed += 1
            else:
                failed += 1
                lines = reason.rstrip().split('\n')
                print('FAIL %s: %s' % (sub, lines[0]))
                for ln in lines[1:]:
                    print('    ' + ln)
        for note in t.notes:
            print('  note: %s' % note)
        if any(r[1] for r in t.results):
            for nd in t.nodes():
                for ln in nd.log_tail(15):
                    print('    %s| %s' % (nd.name, ln))
    print('dns: %d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
