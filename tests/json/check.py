"""mmp -j: every status and list command as one JSON document, checked
with Python's json module and against the values the text output shows;
errors as {"error": ...} with the exit statuses of the text mode; batch
mode as JSON Lines. Each test starts its own mmpd on a temporary
directory and loopback ports, and stops it by PID.

  check.py --list        the test names
  check.py NAME          run one test; exit 0 if it passed
"""

import json
import os
import pty
import re
import shutil
import subprocess
import sys
import tempfile
import time

TOP = os.environ.get('TOP') or os.path.abspath(
    os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, os.path.join(TOP, 'tests', 'lib'))

from xmpptest import (Failed, check, free_ports, registry,  # noqa: E402
                      stop_process)

MMP = os.path.join(TOP, 'mmp')
MMPD = os.path.join(TOP, 'mmpd')
WRAPPER = os.environ.get('MMPD_WRAPPER', '').split()
BOUND = 30 if WRAPPER else 10          # seconds for anything to happen
CB1_SECRET = 'cbsecret1'


def table():
    """cmds.def as (id, pattern, flags, help) tuples (handler left out)."""
    text = open(os.path.join(TOP, 'common', 'cmds.def')).read()
    rows = []
    for m in re.finditer(r'^CMD\((\w+),\s*"([^"]*)",\s*([^,]*),\s*\w+,'
                         r'\s*"((?:[^"\\]|\\.)*)"\)', text, re.M):
        flags = set(f.strip() for f in m.group(3).split('|'))
        rows.append((m.group(1), m.group(2), flags, m.group(4)))
    check(len(rows) > 20, 'cannot read common/cmds.def (%d rows)' % len(rows))
    return rows


class Daemon:
    """One mmpd -d on its own directory and socket."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='mmp-json.')
        self.sock = os.path.join(self.dir, 'mmpd.sock')
        self.data = os.path.join(self.dir, 'data')
        self.cport, self.mport, self.kport = free_ports(3)
        self.log = open(os.path.join(self.dir, 'mmpd.log'), 'w')
        self.proc = subprocess.Popen(
            WRAPPER + [MMPD, '-d', '-D', self.data, '-s', self.sock],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + BOUND
        while self.text('version')[0] != 0:
            check(self.proc.poll() is None, 'mmpd exited at start')
            check(time.monotonic() < deadline, 'mmpd did not answer')
            time.sleep(0.05)

    def run(self, args, stdin=None, sock=None):
        p = subprocess.run([MMP, '-s', sock or self.sock] + args,
                           input=stdin, capture_output=True, text=True,
                           timeout=BOUND * 3)
        return p.returncode, p.stdout, p.stderr

    def text(self, *words, stdin=None):
        """mmp without -j: (status, stdout, stderr)."""
        return self.run(list(words), stdin)

    def batch(self, lines):
        rc, out, err = self.run([], '\n'.join(lines) + '\n')
        check(rc == 0, 'setting up failed: exit %d: %s' % (rc, err))
        return out

    def j(self, *words, status=0, stdin=None, sock=None):
        """mmp -j words: the one JSON document it prints, after checking
        the exit status, that stdout is that one line and stderr empty."""
        rc, out, err = self.run(['-j'] + list(words), stdin, sock)
        return parse_one(words, rc, out, err, status)

    def configure(self, cluster=False):
        """Domain, listener, a certificate, two users, two call bridges
        (cb1 with a known secret, cb2 generated), XMPP enabled."""
        lines = ['hostname node-1.example.com',
                 'xmpp domain example.com', 'xmpp listen 127.0.0.1',
                 'xmpp port client %d' % self.cport,
                 'xmpp port component %d' % self.mport,
                 'xmpp port cluster %d' % self.kport,
                 'pki selfsigned xmpp CN:example.com key:ec256',
                 'pki selfsigned other CN:other.example.com key:ec256',
                 'xmpp certs xmpp.key xmpp.crt',
                 'xmpp user add alice', 'alicepw1', 'alicepw1',
                 'xmpp user add bob', 'bobpw123', 'bobpw123',
                 'xmpp callbridge add-secret cb1', CB1_SECRET, CB1_SECRET,
                 'xmpp callbridge add cb2']
        if cluster:
            lines += ['xmpp cluster trust xmpp.crt', 'xmpp cluster enable',
                      'xmpp cluster initialize']
        lines.append('xmpp enable')
        return self.batch(lines)

    def stop(self):
        """Stop mmpd and remove its directory."""
        stop_process(self.proc, BOUND)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def parse_one(words, rc, out, err, status):
    what = 'mmp -j %s' % ' '.join(words)
    check(rc == status, '%s: exit %d, wanted %d; stdout %r stderr %r' % (
        what, rc, status, out[:300], err[:300]))
    check(err == '', '%s: stderr is not empty: %r' % (what, err[:300]))
    check(out.endswith('\n') and out.count('\n') == 1,
          '%s: not one line on stdout: %r' % (what, out[:300]))
    try:
        doc = json.loads(out)
    except ValueError as e:
        raise Failed('%s: not JSON (%s): %r' % (what, e, out[:300]))
    check(isinstance(doc, dict), '%s: not an object: %r' % (what, doc))
    if status != 0:
        check(isinstance(doc.get('error'), str) and doc['error'],
              '%s: no "error" string: %r' % (what, doc))
    else:
        check('error' not in doc, '%s: "error" on success: %r' % (what,
                                                                   doc))
    return doc


def kv_text(out):
    """The `Label : value` lines of a text answer, as a dict."""
    d = {}
    for ln in out.splitlines():
        m = re.match(r'^\s*([A-Za-z][^:]*?)\s*: (.*)$', ln)
        if m:
            d[m.group(1)] = m.group(2)
    return d


TESTS, test = registry()


@test
def version(d):
    doc = d.j('version')
    proto = re.search(r'#define\s+MMP_PROTO_VERSION\s+(\d+)',
                      open(os.path.join(TOP, 'common', 'proto.h')).read())
    check(doc.get('protocol_version') == int(proto.group(1)),
          'protocol_version: %r' % doc)
    text = kv_text(d.text('version')[1])
    check(doc.get('software_version') == text['Software version'],
          'software_version %r, text says %r' % (doc, text))
    check(doc.get('shell_version') == text['Shell version'],
          'shell_version %r, text says %r' % (doc, text))


@test
def hostname(d):
    d.configure()
    check(d.j('hostname') == {'hostname': 'node-1.example.com'},
          'hostname: %r' % d.j('hostname'))


@test
def xmpp_status(d):
    doc = d.j('xmpp')
    check(doc.get('enabled') is False and doc.get('domain') is None and
          doc.get('client_port') == 5222 and
          doc.get('component_port') == 5223 and
          doc.get('call_bridges') == 0, 'unconfigured: %r' % doc)
    d.configure()
    doc = d.j('xmpp')
    want = {'enabled': True, 'domain': 'example.com',
            'listen': '127.0.0.1', 'client_port': d.cport,
            'component_port': d.mport, 'cluster_port': d.kport,
            'key_file': 'xmpp.key', 'certificate_file': 'xmpp.crt',
            'ca_bundle_file': None, 'max_sessions': 'unlimited',
            'call_bridges': 2, 'serving': True, 'client_sessions': 0}
    for k, v in want.items():
        check(doc.get(k) == v and type(doc.get(k)) is type(v),
              'xmpp: %s is %r, wanted %r: %r' % (k, doc.get(k), v, doc))
    d.text('xmpp', 'max_sessions', '3')
    check(d.j('xmpp').get('max_sessions') == 3, 'max_sessions not 3')
    # Every label of the text output is a key of the JSON one.
    text = kv_text(d.text('xmpp')[1])
    doc = d.j('xmpp')
    check(len(doc) == len(text), 'xmpp: %d keys for %d labels: %r' % (
        len(doc), len(text), doc))


@test
def callbridge_list(d):
    check(d.j('xmpp', 'callbridge', 'list') == {
        'callbridges': [], 'lines': ['No callbridges configured']},
        'empty list: %r' % d.j('xmpp', 'callbridge', 'list'))
    d.configure()
    doc = d.j('xmpp', 'callbridge', 'list')
    cbs = doc.get('callbridges')
    check(isinstance(cbs, list) and [c.get('callbridge') for c in cbs] ==
          ['cb1', 'cb2'], 'names: %r' % doc)
    text = d.text('xmpp', 'callbridge', 'list')[1]
    secret2 = re.findall(r'Secret\s*: (\S+)', text)[1]
    check(cbs[0].get('secret') == CB1_SECRET and
          cbs[1].get('secret') == secret2, 'secrets: %r' % cbs)
    for c in cbs:
        check(c.get('domain') == 'example.com' and
              isinstance(c.get('state'), str), 'record: %r' % c)
    # One call bridge is still a list of one.
    d.text('xmpp', 'callbridge', 'del', 'cb2')
    doc = d.j('xmpp', 'callbridge', 'list')
    check([c['callbridge'] for c in doc['callbridges']] == ['cb1'],
          'one left: %r' % doc)
    # A state-changing command: ok and its lines; add's secret is there.
    doc = d.j('xmpp', 'callbridge', 'add', 'cb3')
    check(doc.get('ok') is True and
          doc['output'][0] == 'Successfully added callbridge.',
          'add: %r' % doc)


@test
def user_list(d):
    doc = d.j('xmpp', 'user', 'list')
    check(doc == {'users': [], 'lines': ['No users']}, 'empty: %r' % doc)
    d.configure()
    doc = d.j('xmpp', 'user', 'list')
    check(doc.get('users') == [{'user': 'alice', 'sessions': 0},
                               {'user': 'bob', 'sessions': 0}],
          'users: %r' % doc)


@test
def user_sessions(d):
    """xmpp user list <user>: the summary at the top, each session of a
    real login (a raw client from tests/interop) in session_list."""
    d.configure()
    os.environ['CPORT'] = str(d.cport)
    sys.path.insert(0, os.path.join(TOP, 'tests', 'interop'))
    import ixlib
    doc = d.j('xmpp', 'user', 'list', 'alice')
    check(doc == {'user': 'alice', 'sessions': 0, 'session_list': []},
          'no session: %r' % doc)
    r = ixlib.login('alice', resource='phone')
    try:
        doc = d.j('xmpp', 'user', 'list', 'alice')
        text = d.text('xmpp', 'user', 'list', 'alice')[1]
        sess = kv_text(text.split('\n\n', 1)[1])
        check(doc.get('user') == 'alice' and doc.get('sessions') == 1 and
              doc.get('session_list') == [{
                  'resource': 'phone', 'node': sess['Node'],
                  'address': sess['Address'], 'since': sess['Since']}],
              'one session: %r, text %r' % (doc, text))
        check(list(doc) == ['user', 'sessions', 'session_list'],
              'key order: %r' % list(doc))
        doc = d.j('xmpp', 'user', 'list')
        check({'user': 'alice', 'sessions': 1} in doc['users'],
              'user list: %r' % doc)
    finally:
        r.close()


@test
def dns_records(d):
    """Text alone, as xmpp dns records prints for a zone file: its lines
    as they are, blank ones too, so that joined they are the text."""
    d.configure()
    rc, out, err = d.text('xmpp', 'dns', 'records')
    doc = d.j('xmpp', 'dns', 'records', status=rc)
    check(rc == 0 and doc == {'lines': out.rstrip('\n').split('\n')} and
          any(' IN SRV ' in ln for ln in doc['lines']),
          'dns records: %d %r' % (rc, doc))


@test
def cluster_status(d):
    doc = d.j('xmpp', 'cluster', 'status')
    check(doc.get('state') == 'DISABLED' and doc.get('peers') == [] and
          isinstance(doc.get('missing'), str), 'not clustered: %r' % doc)
    d.configure(cluster=True)
    doc = d.j('xmpp', 'cluster', 'status')
    me = '127.0.0.1:%d' % d.kport
    check(doc.get('state') == 'LEADER' and doc.get('peers') ==
          [{'address': me, 'leader': True, 'me': True}] and
          doc.get('quorum') is True and isinstance(doc.get('term'), int)
          and re.fullmatch(r'[0-9a-f]{16}', doc.get('node_id', '')),
          'leader of one: %r' % doc)


@test
def cluster_two_nodes(d):
    """A real two-node cluster (tests/cluster's helpers, 127.0.0.1 and
    127.0.0.2): both show the same peers, leader marked on one, me on
    each node's own address, false elsewhere."""
    d.stop()
    sys.path.insert(0, os.path.join(TOP, 'tests', 'cluster'))
    import asyncio
    import clib

    async def body():
        t = clib.Test('json')
        c = clib.Cluster(t, 2)
        try:
            await c.form()
            docs = []
            for nd in c.nodes:
                rc, out, err = await nd.mmp('-j', 'xmpp', 'cluster',
                                            'status')
                docs.append((nd, parse_one(['xmpp cluster status'], rc,
                                           out, err, 0)))
            addrs = sorted(nd.peer for nd in c.nodes)
            leaders = set()
            for nd, doc in docs:
                peers = doc.get('peers')
                check(sorted(p.get('address') for p in peers) == addrs,
                      '%s: peers %r' % (nd.name, peers))
                for p in peers:
                    check(set(p) == {'address', 'leader', 'me'},
                          '%s: keys of %r' % (nd.name, p))
                    check(p['me'] is (p['address'] == nd.peer),
                          '%s: me on %r' % (nd.name, p))
                    if p['leader'] is True:
                        leaders.add(p['address'])
                    else:
                        check(p['leader'] is False, 'leader: %r' % p)
                check(doc.get('state') in ('LEADER', 'FOLLOWER'),
                      'state: %r' % doc)
            check(len(leaders) == 1, 'leaders seen: %r' % leaders)
            await t.stop_all()
        finally:
            t.kill_all()
    asyncio.run(asyncio.wait_for(body(), 120))


@test
def pki(d):
    d.configure()
    files = d.j('pki', 'list').get('files')
    files = [f for f in files if f['name'] != 'both.crt']
    names = [f.get('name') for f in files]
    check(names[:4] == ['other.crt', 'other.key', 'xmpp.crt', 'xmpp.key'],
          'pki list: %r' % files)
    check(files[2]['description'].startswith(
        'certificate (CN=example.com, expires ') and
        files[3]['description'] == 'key (EC P-256)', 'pki list: %r' % files)
    doc = d.j('pki', 'inspect', 'xmpp.crt')
    crt = doc.get('certificate')
    check(isinstance(crt, dict) and crt.get('subject') == 'CN=example.com'
          and crt.get('ca') is False and crt.get('validity') == 'valid'
          and crt.get('sans') == 'DNS:example.com' and
          re.fullmatch(r'([0-9A-F]{2}:){31}[0-9A-F]{2}',
                       crt.get('sha_256_fingerprint', '')),
          'inspect crt: %r' % doc)
    check(d.j('pki', 'inspect', 'xmpp.key') ==
          {'private_key': {'key': 'EC P-256', 'encrypted': False}},
          'inspect key: %r' % d.j('pki', 'inspect', 'xmpp.key'))
    files = os.path.join(d.data, 'files')
    with open(os.path.join(files, 'both.crt'), 'w') as f:
        for n in ('xmpp.crt', 'other.crt'):
            f.write(open(os.path.join(files, n)).read())
    doc = d.j('pki', 'inspect', 'both.crt')
    check(isinstance(doc.get('certificate'), list) and
          [c['subject'] for c in doc['certificate']] ==
          ['CN=example.com', 'CN=other.example.com'] or
          [c['subject'] for c in doc['certificate']] ==
          ['CN=other.example.com', 'CN=example.com'],
          'inspect bundle: %r' % doc)
    doc = d.j('pki', 'match', 'xmpp.key', 'xmpp.crt')
    check(doc == {'checks': [{'result': 'SUCCESS', 'message':
                              'xmpp.key and xmpp.crt match'}]},
          'match: %r' % doc)
    doc = d.j('pki', 'match', 'other.key', 'xmpp.crt', status=1)
    check(doc['error'] == 'FAILURE: other.key does not belong to xmpp.crt',
          'mismatch: %r' % doc)
    doc = d.j('pki', 'verify', 'xmpp.crt', 'xmpp.crt')
    check(doc['checks'][0]['result'] == 'SUCCESS', 'verify: %r' % doc)
    doc = d.j('pki', 'verify', 'xmpp.crt', 'other.crt', status=1)
    check('does not verify' in doc['error'], 'verify fails: %r' % doc)
    doc = d.j('pki', 'inspect', 'nothere.crt', status=1)
    check('no such file' in doc['error'], 'inspect missing: %r' % doc)


@test
def help(d):
    rows = [r for r in table() if 'CF_HIDDEN' not in r[2]]
    doc = d.j('help')
    cmds = doc.get('commands')
    check(len(cmds) == len(rows), 'help: %d commands, the table has %d' % (
        len(cmds), len(rows)))
    for c, (cid, pattern, flags, helptext) in zip(cmds, rows):
        check(c.get('help') == helptext and
              c['command'].split()[0] == pattern.split()[0],
              'help for %s: %r' % (cid, c))
    doc = d.j('help', 'xmpp', 'cluster', 'timers')
    check(doc == {'commands': [{
        'command': 'xmpp cluster timers <heartbeat-ms> <election-ms>',
        'help': 'set the raft heartbeat and election timeouts '
                '(default 100 500)'}]}, 'help for a long one: %r' % doc)
    doc = d.j('help', 'frobnicate', status=2)
    check(doc == {'error': "help: unknown word 'frobnicate'; possible: " +
                  d.text('help', 'frobnicate')[2].split('possible: ')[1]
                  .strip()}, 'help error: %r' % doc)


@test
def errors(d):
    """The same exit statuses as the text mode, the same message, as
    {"error": ...} on stdout, and nothing on stderr."""
    for words, st in ((['frobnicate'], 2), (['xm', 'c'], 2),
                      (['hostname', 'bad name'], 2),
                      (['xmpp', 'callbridge', 'del', 'nothere'], 1),
                      (['pki', 'inspect', 'nothere.crt'], 1)):
        doc = d.j(*words, status=st)
        rc, out, err = d.text(*words)
        check(rc == st, 'text mode: exit %d for %r' % (rc, words))
        want = err.strip()
        if want.startswith('mmp: '):
            want = want[5:]
        check(doc.get('error') == want, '%r: error %r, text says %r' % (
            words, doc.get('error'), want))
    doc = d.j('xmpp', 'callbridge', 'del', 'nothere', status=1)
    check(doc.get('ok') is False and doc.get('output') == [],
          'failed state command: %r' % doc)
    doc = d.j('version', status=3, sock=os.path.join(d.dir, 'nothere'))
    check(doc['error'].startswith('cannot reach mmpd on '),
          'no daemon: %r' % doc)


@test
def every_read_command(d):
    """Every command of cmds.def that changes no state, with arguments
    filled in by type, prints one JSON object: new status and list
    commands are covered without a change here."""
    d.configure(cluster=True)
    args = {'file': 'xmpp.crt', 'key': 'xmpp.key', 'crt': 'xmpp.crt',
            'bundle': 'xmpp.crt', 'name': 'cb1', 'user': 'alice',
            'localpart': 'alice', 'words': 'xmpp', 'int': '1',
            'domain': 'example.com', 'hostname': 'node-1.example.com',
            'addr': '127.0.0.1', 'port': str(d.cport),
            'peer': '127.0.0.1:%d' % d.kport, 'member': '127.0.0.1'}
    seen = 0
    for cid, pattern, flags, helptext in table():
        if flags & {'CF_STATE', 'CF_SECRET', 'CF_CONFIRM'} or \
                cid in ('EXIT', 'QUIT'):
            continue
        if 'CF_FOLLOW' in flags:
            # A stream has no JSON form: refused at once, exit 1.
            doc = d.j(*pattern.split(), status=1)
            check('no JSON form' in doc.get('error', ''),
                  '%s: %r' % (cid, doc))
            continue
        words = []
        for w in pattern.split():
            m = re.fullmatch(r'\[?<(?:(\w[\w-]*):)?(\w+)>(?:\.\.\.)?\]?', w)
            if m is None:
                words.append(w)
            elif m.group(1) in args:
                words.append(args[m.group(1)])
            elif m.group(2) in args:
                words.append(args[m.group(2)])
            elif w.startswith('['):
                continue
            else:
                words.append('x')
        rc, out, err = d.text(*words)
        doc = d.j(*words, status=rc)
        check(rc != 0 or out == '' or doc, '%s: empty document for %r' % (
            cid, out[:200]))
        seen += 1
    check(seen >= 11, 'only %d read commands found' % seen)


@test
def batch(d):
    """Batch mode: one JSON document a command (JSON Lines), secrets
    read from the next line, and the failing line named."""
    d.configure()
    lines = ['# a comment', 'version', '', 'xmpp callbridge add-secret cb9',
             'secret-number-9', 'secret-number-9', 'xmpp callbridge list',
             'xmpp callbridge del nothere', 'version']
    rc, out, err = d.run(['-j'], '\n'.join(lines) + '\n')
    textlines = [ln.replace('9', '8') for ln in lines]
    rct, outt, errt = d.run([], '\n'.join(textlines) + '\n')
    check(rc == 1 and rct == 1, 'batch exit %d, text %d' % (rc, rct))
    check(err == '', 'stderr: %r' % err)
    docs = [json.loads(ln) for ln in out.splitlines()]
    check(len(docs) == 4, '%d documents: %r' % (len(docs), out))
    check('software_version' in docs[0] and docs[1].get('ok') is True,
          'docs: %r' % docs[:2])
    check([c['secret'] for c in docs[2]['callbridges']
           if c['callbridge'] == 'cb9'] == ['secret-number-9'],
          'cb9: %r' % docs[2])
    want = [ln[5:] for ln in errt.splitlines()
            if 'no call bridge' in ln]
    check(len(want) == 1, 'text mode said %r' % errt)
    want = want[0]
    # The line number is the text mode's (which counts secret lines).
    line = int(re.match(r'line (\d+): ', want).group(1))
    check(docs[3].get('error') == want and docs[3].get('line') == line,
          'the failure: %r, text says %r' % (docs[3], errt))
    rc, out, err = d.run(['-j'], 'version\nxmpp frob\n')
    docs = [json.loads(ln) for ln in out.splitlines()]
    check(rc == 2 and err == '' and docs[1].get('line') == 2 and
          docs[1]['error'].startswith("line 2: unknown word 'frob'"),
          'parse error in batch: %d %r' % (rc, docs))


@test
def secret_prompt(d):
    """On a terminal the secret prompt goes to the terminal (stderr), and
    stdout holds the JSON alone."""
    d.configure()
    master, slave = pty.openpty()
    p = subprocess.Popen([MMP, '-j', '-s', d.sock, 'xmpp', 'callbridge',
                          'add-secret', 'cb7'], stdin=slave,
                         stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen = b''
    deadline = time.monotonic() + BOUND
    while b':' not in seen:
        check(time.monotonic() < deadline, 'no prompt: %r' % seen)
        seen += os.read(master, 1024)
    os.write(master, b'typed-secret-7\n')
    while b'Retype' not in seen:
        check(time.monotonic() < deadline, 'no second prompt: %r' % seen)
        seen += os.read(master, 1024)
    os.write(master, b'typed-secret-7\n')
    out, _ = p.communicate(timeout=BOUND)
    os.close(master)
    check(p.returncode == 0, 'exit %d' % p.returncode)
    doc = json.loads(out)
    check(doc.get('ok') is True and doc['output'][0] ==
          'Successfully added callbridge.', 'add-secret: %r' % doc)
    check(b'typed-secret-7' not in seen, 'the secret was echoed')
    cbs = d.j('xmpp', 'callbridge', 'list')['callbridges']
    check([c['secret'] for c in cbs if c['callbridge'] == 'cb7'] ==
          ['typed-secret-7'], 'cb7: %r' % cbs)


@test
def hostile_names(d):
    """File names in the store are the outside's (uploaded by SFTP):
    quotes, backslashes, control characters and bytes that are not UTF-8
    still make valid JSON, and the names survive where they are UTF-8."""
    d.configure()
    files = os.path.join(d.data, 'files')
    odd = ['q"uote.crt', 'back\\slash.crt', 'tab\there.crt', 'caf\u00e9.crt']
    for n in odd:
        shutil.copy(os.path.join(files, 'xmpp.crt'), os.path.join(files, n))
    shutil.copy(os.path.join(files, 'xmpp.crt'),
                os.path.join(files.encode(), b'bad\xffname.crt'))
    rc, out, err = d.run(['-j', 'pki', 'list'])
    check(rc == 0, 'pki list: exit %d %r' % (rc, err))
    doc = json.loads(out)
    names = [f['name'] for f in doc['files']]
    for n in ('q"uote.crt', 'back\\slash.crt', 'caf\u00e9.crt'):
        check(n in names, '%r not in %r' % (n, names))
    check(len(names) == 9, 'names: %r' % names)


@test
def ssh_command(d):
    """Over SSH (mmp -S as the ForceCommand, the command from the client
    in SSH_ORIGINAL_COMMAND) a first word -j gives JSON too: one command,
    an error, or a batch on standard input."""
    d.configure()

    def ssh(command, stdin=None):
        env = dict(os.environ, SSH_ORIGINAL_COMMAND=command)
        p = subprocess.run([MMP, '-S', '-s', d.sock], input=stdin,
                           capture_output=True, text=True, env=env,
                           timeout=BOUND * 3)
        return p.returncode, p.stdout, p.stderr
    rc, out, err = ssh('-j xmpp callbridge list')
    doc = parse_one(['(ssh) xmpp callbridge list'], rc, out, err, 0)
    check(doc == d.j('xmpp', 'callbridge', 'list'), 'ssh: %r' % doc)
    rc, out, err = ssh('-j frobnicate')
    doc = parse_one(['(ssh) frobnicate'], rc, out, err, 2)
    check(doc['error'].startswith("unknown word 'frobnicate'"),
          'ssh error: %r' % doc)
    rc, out, err = ssh('-j', 'version\nhostname\n')
    check(rc == 0 and err == '' and [json.loads(ln) for ln in
                                     out.splitlines()][1] ==
          {'hostname': 'node-1.example.com'}, 'ssh batch: %d %r %r' % (
              rc, out, err))
    rc, out, err = ssh('hostname')
    check(rc == 0 and out == 'node-1.example.com\n',
          'ssh without -j: %d %r' % (rc, out))


def main(argv):
    if argv[:1] == ['--list']:
        print(' '.join(TESTS))
        return 0
    if len(argv) != 1 or argv[0] not in TESTS:
        print('usage: check.py --list | NAME (one of %s)' % ' '.join(TESTS))
        return 2
    d = Daemon()
    try:
        TESTS[argv[0]](d)
    except Failed as e:
        print(e)
        return 1
    finally:
        d.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
