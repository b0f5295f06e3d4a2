# A key derivation whose worker thread cannot start (review finding 6).
# mmpd runs with a shim that makes pthread_create fail while the file
# 'failnow' exists. A PLAIN attempt then fails at once from inside the
# stream's <auth>, and releasing the held stream read the rest of its
# input from there, re-entering the parser: mmpd exited ("xparser_feed:
# called from a parser callback"). Now the client gets
# temporary-auth-failure, the bytes after its <auth> are read in a later
# turn, and mmpd goes on; with threads back, the right password works.
cat >"$T/failpc.c" <<'EOF'
#define _GNU_SOURCE
#include <pthread.h>
#include <dlfcn.h>
#include <errno.h>
#include <unistd.h>
int
pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*f)(void *),
    void *arg)
{
	static int (*real)(pthread_t *, const pthread_attr_t *,
	    void *(*)(void *), void *);

	if (real == NULL)
		real = dlsym(RTLD_NEXT, "pthread_create");
	if (access("failnow", F_OK) == 0)
		return (EAGAIN);
	return (real(t, a, f, arg));
}
EOF
cc -shared -fPIC -o "$T/failpc.so" "$T/failpc.c" -ldl || echo "no shim"
(
	cd "$T" && LD_PRELOAD="$T/failpc.so" \
	    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	    exec ${MMPD_WRAPPER:-} "$TOP/mmpd" -d -D "$DATA" -s "$SOCK"
) >>"$T/mmpd.log" 2>&1 &
MMPD_PID=$!
echo "$MMPD_PID" >"$T/mmpd.pid"
wait_for "mmpd answers" "$TOP/mmp" -s "$SOCK" version
use_ports
say set up XMPP with one user
mmp_in 'xmpp domain example.com\nxmpp listen 127.0.0.1\npki selfsigned xmpp CN:example.com key:ec256\nxmpp certs xmpp.key xmpp.crt\nxmpp user add alice\nalicepw1\nalicepw1\nxmpp enable\n' | tail -1
say PLAIN with no thread to derive the key, more bytes behind it
touch "$T/failnow"
CPORT=$CPORT /usr/bin/python3 - "$TOP/tests/interop" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
from ixlib import NS_SASL, Closed, b64, local, sasl_stage  # noqa: E402
r = sasl_stage()
cred = b64('\0alice\0alicepw1')
# More than the 16 KiB mmpd parses at a time, so that bytes still wait in
# its input when the <auth> is answered.
r.send(("<auth xmlns='%s' mechanism='PLAIN' pad='%s'>%s</auth>" %
        (NS_SASL, 'p' * 9000, cred)) + ' ' * 9000 +
       "<abort xmlns='%s'/>" % NS_SASL)
for what in ('the outcome of <auth>', 'the answer to <abort>'):
    try:
        el = r.next(what=what)
        print('%s: %s' % (what, ' '.join([local(el.tag)] +
                                         [local(k.tag) for k in el])))
    except Closed as e:
        print('%s: %s' % (what, e))
r.close()
EOF
rm -f "$T/failnow"
kill -0 "$MMPD_PID" 2>/dev/null && echo "mmpd: running"
say with threads back, the right password
CPORT=$CPORT /usr/bin/python3 - "$TOP/tests/interop" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
from ixlib import sasl_stage  # noqa: E402
r = sasl_stage()
print('PLAIN: %s' % ('success' if r.auth_plain('alice', 'alicepw1') else
                     r.sasl_failure))
r.close()
EOF
grep -c " pthread_create: " "$T/mmpd.log" |
    sed 's/^[1-9][0-9]*$/pthread_create failure logged/'
