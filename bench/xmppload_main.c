/*
 * xmppload: the XMPP load generator of make bench. One process, one
 * libevent loop. Accounts user<i>/pass<i> log in over STARTTLS (PLAIN,
 * SCRAM-SHA-1 or SCRAM-SHA-256, the server's SCRAM signature checked),
 * bind, send initial presence; then the sessions send chat messages to
 * random other accounts at stepped offered rates, each body carrying its
 * send time, and the receivers take the end-to-end latency from it. With
 * -k a XEP-0114 component echoes every message back to its sender
 * (client -> component -> client). With -P the server's CPU time and RSS
 * are read from /proc. The report is JSON.
 *
 * Only loopback targets are accepted, and every count and time is bounded.
 *
 * -a addr -p port -d domain	target (127.0.0.1, 5222, example.com)
 * -n accounts -f first -R res	user<first>... with res resources each
 * -m mech -c n			SCRAM-SHA-1; at most n logins in flight (100)
 * -r rate,... -t secs -w secs	offered msg/s steps, step length, drain
 * -L ms -g			a step's p99 limit (50); go on after a miss
 * -b bytes			padding added to each message body
 * -P pid			the server, for CPU and RSS from /proc
 * -k port -K domain		the echo component ($XMPPLOAD_SECRET)
 * -A				register the accounts (XEP-0077) instead
 * -H secs -T secs -q		hold sessions idle; time bound (600); quiet
 * -S n				connect from 127.0.0.1..127.0.0.n (IPv4)
 * -M n				stream management (XEP-0198) after bind:
 *				answer the server's <r/>, ask <r/> after
 *				every n stanzas sent (slixmpp's window is 5)
 *
 * Exit status 0: ran to the end (the JSON says how well); 1: an error or
 * the time bound; 2: usage.
 */
#include "xmppload.h"

struct xl xl;

/* How to call; exit 2. */
void
usage(void)
{
	fprintf(stderr,
	    "usage: xmppload [-Aq] [-a addr] [-p port] [-d domain] "
	    "[-n accounts]\n"
	    "\t[-f first] [-R resources] [-m mech] [-c concurrency] "
	    "[-r rate[,rate...]]\n"
	    "\t[-t step-secs] [-w drain-secs] [-L p99-ms] [-b pad] "
	    "[-P server-pid]\n"
	    "\t[-k comp-port -K comp-domain] [-H hold-secs] "
	    "[-T max-secs] [-g] [-S sources]\n"
	    "\t[-M sm-ack-every]\n"
	    "\t(component secret in $XMPPLOAD_SECRET)\n");
	exit(2);
}

/* Say what went wrong and exit 1. */
void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "xmppload: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Progress on stderr, unless -q. */
void
note(const char *fmt, ...)
{
	va_list	 ap;

	if (xl.quiet)
		return;
	fprintf(stderr, "xmppload: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
main(int argc, char *argv[])
{
	struct rlimit	 rl;
	struct timeval	 tick = { 0, XL_TICK_US }, sec = { 1, 0 };
	const char	*errstr = NULL, *m = "SCRAM-SHA-1";
	long		 v;
	char		*end;
	int		 ch, i;

	xl.addr = "127.0.0.1";
	xl.port = 5222;
	xl.domain = "example.com";
	xl.naccts = 10;
	xl.first = 1;
	xl.nres = 1;
	xl.conc = 100;
	xl.step_secs = 5;
	xl.drain_secs = 3;
	xl.p99_limit = 50;
	xl.comp_domain = NULL;
	xl.max_secs = 600;
	xl.seed = 0x9e3779b97f4a7c15ULL;

#define NUM(lo, hi) do {						\
	errno = 0;							\
	v = strtol(optarg, &end, 10);					\
	if (*end != '\0' || errno != 0 || v < (lo) || v > (hi)) {	\
		errstr = optarg;					\
		goto bad;						\
	}								\
} while (0)
	while ((ch = getopt(argc, argv, "Aa:b:c:d:f:gH:K:k:L:M:m:n:P:p:qR:r:"
	    "S:T:t:w:")) != -1) {
		switch (ch) {
		case 'A':
			xl.reg = 1;
			break;
		case 'a':
			xl.addr = optarg;
			break;
		case 'b':
			NUM(0, XL_MAX_PAD);
			xl.pad = v;
			break;
		case 'c':
			NUM(1, XL_MAX_CONC);
			xl.conc = v;
			break;
		case 'd':
			if (strlen(optarg) == 0 || strlen(optarg) > 200 ||
			    strpbrk(optarg, "'\"<>&/@ ") != NULL) {
				errstr = optarg;
				goto bad;
			}
			xl.domain = optarg;
			break;
		case 'f':
			NUM(0, INT_MAX / 2);
			xl.first = v;
			break;
		case 'g':
			xl.keep_going = 1;
			break;
		case 'H':
			NUM(0, XL_MAX_HOLD_SECS);
			xl.hold_secs = v;
			break;
		case 'K':
			if (strlen(optarg) == 0 || strlen(optarg) > 200 ||
			    strpbrk(optarg, "'\"<>&/@ ") != NULL) {
				errstr = optarg;
				goto bad;
			}
			xl.comp_domain = optarg;
			break;
		case 'k':
			NUM(1, 65535);
			xl.comp_port = v;
			break;
		case 'L':
			NUM(1, 60000);
			xl.p99_limit = v;
			break;
		case 'M':
			NUM(1, XL_MAX_SM_EVERY);
			xl.sm_every = v;
			break;
		case 'm':
			m = optarg;
			break;
		case 'n':
			NUM(1, XL_MAX_SESSIONS);
			xl.naccts = v;
			break;
		case 'P':
			NUM(1, INT_MAX);
			xl.pid = v;
			break;
		case 'p':
			NUM(1, 65535);
			xl.port = v;
			break;
		case 'q':
			xl.quiet = 1;
			break;
		case 'R':
			NUM(1, 100);
			xl.nres = v;
			break;
		case 'r':
			if (parse_rates(optarg) == -1) {
				errstr = optarg;
				goto bad;
			}
			break;
		case 'S':
			NUM(1, XL_MAX_SRC);
			xl.nsrc = v;
			break;
		case 'T':
			NUM(1, XL_MAX_SECS);
			xl.max_secs = v;
			break;
		case 't':
			NUM(1, XL_MAX_STEP_SECS);
			xl.step_secs = v;
			break;
		case 'w':
			NUM(0, XL_MAX_STEP_SECS);
			xl.drain_secs = v;
			break;
		default:
			usage();
		}
	}
#undef NUM
	if (optind != argc)
		usage();
	if (strcmp(m, "PLAIN") == 0)
		xl.mech = MECH_PLAIN;
	else if (strcmp(m, "SCRAM-SHA-1") == 0)
		xl.mech = MECH_SHA1;
	else if (strcmp(m, "SCRAM-SHA-256") == 0)
		xl.mech = MECH_SHA256;
	else
		fatalx("unknown mechanism %s (PLAIN, SCRAM-SHA-1, "
		    "SCRAM-SHA-256)", m);
	if (parse_target(xl.addr, xl.port) == -1)
		fatalx("%s: only numeric loopback addresses (127.0.0.0/8, "
		    "::1) are allowed", xl.addr);
	if (xl.nsrc > 1 && xl.sslen != sizeof(struct sockaddr_in))
		fatalx("-S needs an IPv4 target");
	if ((long)xl.naccts * xl.nres > XL_MAX_SESSIONS)
		fatalx("at most %d sessions", XL_MAX_SESSIONS);
	if (xl.nres > 1 && xl.nrates > 0)
		fatalx("messages need one resource per account (-R 1)");
	if (xl.reg && (xl.nres > 1 || xl.nrates > 0 || xl.comp_port ||
	    xl.sm_every))
		fatalx("-A registers accounts and does nothing else");
	if (xl.comp_port != 0) {
		if (xl.comp_domain == NULL)
			fatalx("-k needs -K, the component's domain");
		if ((xl.secret = getenv("XMPPLOAD_SECRET")) == NULL ||
		    *xl.secret == '\0')
			fatalx("-k needs the secret in $XMPPLOAD_SECRET");
		if (xl.nrates > 0 && xl.naccts < 1)
			fatalx("the component needs clients");
	} else if (xl.nrates > 0 && xl.naccts < 2)
		fatalx("messages need at least two accounts");
	xl.nsess = xl.naccts * xl.nres;

	/* One descriptor per session and a few more. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)xl.nsess + 32)
		fatalx("%d sessions need %d descriptors, the limit is %llu",
		    xl.nsess, xl.nsess + 32, (unsigned long long)rl.rlim_cur);
	signal(SIGPIPE, SIG_IGN);

	if ((xl.ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		fatalx("no TLS context");
	SSL_CTX_set_min_proto_version(xl.ctx, TLS1_2_VERSION);
	/* Load, not trust: the servers under test use a self-signed cert. */
	SSL_CTX_set_verify(xl.ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(xl.ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(xl.ctx, SSL_OP_NO_TICKET);

	if ((xl.base = event_base_new()) == NULL)
		fatalx("no event base");
	if ((xl.sess = calloc(xl.nsess, sizeof(*xl.sess))) == NULL ||
	    (xl.ready = calloc(xl.nsess, sizeof(*xl.ready))) == NULL ||
	    (xl.login_ns = calloc(xl.nsess, sizeof(*xl.login_ns))) == NULL ||
	    (xl.creds = calloc(xl.naccts, sizeof(*xl.creds))) == NULL)
		fatalx("out of memory");
	for (i = 0; i < xl.nsess; i++) {
		xl.sess[i].id = i;
		xl.sess[i].kind = K_CLIENT;
		xl.sess[i].acct = xl.first + i / xl.nres;
		xl.sess[i].res = i % xl.nres;
		xl.sess[i].fd = -1;
	}
	if (xl.pad > 0) {
		if ((xl.padding = malloc(xl.pad)) == NULL)
			fatalx("out of memory");
		memset(xl.padding, 'x', xl.pad);
	}
	xl.tick = event_new(xl.base, -1, EV_PERSIST, tick_cb, NULL);
	xl.house = event_new(xl.base, -1, EV_PERSIST, house_cb, NULL);
	xl.later = evtimer_new(xl.base, later_cb, NULL);
	event_add(xl.tick, &tick);
	event_add(xl.house, &sec);

	xl.t_begin = benchutil_now_ns();
	xl.deadline = xl.t_begin + (uint64_t)xl.max_secs * 1000000000;
	xl.cur = 0;
	if (xl.comp_port != 0) {
		struct sockaddr_storage	 keep = xl.ss;
		socklen_t		 keeplen = xl.sslen;

		parse_target(xl.addr, xl.comp_port);
		xl.comp.kind = K_COMP;
		xl.comp.fd = -1;
		sess_start(&xl.comp);
		xl.ss = keep;
		xl.sslen = keeplen;
		/* The clients start once the component is in. */
		while (xl.comp.state != S_READY && xl.comp.state != S_FAILED &&
		    benchutil_now_ns() < xl.deadline)
			event_base_loop(xl.base, EVLOOP_ONCE);
		if (xl.comp.state != S_READY)
			fatalx("the component did not connect");
	}
	xl.phase = PH_LOGIN;
	xl.rss_before = proc_rss(xl.pid);
	xl.lcpu0 = benchutil_proc_cpu(xl.pid);
	xl.lgcpu0 = gen_cpu();
	xl.t_login0 = benchutil_now_ns();
	launch();
	event_base_dispatch(xl.base);

	for (i = 0; i < xl.nsess; i++)
		sess_close(&xl.sess[i]);
	sess_close(&xl.comp);
	for (i = 0; i < xl.naccts; i++)
		free(xl.creds[i].salt);
	for (i = 0; i < XL_MAX_STEPS; i++)
		free(xl.steps[i].lat);
	for (i = 0; i < xl.nreasons; i++)
		free(xl.reasons[i].text);
	event_free(xl.tick);
	event_free(xl.house);
	event_free(xl.later);
	event_base_free(xl.base);
	SSL_CTX_free(xl.ctx);
	free(xl.creds);
	free(xl.login_ns);
	free(xl.ready);
	free(xl.sess);
	free(xl.padding);
	return (xl.aborted ? 1 : 0);
bad:
	fatalx("-%c %s: bad value", ch, errstr);
}
