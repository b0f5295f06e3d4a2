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
 *
 * Exit status 0: ran to the end (the JSON says how well); 1: an error or
 * the time bound; 2: usage.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

/*
 * The build compiles with libbsd's overlay headers, which rename getopt;
 * this program links no libbsd and uses the C library's.
 */
#undef getopt

#define XL_MAX_SESSIONS		100000
#define XL_MAX_CONC		1000
#define XL_MAX_RATE		1000000
#define XL_MAX_STEPS		16
#define XL_MAX_STEP_SECS	120
#define XL_MAX_HOLD_SECS	600
#define XL_MAX_SECS		3600
#define XL_MAX_PAD		4096
#define XL_MAX_BUF		(1024 * 1024)
#define XL_MAX_LAT		(16 * 1024 * 1024)
#define XL_MAX_REASONS		16
#define XL_LOGIN_SECS		60
#define XL_TICK_US		1000
#define XL_SETTLE_MS		500

#define NS_STREAMS	"http://etherx.jabber.org/streams"
#define NS_TLS		"urn:ietf:params:xml:ns:xmpp-tls"
#define NS_SASL		"urn:ietf:params:xml:ns:xmpp-sasl"
#define NS_BIND		"urn:ietf:params:xml:ns:xmpp-bind"

#define MECH_PLAIN	1
#define MECH_SHA1	2
#define MECH_SHA256	3

/* Session kinds and states. */
#define K_CLIENT	1
#define K_COMP		2

#define S_IDLE		0	/* not started */
#define S_CONNECT	1	/* TCP connect in progress */
#define S_FEAT1		2	/* waiting for the pre-TLS features */
#define S_PROCEED	3	/* <starttls/> sent */
#define S_TLS		4	/* TLS handshake */
#define S_FEAT2		5	/* waiting for the SASL mechanisms */
#define S_SASL		6	/* <auth/> sent */
#define S_FEAT3		7	/* waiting for the bind feature */
#define S_BIND		8	/* bind iq sent */
#define S_SYNC		9	/* presence and ping sent */
#define S_REG		10	/* in-band registration sent (-A) */
#define S_HANDSHAKE	11	/* component: handshake sent */
#define S_READY		12	/* logged in */
#define S_DONE		13	/* finished (registration done) */
#define S_FAILED	14	/* failed or closed */

/* What the element handler tells the parser. */
#define P_CONT		0
#define P_STOP		1

/* Phases of the run. */
#define PH_LOGIN	1
#define PH_HOLD		2
#define PH_SEND		3
#define PH_DRAIN	4
#define PH_SETTLE	5
#define PH_DONE		6

/* One stream: a client session or the component. */
struct sess {
	int			 id;
	int			 acct;
	int			 res;
	int			 kind;
	int			 state;
	int			 fd;
	int			 ownfd;	/* bev does not close fd */
	struct bufferevent	*bev;
	char			*buf;
	size_t			 len;
	size_t			 cap;
	size_t			 scan;
	size_t			 start;
	int			 depth;
	char			 sid[128];
	char			 cnonce[33];
	char			*cfirst;
	unsigned char		 ssig[EVP_MAX_MD_SIZE];
	unsigned int		 ssiglen;
	int			 verified;
	uint64_t		 t0;
};

/* SCRAM salted password, kept per account for its other resources. */
struct cred {
	char			*salt;
	int			 iter;
	unsigned char		 salted[EVP_MAX_MD_SIZE];
};

/* One offered-load step. */
struct step {
	int			 rate;
	uint64_t		 sent;
	uint64_t		 recv;
	uint64_t		 errors;
	uint64_t		 comp_in;
	uint32_t		*lat;
	size_t			 nlat;
	size_t			 caplat;
	uint64_t		 t_start;
	uint64_t		 t_sent;
	uint64_t		 t_end;
	double			 cpu0;
	double			 cpu1;
	double			 gcpu0;
	double			 gcpu1;
	long			 rss0;
	long			 rss1;
	int			 behind;
	int			 ok;
	int			 done;
};

/* A failure reason and how often it was seen. */
struct reason {
	char			*text;
	int			 n;
};

static struct {
	/* Options. */
	const char		*addr;
	int			 port;
	const char		*domain;
	int			 naccts;
	int			 first;
	int			 nres;
	int			 mech;
	int			 conc;
	int			 rates[XL_MAX_STEPS];
	int			 nrates;
	int			 step_secs;
	int			 drain_secs;
	double			 p99_limit;
	int			 pad;
	pid_t			 pid;
	int			 comp_port;
	const char		*comp_domain;
	const char		*secret;
	int			 reg;
	int			 hold_secs;
	int			 max_secs;
	int			 quiet;
	int			 keep_going;
	uint64_t		 seed;

	/* Run state. */
	struct event_base	*base;
	SSL_CTX			*ctx;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	struct sess		*sess;
	int			 nsess;
	struct cred		*creds;
	struct sess		 comp;
	int			 next;
	int			 inflight;
	int			 ok;
	int			 failed;
	int			 dropped;
	int			*ready;
	int			 nready;
	uint64_t		 rr;
	int			 phase;
	int			 aborted;
	struct event		*tick;
	struct event		*house;
	struct event		*later;
	uint64_t		 t_begin;
	uint64_t		 t_login0;
	uint64_t		 t_login1;
	uint64_t		 deadline;
	uint64_t		 hold_until;
	uint64_t		*login_ns;
	int			 nlogin;
	double			 lcpu0;
	double			 lcpu1;
	double			 lgcpu0;
	double			 lgcpu1;
	long			 rss_before;
	long			 rss_after;
	long			 rss_hold;
	struct step		 steps[XL_MAX_STEPS];
	int			 cur;
	uint64_t		 late;
	uint64_t		 stray;
	struct reason		 reasons[XL_MAX_REASONS];
	int			 nreasons;
	char			*padding;
} xl;

static void	 usage(void) __attribute__((__noreturn__));
static void	 fatalx(const char *, ...)
		    __attribute__((__format__(printf, 1, 2), __noreturn__));
static void	 note(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
static uint64_t	 now_ns(void);
static uint64_t	 rnd(void);
static double	 gen_cpu(void);
static double	 proc_cpu(pid_t);
static long	 proc_rss(pid_t);
static int	 parse_rates(const char *);
static int	 parse_target(const char *, int);
static void	 reason_add(const char *, const char *);
static void	 sess_start(struct sess *);
static void	 sess_fail(struct sess *, const char *, const char *);
static void	 sess_close(struct sess *);
static void	 sess_send(struct sess *, const char *, size_t);
static void	 sess_printf(struct sess *, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));
static void	 sess_header(struct sess *);
static void	 sess_reset(struct sess *);
static void	 sess_read(struct bufferevent *, void *);
static void	 sess_event(struct bufferevent *, short, void *);
static int	 sess_parse(struct sess *);
static int	 sess_element(struct sess *, const char *, size_t, int);
static int	 client_element(struct sess *, const char *, size_t);
static int	 comp_element(struct sess *, const char *, size_t);
static void	 comp_handshake(struct sess *);
static int	 client_starttls(struct sess *);
static void	 client_auth(struct sess *);
static int	 client_challenge(struct sess *, const char *, size_t);
static int	 client_success(struct sess *, const char *, size_t);
static void	 client_message(struct sess *, const char *, size_t);
static void	 login_done(struct sess *, int);
static void	 launch(void);
static void	 logins_finished(void);
static void	 step_begin(int);
static void	 step_close(struct step *);
static void	 step_end(void);
static void	 send_one(struct step *, uint64_t);
static void	 tick_cb(evutil_socket_t, short, void *);
static void	 house_cb(evutil_socket_t, short, void *);
static void	 later_cb(evutil_socket_t, short, void *);
static void	 finish(void);
static void	 report(FILE *);
static int	 cmp_u32(const void *, const void *);
static int	 cmp_u64(const void *, const void *);
static double	 pct_u32(const uint32_t *, size_t, double);
static const char *elem_name(const char *, size_t, size_t *);
static int	 elem_attr(const char *, size_t, const char *, char *,
		    size_t);
static int	 elem_text(const char *, size_t, const char *, const char **,
		    size_t *);
static const char *stanza_error(const char *, size_t, char *, size_t);
static char	*b64_enc(const unsigned char *, size_t);
static int	 b64_dec(const char *, size_t, unsigned char **, size_t *);

static void
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
	    "[-T max-secs] [-g]\n"
	    "\t(component secret in $XMPPLOAD_SECRET)\n");
	exit(2);
}

/* Say what went wrong and exit 1. */
static void
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
static void
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

/* Monotonic nanoseconds. */
static uint64_t
now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec);
}

/* xorshift64*: recipients are random, but need not be unpredictable. */
static uint64_t
rnd(void)
{
	xl.seed ^= xl.seed >> 12;
	xl.seed ^= xl.seed << 25;
	xl.seed ^= xl.seed >> 27;
	return (xl.seed * 2685821657736338717ULL);
}

/* Our own CPU seconds (user + system). */
static double
gen_cpu(void)
{
	struct rusage	 ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
}

/* CPU seconds of a process, all its threads, from /proc/pid/stat. */
static double
proc_cpu(pid_t pid)
{
	char			 path[64], buf[2048], *p;
	unsigned long long	 ut, st;
	FILE			*f;
	size_t			 n;

	if (pid <= 0)
		return (-1);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces: fields follow its last ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		return (-1);
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%llu %llu", &ut, &st) != 2)
		return (-1);
	return ((double)(ut + st) / sysconf(_SC_CLK_TCK));
}

/* Resident set of a process in KiB, or -1. */
static long
proc_rss(pid_t pid)
{
	char	 path[64], line[256];
	long	 kb = -1;
	FILE	*f;

	if (pid <= 0)
		return (-1);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return (kb);
}

/* "1000,2000,5000" into xl.rates. */
static int
parse_rates(const char *s)
{
	char	*copy, *p, *w, *end;
	long	 v;

	copy = strdup(s);
	if (copy == NULL)
		return (-1);
	p = copy;
	while ((w = strsep(&p, ",")) != NULL) {
		if (*w == '\0')
			continue;
		errno = 0;
		v = strtol(w, &end, 10);
		if (*end != '\0' || errno != 0 || v < 1 || v > XL_MAX_RATE ||
		    xl.nrates == XL_MAX_STEPS) {
			free(copy);
			return (-1);
		}
		xl.rates[xl.nrates++] = (int)v;
	}
	free(copy);
	return (0);
}

/* A numeric loopback address and port into xl.ss; -1 otherwise. */
static int
parse_target(const char *addr, int port)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&xl.ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&xl.ss;

	memset(&xl.ss, 0, sizeof(xl.ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127)
			return (-1);
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		xl.sslen = sizeof(*sin);
		return (0);
	}
	if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return (-1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		xl.sslen = sizeof(*sin6);
		return (0);
	}
	return (-1);
}

/* Count a failure reason (the first few distinct ones are kept). */
static void
reason_add(const char *what, const char *detail)
{
	char	 buf[256];
	int	 i;

	snprintf(buf, sizeof(buf), "%s%s%s", what, detail ? ": " : "",
	    detail ? detail : "");
	for (i = 0; i < xl.nreasons; i++) {
		if (strcmp(xl.reasons[i].text, buf) == 0) {
			xl.reasons[i].n++;
			return;
		}
	}
	if (xl.nreasons == XL_MAX_REASONS)
		return;
	if ((xl.reasons[xl.nreasons].text = strdup(buf)) == NULL)
		return;
	xl.reasons[xl.nreasons++].n = 1;
}

/* Open a stream's TCP connection. */
static void
sess_start(struct sess *s)
{
	int	 one = 1;

	s->t0 = now_ns();
	s->state = S_CONNECT;
	s->bev = bufferevent_socket_new(xl.base, -1, 0);
	if (s->bev == NULL) {
		sess_fail(s, "no bufferevent", NULL);
		return;
	}
	bufferevent_setcb(s->bev, sess_read, NULL, sess_event, s);
	if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&xl.ss,
	    xl.sslen) == -1) {
		sess_fail(s, "connect", strerror(errno));
		return;
	}
	s->fd = bufferevent_getfd(s->bev);
	s->ownfd = 1;
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

/* Close a stream's connection and forget its buffers. */
static void
sess_close(struct sess *s)
{
	if (s->bev != NULL) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	/* The plain bufferevent does not own the socket; TLS's does. */
	if (s->ownfd && s->fd != -1)
		close(s->fd);
	s->ownfd = 0;
	s->fd = -1;
	free(s->buf);
	s->buf = NULL;
	s->len = s->cap = s->scan = s->start = 0;
	free(s->cfirst);
	s->cfirst = NULL;
}

/* A stream failed: count it where it belongs and close it. */
static void
sess_fail(struct sess *s, const char *what, const char *detail)
{
	char	 buf[128];
	int	 st = s->state;

	if (st == S_FAILED || st == S_DONE)
		return;
	sess_close(s);
	s->state = S_FAILED;
	if (s->kind == K_COMP) {
		snprintf(buf, sizeof(buf), "component: %s", what);
		reason_add(buf, detail);
		note("component: %s%s%s", what, detail ? ": " : "",
		    detail ? detail : "");
		return;
	}
	if (st == S_READY) {
		xl.dropped++;
		reason_add("dropped after login", detail ? detail : what);
		return;
	}
	reason_add(what, detail);
	login_done(s, 0);
}

/* Queue bytes on a stream. */
static void
sess_send(struct sess *s, const char *p, size_t n)
{
	if (s->bev != NULL)
		bufferevent_write(s->bev, p, n);
}

/* Queue formatted bytes on a stream. */
static void
sess_printf(struct sess *s, const char *fmt, ...)
{
	char	 buf[1024];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		fatalx("sess_printf: line too long");
	sess_send(s, buf, n);
}

/* Our stream header. */
static void
sess_header(struct sess *s)
{
	if (s->kind == K_COMP)
		sess_printf(s, "<?xml version='1.0'?><stream:stream "
		    "xmlns='jabber:component:accept' xmlns:stream='"
		    NS_STREAMS "' to='%s'>", xl.comp_domain);
	else
		sess_printf(s, "<?xml version='1.0'?><stream:stream "
		    "to='%s' version='1.0' xmlns='jabber:client' "
		    "xmlns:stream='" NS_STREAMS "'>", xl.domain);
}

/* A new stream on the same connection: forget what was parsed. */
static void
sess_reset(struct sess *s)
{
	s->len = s->scan = s->start = 0;
	s->depth = 0;
}

/* Bytes arrived: append them and parse. */
static void
sess_read(struct bufferevent *bev, void *arg)
{
	struct sess	*s = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	size_t		 n = evbuffer_get_length(in);
	char		*nb;

	if (n == 0)
		return;
	if (s->len + n > XL_MAX_BUF) {
		sess_fail(s, "stanza too large", NULL);
		return;
	}
	if (s->len + n + 1 > s->cap) {
		s->cap = s->len + n + 1 < 4096 ? 4096 : s->len + n + 1;
		if ((nb = realloc(s->buf, s->cap)) == NULL)
			fatalx("out of memory");
		s->buf = nb;
	}
	evbuffer_remove(in, s->buf + s->len, n);
	s->len += n;
	s->buf[s->len] = '\0';
	sess_parse(s);
}

/* Connected, TLS up, EOF or error. */
static void
sess_event(struct bufferevent *bev, short what, void *arg)
{
	struct sess	*s = arg;
	unsigned long	 e;
	char		 buf[256];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (s->state == S_CONNECT) {
			s->state = s->kind == K_COMP ? S_HANDSHAKE : S_FEAT1;
			sess_header(s);
		} else if (s->state == S_TLS) {
			s->state = S_FEAT2;
			sess_header(s);
		}
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		if ((e = bufferevent_get_openssl_error(s->bev)) != 0) {
			ERR_error_string_n(e, buf, sizeof(buf));
			sess_fail(s, "TLS", buf);
		} else
			sess_fail(s, s->state == S_CONNECT ? "connect" :
			    "connection error",
			    strerror(EVUTIL_SOCKET_ERROR()));
		return;
	}
	if (what & BEV_EVENT_EOF)
		sess_fail(s, "connection closed", NULL);
}

/*
 * Split the input into the stream header and whole top-level elements,
 * enough XML for what servers send: tags with quoted attributes, text,
 * the XML declaration. An element is handed over once complete.
 */
static int
sess_parse(struct sess *s)
{
	char	*b = s->buf, *lt, q;
	size_t	 i = s->scan, j, ts, keep;
	int	 close, selfclose;

	while (i < s->len) {
		if (b[i] != '<') {
			if ((lt = memchr(b + i, '<', s->len - i)) == NULL) {
				i = s->len;
				break;
			}
			i = lt - b;
		}
		for (q = 0, j = i + 1; j < s->len; j++) {
			if (q != 0) {
				if (b[j] == q)
					q = 0;
			} else if (b[j] == '\'' || b[j] == '"')
				q = b[j];
			else if (b[j] == '>')
				break;
		}
		if (j >= s->len)
			break;	/* the rest of the tag is to come */
		if (b[i + 1] == '?' || b[i + 1] == '!') {
			i = j + 1;
			continue;
		}
		close = b[i + 1] == '/';
		selfclose = !close && b[j - 1] == '/';
		if (close) {
			if (--s->depth <= 0) {
				sess_fail(s, "stream closed by the server",
				    NULL);
				return (P_STOP);
			}
			i = j + 1;
			if (s->depth == 1 && sess_element(s, b + s->start,
			    i - s->start, 0) == P_STOP)
				return (P_STOP);
			continue;
		}
		if (s->depth == 0) {
			s->depth = 1;
			ts = i;
			i = j + 1;
			if (sess_element(s, b + ts, i - ts, 1) == P_STOP)
				return (P_STOP);
			continue;
		}
		if (s->depth == 1)
			s->start = i;
		i = j + 1;
		if (!selfclose)
			s->depth++;
		else if (s->depth == 1 && sess_element(s, b + s->start,
		    i - s->start, 0) == P_STOP)
			return (P_STOP);
	}
	/* Keep what is not handled yet: a partial tag or element. */
	keep = s->depth >= 2 ? s->start : i;
	if (keep > 0) {
		memmove(b, b + keep, s->len - keep);
		s->len -= keep;
		b[s->len] = '\0';
		if (s->depth >= 2)
			s->start = 0;
		i -= keep;
	}
	s->scan = i;
	return (P_CONT);
}

/* An element (or, with header set, the stream header). */
static int
sess_element(struct sess *s, const char *p, size_t n, int header)
{
	const char	*name;
	size_t		 nl;
	char		 id[128];

	if (header) {
		if (elem_attr(p, n, "id", id, sizeof(id)) == -1) {
			sess_fail(s, "stream header without an id", NULL);
			return (P_STOP);
		}
		snprintf(s->sid, sizeof(s->sid), "%s", id);
		if (s->kind == K_COMP)
			comp_handshake(s);
		return (P_CONT);
	}
	name = elem_name(p, n, &nl);
	if (nl == 5 && strncmp(name, "error", 5) == 0) {
		const char	*c = NULL;
		char		 cond[64];
		size_t		 k;

		/* The first child is the condition. */
		if ((c = memchr(p + 1, '<', n - 1)) != NULL) {
			c = elem_name(c, n - (c - p), &k);
			snprintf(cond, sizeof(cond), "%.*s", (int)k, c);
		} else
			snprintf(cond, sizeof(cond), "?");
		sess_fail(s, "stream error", cond);
		return (P_STOP);
	}
	if (s->kind == K_COMP)
		return (comp_element(s, p, n));
	return (client_element(s, p, n));
}

/* Switch to TLS after <proceed/>: the socket gets an OpenSSL bufferevent. */
static int
client_starttls(struct sess *s)
{
	SSL	*ssl;

	if ((ssl = SSL_new(xl.ctx)) == NULL) {
		sess_fail(s, "TLS", "SSL_new failed");
		return (P_STOP);
	}
	SSL_set_tlsext_host_name(ssl, xl.domain);
	bufferevent_free(s->bev);
	s->bev = bufferevent_openssl_socket_new(xl.base, s->fd, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	s->state = S_TLS;
	sess_reset(s);
	if (s->bev == NULL) {
		SSL_free(ssl);
		sess_fail(s, "TLS", "no bufferevent");
		return (P_STOP);
	}
	s->ownfd = 0;
	bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	bufferevent_setcb(s->bev, sess_read, NULL, sess_event, s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	return (P_STOP);
}

/* Start SASL with the chosen mechanism (or register, with -A). */
static void
client_auth(struct sess *s)
{
	char		 user[32], pass[32], buf[256];
	unsigned char	 raw[128], r[12];
	char		*b64;
	size_t		 i;
	int		 n;

	snprintf(user, sizeof(user), "user%d", s->acct);
	snprintf(pass, sizeof(pass), "pass%d", s->acct);
	if (xl.reg) {
		s->state = S_REG;
		sess_printf(s, "<iq type='set' id='reg'><query xmlns='"
		    "jabber:iq:register'><username>%s</username><password>"
		    "%s</password></query></iq>", user, pass);
		return;
	}
	s->state = S_SASL;
	if (xl.mech == MECH_PLAIN) {
		n = snprintf((char *)raw, sizeof(raw), "%c%s%c%s", 0, user, 0,
		    pass);
		b64 = b64_enc(raw, n);
		sess_printf(s, "<auth xmlns='" NS_SASL "' mechanism='PLAIN'>"
		    "%s</auth>", b64);
		free(b64);
		return;
	}
	if (RAND_bytes(r, sizeof(r)) != 1)
		fatalx("no randomness");
	for (i = 0; i < sizeof(r); i++)
		snprintf(s->cnonce + 2 * i, 3, "%02x", r[i]);
	n = snprintf(buf, sizeof(buf), "n=%s,r=%s", user, s->cnonce);
	free(s->cfirst);
	if ((s->cfirst = strdup(buf)) == NULL)
		fatalx("out of memory");
	n = snprintf((char *)raw, sizeof(raw), "n,,%s", s->cfirst);
	b64 = b64_enc(raw, n);
	sess_printf(s, "<auth xmlns='" NS_SASL "' mechanism='%s'>%s</auth>",
	    xl.mech == MECH_SHA1 ? "SCRAM-SHA-1" : "SCRAM-SHA-256", b64);
	free(b64);
}

/*
 * SCRAM (RFC 5802): the server-first message. Answer with the proof and
 * keep the server signature that the final message must carry.
 */
static int
client_challenge(struct sess *s, const char *p, size_t n)
{
	const EVP_MD	*md = xl.mech == MECH_SHA1 ? EVP_sha1() :
			    EVP_sha256();
	const char	*t, *nonce = NULL, *salt = NULL, *iter = NULL, *f;
	unsigned char	*sf = NULL, *saltb = NULL;
	unsigned char	 ck[EVP_MAX_MD_SIZE], sk[EVP_MAX_MD_SIZE];
	unsigned char	 stored[EVP_MAX_MD_SIZE], sig[EVP_MAX_MD_SIZE];
	unsigned char	 proof[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = EVP_MD_size(md), l;
	size_t		 tl, sfl, saltl, i, noncel = 0;
	char		 pass[32], *auth = NULL, *final = NULL, *b64 = NULL;
	char		*pb = NULL;
	struct cred	*c = &xl.creds[s->acct - xl.first];
	int		 it, rc = P_STOP;

	if (s->cfirst == NULL) {
		/* A challenge after the proof: the server-final message. */
		if (client_success(s, p, n) == P_STOP)
			return (P_STOP);
		sess_printf(s, "<response xmlns='" NS_SASL "'/>");
		return (P_CONT);
	}
	if (elem_text(p, n, NULL, &t, &tl) == -1 ||
	    b64_dec(t, tl, &sf, &sfl) == -1) {
		sess_fail(s, "SCRAM", "bad challenge encoding");
		return (P_STOP);
	}
	for (f = (char *)sf; f < (char *)sf + sfl; f = strchr(f, ',') + 1) {
		if (strncmp(f, "r=", 2) == 0) {
			nonce = f + 2;
			noncel = strcspn(nonce, ",");
		} else if (strncmp(f, "s=", 2) == 0)
			salt = f + 2;
		else if (strncmp(f, "i=", 2) == 0)
			iter = f + 2;
		if (strchr(f, ',') == NULL)
			break;
	}
	if (nonce == NULL || salt == NULL || iter == NULL ||
	    noncel <= strlen(s->cnonce) ||
	    strncmp(nonce, s->cnonce, strlen(s->cnonce)) != 0 ||
	    (it = atoi(iter)) < 1 || it > 1000000 ||
	    b64_dec(salt, strcspn(salt, ","), &saltb, &saltl) == -1) {
		sess_fail(s, "SCRAM", "bad server-first message");
		goto out;
	}
	snprintf(pass, sizeof(pass), "pass%d", s->acct);
	if (c->salt == NULL || c->iter != it || strncmp(c->salt, salt,
	    strcspn(salt, ",")) != 0 || c->salt[strcspn(salt, ",")] != '\0') {
		free(c->salt);
		c->salt = strndup(salt, strcspn(salt, ","));
		c->iter = it;
		if (PKCS5_PBKDF2_HMAC(pass, strlen(pass), saltb, saltl, it, md,
		    mdlen, c->salted) != 1)
			fatalx("PBKDF2 failed");
	}
	HMAC(md, c->salted, mdlen, (const unsigned char *)"Client Key", 10,
	    ck, &l);
	EVP_Digest(ck, mdlen, stored, &l, md, NULL);
	HMAC(md, c->salted, mdlen, (const unsigned char *)"Server Key", 10,
	    sk, &l);
	if (asprintf(&final, "c=biws,r=%.*s", (int)noncel, nonce) == -1 ||
	    asprintf(&auth, "%s,%.*s,%s", s->cfirst, (int)sfl, (char *)sf,
	    final) == -1)
		fatalx("out of memory");
	HMAC(md, stored, mdlen, (unsigned char *)auth, strlen(auth), sig, &l);
	for (i = 0; i < mdlen; i++)
		proof[i] = ck[i] ^ sig[i];
	HMAC(md, sk, mdlen, (unsigned char *)auth, strlen(auth), s->ssig,
	    &s->ssiglen);
	pb = b64_enc(proof, mdlen);
	free(auth);
	if (asprintf(&auth, "%s,p=%s", final, pb) == -1)
		fatalx("out of memory");
	b64 = b64_enc((unsigned char *)auth, strlen(auth));
	sess_printf(s, "<response xmlns='" NS_SASL "'>%s</response>", b64);
	free(s->cfirst);
	s->cfirst = NULL;
	rc = P_CONT;
out:
	explicit_bzero(ck, sizeof(ck));
	free(sf);
	free(saltb);
	free(auth);
	free(final);
	free(pb);
	free(b64);
	return (rc);
}

/*
 * <success/>, or a server-final challenge: for SCRAM, the server's
 * signature must be there (now or before) and must match.
 */
static int
client_success(struct sess *s, const char *p, size_t n)
{
	const char	*t;
	unsigned char	*raw = NULL, *v = NULL;
	size_t		 tl, rl, vl;

	if (xl.mech == MECH_PLAIN || s->verified)
		return (P_CONT);
	if (elem_text(p, n, NULL, &t, &tl) == -1 || tl == 0 ||
	    (tl == 1 && *t == '=')) {
		sess_fail(s, "SCRAM", "no server signature");
		return (P_STOP);
	}
	if (b64_dec(t, tl, &raw, &rl) == -1 || rl < 3 ||
	    strncmp((char *)raw, "v=", 2) != 0 ||
	    b64_dec((char *)raw + 2, strcspn((char *)raw + 2, ","), &v,
	    &vl) == -1 || vl != s->ssiglen ||
	    CRYPTO_memcmp(v, s->ssig, vl) != 0) {
		free(raw);
		free(v);
		sess_fail(s, "SCRAM", "server signature does not verify");
		return (P_STOP);
	}
	free(raw);
	free(v);
	s->verified = 1;
	return (P_CONT);
}

/* A message to a logged-in session: ours carry the step and send time. */
static void
client_message(struct sess *s, const char *p, size_t n)
{
	struct step		*st;
	char			 type[16], cond[64], body[64];
	const char		*t;
	size_t			 tl;
	int			 step;
	unsigned long long	 sent;
	uint64_t		 now, lat;
	uint32_t		*nl;

	(void)s;
	if (elem_attr(p, n, "type", type, sizeof(type)) == 0 &&
	    strcmp(type, "error") == 0) {
		if (xl.cur < xl.nrates && !xl.steps[xl.cur].done)
			xl.steps[xl.cur].errors++;
		reason_add("message bounced", stanza_error(p, n, cond,
		    sizeof(cond)));
		return;
	}
	/* The text is not NUL-terminated where it lies. */
	if (elem_text(p, n, "body", &t, &tl) == -1 || tl < 5) {
		xl.stray++;
		return;
	}
	snprintf(body, sizeof(body), "%.*s", (int)(tl < 63 ? tl : 63), t);
	if (sscanf(body, "xl %d %llu", &step, &sent) != 2) {
		xl.stray++;
		return;
	}
	if (step != xl.cur || xl.cur >= xl.nrates || xl.steps[step].done) {
		xl.late++;
		return;
	}
	st = &xl.steps[step];
	now = now_ns();
	lat = now > sent ? (now - sent) / 1000 : 0;
	st->recv++;
	if (st->nlat == st->caplat) {
		if (st->caplat >= XL_MAX_LAT)
			return;
		st->caplat = st->caplat ? 2 * st->caplat : 65536;
		if ((nl = reallocarray(st->lat, st->caplat,
		    sizeof(*nl))) == NULL)
			fatalx("out of memory");
		st->lat = nl;
	}
	st->lat[st->nlat++] = lat > UINT32_MAX ? UINT32_MAX : (uint32_t)lat;
}

/* The client side of the protocol, one top-level element at a time. */
static int
client_element(struct sess *s, const char *p, size_t n)
{
	const char	*name;
	size_t		 nl;
	char		 id[64], type[16], from[512], cond[64];

	name = elem_name(p, n, &nl);
#define IS(w)	(nl == sizeof(w) - 1 && strncmp(name, (w), nl) == 0)
	switch (s->state) {
	case S_FEAT1:
		if (!IS("features"))
			break;
		if (memmem(p, n, "<starttls", 9) == NULL) {
			sess_fail(s, "no STARTTLS offered", NULL);
			return (P_STOP);
		}
		sess_printf(s, "<starttls xmlns='" NS_TLS "'/>");
		s->state = S_PROCEED;
		return (P_CONT);
	case S_PROCEED:
		if (IS("proceed"))
			return (client_starttls(s));
		sess_fail(s, "STARTTLS refused", NULL);
		return (P_STOP);
	case S_FEAT2:
		if (!IS("features"))
			break;
		if (!xl.reg && memmem(p, n, xl.mech == MECH_PLAIN ? ">PLAIN<" :
		    xl.mech == MECH_SHA1 ? ">SCRAM-SHA-1<" : ">SCRAM-SHA-256<",
		    xl.mech == MECH_PLAIN ? 7 : xl.mech == MECH_SHA1 ? 13 :
		    15) == NULL) {
			sess_fail(s, "mechanism not offered", NULL);
			return (P_STOP);
		}
		client_auth(s);
		return (P_CONT);
	case S_SASL:
		if (IS("challenge"))
			return (client_challenge(s, p, n));
		if (IS("success")) {
			if (client_success(s, p, n) == P_STOP)
				return (P_STOP);
			sess_reset(s);
			s->state = S_FEAT3;
			sess_header(s);
			return (P_STOP);
		}
		if (IS("failure")) {
			const char	*c = memchr(p + 1, '<', n - 1);
			size_t		 k;

			snprintf(cond, sizeof(cond), "?");
			if (c != NULL && c[1] != '/') {
				c = elem_name(c, n - (c - p), &k);
				snprintf(cond, sizeof(cond), "%.*s", (int)k,
				    c);
			}
			sess_fail(s, "SASL failure", cond);
			return (P_STOP);
		}
		break;
	case S_FEAT3:
		if (!IS("features"))
			break;
		if (memmem(p, n, "<bind", 5) == NULL) {
			sess_fail(s, "no bind offered", NULL);
			return (P_STOP);
		}
		sess_printf(s, "<iq type='set' id='bind'><bind xmlns='"
		    NS_BIND "'><resource>xl%d</resource></bind></iq>",
		    s->res);
		s->state = S_BIND;
		return (P_CONT);
	case S_BIND:
	case S_SYNC:
	case S_REG:
		if (!IS("iq"))
			break;
		if (elem_attr(p, n, "id", id, sizeof(id)) == -1 ||
		    elem_attr(p, n, "type", type, sizeof(type)) == -1)
			break;
		if (s->state == S_REG && strcmp(id, "reg") == 0) {
			if (strcmp(type, "result") == 0 ||
			    memmem(p, n, "<conflict", 9) != NULL) {
				sess_close(s);
				s->state = S_DONE;
				login_done(s, 1);
			} else
				sess_fail(s, "registration refused",
				    stanza_error(p, n, cond, sizeof(cond)));
			return (P_STOP);
		}
		if (s->state == S_BIND && strcmp(id, "bind") == 0) {
			if (strcmp(type, "result") != 0) {
				sess_fail(s, "bind refused",
				    stanza_error(p, n, cond, sizeof(cond)));
				return (P_STOP);
			}
			/* Available, then a ping: its answer says the
			 * server has taken the presence in. */
			sess_printf(s, "<presence/><iq type='get' id='sync' "
			    "to='%s'><ping xmlns='urn:xmpp:ping'/></iq>",
			    xl.domain);
			s->state = S_SYNC;
			return (P_CONT);
		}
		if (s->state == S_SYNC && strcmp(id, "sync") == 0) {
			s->state = S_READY;
			login_done(s, 1);
			return (P_CONT);
		}
		break;
	case S_READY:
		if (IS("message")) {
			client_message(s, p, n);
			return (P_CONT);
		}
		if (IS("iq") && elem_attr(p, n, "type", type,
		    sizeof(type)) == 0 && (strcmp(type, "get") == 0 ||
		    strcmp(type, "set") == 0) &&
		    elem_attr(p, n, "id", id, sizeof(id)) == 0 &&
		    elem_attr(p, n, "from", from, sizeof(from)) == 0)
			sess_printf(s, "<iq type='result' id='%s' to='%s'/>",
			    id, from);
		return (P_CONT);
	default:
		break;
	}
#undef IS
	/* Presence, and anything else we did not ask for, is ignored. */
	return (P_CONT);
}

/* XEP-0114: hex SHA-1 of the stream id and the secret. */
static void
comp_handshake(struct sess *s)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 ml, i;
	char		 hex[2 * EVP_MAX_MD_SIZE + 1], *h;

	if (asprintf(&h, "%s%s", s->sid, xl.secret) == -1)
		fatalx("out of memory");
	EVP_Digest(h, strlen(h), md, &ml, EVP_sha1(), NULL);
	explicit_bzero(h, strlen(h));
	free(h);
	for (i = 0; i < ml; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	sess_printf(s, "<handshake>%s</handshake>", hex);
}

/* The echo component: every message goes back to its sender. */
static int
comp_element(struct sess *s, const char *p, size_t n)
{
	const char	*name, *t;
	size_t		 nl, tl;
	char		 from[512], to[512];

	name = elem_name(p, n, &nl);
	if (s->state == S_HANDSHAKE) {
		if (nl == 9 && strncmp(name, "handshake", 9) == 0) {
			s->state = S_READY;
			note("component %s connected", xl.comp_domain);
			return (P_CONT);
		}
		sess_fail(s, "handshake refused", NULL);
		return (P_STOP);
	}
	if (nl != 7 || strncmp(name, "message", 7) != 0)
		return (P_CONT);
	if (elem_attr(p, n, "from", from, sizeof(from)) == -1 ||
	    elem_attr(p, n, "to", to, sizeof(to)) == -1 ||
	    elem_text(p, n, "body", &t, &tl) == -1)
		return (P_CONT);
	if (xl.cur < xl.nrates)
		xl.steps[xl.cur].comp_in++;
	sess_printf(s, "<message from='%s' to='%s' type='chat'><body>",
	    to, from);
	sess_send(s, t, tl);
	sess_send(s, "</body></message>", 17);
	return (P_CONT);
}

/* A login (or registration) finished, well or not. */
static void
login_done(struct sess *s, int ok)
{
	if (s->kind != K_CLIENT)
		return;
	xl.inflight--;
	if (ok) {
		xl.ok++;
		if (xl.nlogin < xl.nsess)
			xl.login_ns[xl.nlogin++] = now_ns() - s->t0;
		if (s->state == S_READY)
			xl.ready[xl.nready++] = s->id;
	} else
		xl.failed++;
	if (xl.phase != PH_LOGIN)
		return;
	launch();
}

/* Start logins until the in-flight cap or the end of the list. */
static void
launch(void)
{
	static int	 busy;

	if (busy)
		return;	/* a connect failed at once: the loop goes on */
	busy = 1;
	while (xl.inflight < xl.conc && xl.next < xl.nsess &&
	    xl.phase == PH_LOGIN) {
		xl.inflight++;
		sess_start(&xl.sess[xl.next++]);
	}
	busy = 0;
	if (xl.phase == PH_LOGIN && xl.ok + xl.failed == xl.nsess)
		logins_finished();
}

/* Every login has finished: measure, then hold or send. */
static void
logins_finished(void)
{
	struct timeval	 tv = { 0, XL_SETTLE_MS * 1000 };

	xl.t_login1 = now_ns();
	xl.lcpu1 = proc_cpu(xl.pid);
	xl.lgcpu1 = gen_cpu();
	xl.rss_after = proc_rss(xl.pid);
	note("logins: %d ok, %d failed in %.2f s", xl.ok, xl.failed,
	    (xl.t_login1 - xl.t_login0) / 1e9);
	if (xl.hold_secs > 0) {
		xl.phase = PH_HOLD;
		xl.hold_until = now_ns() + (uint64_t)xl.hold_secs * 1000000000;
		return;
	}
	if (xl.nrates == 0 || xl.nready < 2) {
		finish();
		return;
	}
	xl.phase = PH_SETTLE;
	evtimer_add(xl.later, &tv);
}

/* Start offered-load step i. */
static void
step_begin(int i)
{
	struct step	*st = &xl.steps[i];

	xl.cur = i;
	memset(st, 0, sizeof(*st));
	st->rate = xl.rates[i];
	st->cpu0 = proc_cpu(xl.pid);
	st->rss0 = proc_rss(xl.pid);
	st->gcpu0 = gen_cpu();
	st->t_start = now_ns();
	xl.phase = PH_SEND;
}

/* Take a step's measurements and judge it. */
static void
step_close(struct step *st)
{
	double		 wall;

	if (st->t_sent == 0)
		st->t_sent = now_ns();
	st->t_end = now_ns();
	st->done = 1;
	st->cpu1 = proc_cpu(xl.pid);
	st->rss1 = proc_rss(xl.pid);
	st->gcpu1 = gen_cpu();
	qsort(st->lat, st->nlat, sizeof(*st->lat), cmp_u32);
	wall = (st->t_end - st->t_start) / 1e9;
	st->ok = st->recv == st->sent && st->errors == 0 && !st->behind &&
	    pct_u32(st->lat, st->nlat, 0.99) / 1000 <= xl.p99_limit &&
	    (st->gcpu1 - st->gcpu0) < 0.95 * wall;
	note("step %d msg/s: sent %llu, received %llu, p99 %.2f ms, "
	    "server cpu %.2f s%s", st->rate, (unsigned long long)st->sent,
	    (unsigned long long)st->recv,
	    pct_u32(st->lat, st->nlat, 0.99) / 1000,
	    xl.pid > 0 ? st->cpu1 - st->cpu0 : -1.0,
	    st->ok ? "" : " (falls behind)");
}

/* A step has drained (or given up waiting): go on or stop. */
static void
step_end(void)
{
	struct step	*st = &xl.steps[xl.cur];
	struct timeval	 tv = { 0, XL_SETTLE_MS * 1000 };

	step_close(st);
	if (xl.cur + 1 < xl.nrates && (st->ok || xl.keep_going)) {
		xl.phase = PH_SETTLE;
		evtimer_add(xl.later, &tv);
		return;
	}
	xl.phase = PH_SETTLE;
	finish();
}

/* Send one message from the next session to a random other account. */
static void
send_one(struct step *st, uint64_t now)
{
	struct sess	*s, *r;
	char		 buf[512];
	int		 k, n;

	s = &xl.sess[xl.ready[xl.rr++ % xl.nready]];
	if (s->state != S_READY)
		return;
	if (xl.comp_port != 0)
		n = snprintf(buf, sizeof(buf), "<message to='echo@%s' "
		    "type='chat'><body>xl %d %llu %d ", xl.comp_domain,
		    xl.cur, (unsigned long long)now, s->acct);
	else {
		k = rnd() % xl.nready;
		r = &xl.sess[xl.ready[k]];
		if (r == s)
			r = &xl.sess[xl.ready[(k + 1) % xl.nready]];
		n = snprintf(buf, sizeof(buf), "<message to='user%d@%s' "
		    "type='chat'><body>xl %d %llu %d ", r->acct, xl.domain,
		    xl.cur, (unsigned long long)now, s->acct);
	}
	sess_send(s, buf, n);
	if (xl.pad > 0)
		sess_send(s, xl.padding, xl.pad);
	sess_send(s, "</body></message>", 17);
	st->sent++;
}

/* Every millisecond: send what the offered rate asks for, or drain. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct step	*st = &xl.steps[xl.cur];
	uint64_t	 now = now_ns(), el, due, n, i, cap;

	(void)fd;
	(void)what;
	(void)arg;
	if (xl.phase == PH_SEND) {
		el = now - st->t_start;
		if (el >= (uint64_t)xl.step_secs * 1000000000) {
			st->t_sent = now;
			xl.phase = PH_DRAIN;
			return;
		}
		due = (uint64_t)((double)st->rate * el / 1e9);
		if (due <= st->sent)
			return;
		n = due - st->sent;
		/* More than 50 ms behind the schedule: we cannot keep up. */
		if (n > (uint64_t)st->rate / 20 + 1)
			st->behind = 1;
		cap = st->rate / 100 + 10;
		for (i = 0; i < n && i < cap; i++)
			send_one(st, now);
	} else if (xl.phase == PH_DRAIN) {
		if (st->recv + st->errors >= st->sent ||
		    now - st->t_sent >= (uint64_t)xl.drain_secs * 1000000000)
			step_end();
	}
}

/* Once a second: login timeouts, the hold, the overall bound. */
static void
house_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t	 now = now_ns();
	int		 i;

	(void)fd;
	(void)what;
	(void)arg;
	if (now >= xl.deadline) {
		note("time bound of %d s reached, stopping", xl.max_secs);
		xl.aborted = 1;
		finish();
		return;
	}
	if (xl.phase == PH_LOGIN) {
		for (i = 0; i < xl.next; i++) {
			if (xl.sess[i].state > S_IDLE &&
			    xl.sess[i].state < S_READY &&
			    now - xl.sess[i].t0 > XL_LOGIN_SECS * 1000000000ULL)
				sess_fail(&xl.sess[i], "login timeout", NULL);
		}
		if (xl.phase == PH_LOGIN && !xl.quiet && xl.nsess >= 2000)
			note("logins: %d ok, %d failed, %d in flight", xl.ok,
			    xl.failed, xl.inflight);
	}
	if (xl.phase == PH_HOLD && now >= xl.hold_until) {
		xl.rss_hold = proc_rss(xl.pid);
		xl.hold_secs = 0;
		if (xl.nrates == 0 || xl.nready < 2) {
			finish();
			return;
		}
		step_begin(0);
	}
}

/* After a pause: the first or the next step. */
static void
later_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (xl.phase != PH_SETTLE)
		return;
	step_begin(xl.steps[0].done ? xl.cur + 1 : 0);
}

/* Write the report and leave the loop. */
static void
finish(void)
{
	if (xl.phase == PH_DONE)
		return;
	if (xl.phase == PH_LOGIN && xl.t_login1 == 0) {
		xl.t_login1 = now_ns();
		xl.lcpu1 = proc_cpu(xl.pid);
		xl.lgcpu1 = gen_cpu();
		xl.rss_after = proc_rss(xl.pid);
	}
	if ((xl.phase == PH_SEND || xl.phase == PH_DRAIN) &&
	    xl.cur < xl.nrates && !xl.steps[xl.cur].done)
		step_close(&xl.steps[xl.cur]);
	xl.phase = PH_DONE;
	report(stdout);
	event_base_loopexit(xl.base, NULL);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t	 x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x < y ? -1 : x > y);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

/* The q-quantile (nearest rank) of a sorted array, or 0 if empty. */
static double
pct_u32(const uint32_t *v, size_t n, double q)
{
	size_t	 k;

	if (n == 0)
		return (0);
	k = (size_t)(q * n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return (v[k - 1]);
}

/* The report: one JSON object. */
static void
report(FILE *f)
{
	struct step	*st;
	uint32_t	*lms;
	double		 wall, cpu, gcpu;
	int		 i, best = 0;

	qsort(xl.login_ns, xl.nlogin, sizeof(*xl.login_ns), cmp_u64);
	if ((lms = calloc(xl.nlogin + 1, sizeof(*lms))) == NULL)
		fatalx("out of memory");
	for (i = 0; i < xl.nlogin; i++)
		lms[i] = xl.login_ns[i] / 1000;
	wall = (xl.t_login1 - xl.t_login0) / 1e9;
	cpu = xl.pid > 0 && xl.lcpu1 >= 0 ? xl.lcpu1 - xl.lcpu0 : -1;
	fprintf(f, "{\n  \"tool\": \"xmppload\",\n");
	fprintf(f, "  \"target\": \"%s\", \"port\": %d, \"domain\": \"%s\",\n",
	    xl.addr, xl.port, xl.domain);
	fprintf(f, "  \"mode\": \"%s\", \"mechanism\": \"%s\",\n",
	    xl.reg ? "register" : xl.comp_port ? "component" : "client",
	    xl.mech == MECH_PLAIN ? "PLAIN" : xl.mech == MECH_SHA1 ?
	    "SCRAM-SHA-1" : "SCRAM-SHA-256");
	fprintf(f, "  \"accounts\": %d, \"first\": %d, \"resources\": %d, "
	    "\"sessions\": %d,\n", xl.naccts, xl.first, xl.nres, xl.nsess);
	fprintf(f, "  \"concurrency\": %d, \"server_pid\": %d, "
	    "\"aborted\": %s,\n", xl.conc, (int)xl.pid,
	    xl.aborted ? "true" : "false");
	fprintf(f, "  \"login\": {\"ok\": %d, \"failed\": %d, "
	    "\"dropped_after\": %d, \"wall_s\": %.3f, \"per_s\": %.1f,\n",
	    xl.ok, xl.failed, xl.dropped, wall, wall > 0 ? xl.ok / wall : 0);
	fprintf(f, "    \"time_ms\": {\"p50\": %.2f, \"p90\": %.2f, "
	    "\"p99\": %.2f, \"max\": %.2f},\n", pct_u32(lms, xl.nlogin, 0.5) /
	    1000, pct_u32(lms, xl.nlogin, 0.9) / 1000,
	    pct_u32(lms, xl.nlogin, 0.99) / 1000,
	    pct_u32(lms, xl.nlogin, 1) / 1000);
	fprintf(f, "    \"server_cpu_s\": %.2f, \"per_server_cpu_s\": %.1f, "
	    "\"generator_cpu_pct\": %.1f,\n", cpu, cpu > 0 ? xl.ok / cpu : -1,
	    wall > 0 ? 100 * (xl.lgcpu1 - xl.lgcpu0) / wall : 0);
	fprintf(f, "    \"server_rss_kib_before\": %ld, "
	    "\"server_rss_kib_after\": %ld, \"server_rss_kib_held\": %ld,\n",
	    xl.rss_before, xl.rss_after, xl.rss_hold);
	fprintf(f, "    \"rss_kib_per_session\": %.2f},\n", xl.ok > 0 &&
	    xl.rss_before > 0 ? (double)((xl.rss_hold > 0 ? xl.rss_hold :
	    xl.rss_after) - xl.rss_before) / xl.ok : -1);
	free(lms);
	fprintf(f, "  \"p99_limit_ms\": %.1f, \"step_s\": %d, \"pad\": %d,\n",
	    xl.p99_limit, xl.step_secs, xl.pad);
	fprintf(f, "  \"steps\": [");
	for (i = 0; i < xl.nrates && i < xl.cur + 1; i++) {
		st = &xl.steps[i];
		if (!st->done)
			break;
		wall = (st->t_end - st->t_start) / 1e9;
		cpu = xl.pid > 0 && st->cpu1 >= 0 ? st->cpu1 - st->cpu0 : -1;
		gcpu = st->gcpu1 - st->gcpu0;
		fprintf(f, "%s\n    {\"rate\": %d, \"sent\": %llu, "
		    "\"received\": %llu, \"errors\": %llu, \"component_in\": "
		    "%llu,\n", i ? "," : "", st->rate,
		    (unsigned long long)st->sent,
		    (unsigned long long)st->recv,
		    (unsigned long long)st->errors,
		    (unsigned long long)st->comp_in);
		fprintf(f, "     \"delivered_pct\": %.3f, \"latency_ms\": "
		    "{\"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, "
		    "\"max\": %.3f},\n", st->sent ? 100.0 * st->recv /
		    st->sent : 0, pct_u32(st->lat, st->nlat, 0.5) / 1000,
		    pct_u32(st->lat, st->nlat, 0.9) / 1000,
		    pct_u32(st->lat, st->nlat, 0.99) / 1000,
		    pct_u32(st->lat, st->nlat, 1) / 1000);
		fprintf(f, "     \"wall_s\": %.3f, \"server_cpu_s\": %.2f, "
		    "\"server_cpu_us_per_msg\": %.2f, \"server_rss_kib\": %ld, "
		    "\"generator_cpu_pct\": %.1f, \"behind\": %s, "
		    "\"ok\": %s}", wall, cpu, cpu >= 0 && st->recv ?
		    cpu * 1e6 / st->recv : -1, st->rss1, wall > 0 ?
		    100 * gcpu / wall : 0, st->behind ? "true" : "false",
		    st->ok ? "true" : "false");
		if (st->ok)
			best = st->rate;
	}
	fprintf(f, "\n  ],\n  \"sustained_rate\": %d, \"late\": %llu, "
	    "\"stray\": %llu,\n", best, (unsigned long long)xl.late,
	    (unsigned long long)xl.stray);
	fprintf(f, "  \"failures\": [");
	for (i = 0; i < xl.nreasons; i++) {
		const char	*c;

		fprintf(f, "%s{\"reason\": \"", i ? ", " : "");
		for (c = xl.reasons[i].text; *c != '\0'; c++)
			if (*c == '"' || *c == '\\')
				fprintf(f, "\\%c", *c);
			else if ((unsigned char)*c >= 0x20)
				fputc(*c, f);
		fprintf(f, "\", \"count\": %d}", xl.reasons[i].n);
	}
	fprintf(f, "]\n}\n");
	fflush(f);
}

/* The local name of the element at p (prefix dropped). */
static const char *
elem_name(const char *p, size_t n, size_t *len)
{
	const char	*s = p + 1, *e = p + 1, *colon = NULL;

	while (e < p + n && *e != ' ' && *e != '>' && *e != '/' &&
	    *e != '\t' && *e != '\r' && *e != '\n') {
		if (*e == ':')
			colon = e;
		e++;
	}
	if (colon != NULL)
		s = colon + 1;
	*len = e - s;
	return (s);
}

/* An attribute of the element's opening tag, unescaped only for &apos;. */
static int
elem_attr(const char *p, size_t n, const char *name, char *out, size_t sz)
{
	const char	*e, *v, *end = p + n;
	size_t		 nl = strlen(name), o = 0;
	char		 q = 0;

	/* The opening tag ends at the first '>' outside quotes. */
	for (e = p + 1; e < end; e++) {
		if (q != 0) {
			if (*e == q)
				q = 0;
		} else if (*e == '\'' || *e == '"')
			q = *e;
		else if (*e == '>')
			break;
	}
	for (v = p + 1; v + nl + 2 < e; v++) {
		if ((v[-1] != ' ' && v[-1] != '\t' && v[-1] != '\n' &&
		    v[-1] != '\r') || strncmp(v, name, nl) != 0 ||
		    v[nl] != '=' || (v[nl + 1] != '\'' && v[nl + 1] != '"'))
			continue;
		q = v[nl + 1];
		for (v += nl + 2; v < e && *v != q; v++) {
			if (o + 1 >= sz)
				return (-1);
			out[o++] = *v;
		}
		out[o] = '\0';
		return (0);
	}
	return (-1);
}

/*
 * The text of the first child element called name (NULL: of the element
 * itself), raw, up to the next tag. -1 if there is none.
 */
static int
elem_text(const char *p, size_t n, const char *name, const char **t,
    size_t *tl)
{
	const char	*end = p + n, *c, *gt, *lt;
	size_t		 nl, k;

	c = p;
	if (name != NULL) {
		nl = strlen(name);
		for (c = p + 1; (c = memchr(c, '<', end - c)) != NULL; c++) {
			if (c + nl + 1 < end && c[1] != '/' &&
			    strncmp(elem_name(c, end - c, &k), name, nl) == 0 &&
			    k == nl)
				break;
		}
		if (c == NULL)
			return (-1);
	}
	if ((gt = memchr(c, '>', end - c)) == NULL)
		return (-1);
	if (gt[-1] == '/') {
		*t = gt;
		*tl = 0;
		return (0);
	}
	if ((lt = memchr(gt + 1, '<', end - gt - 1)) == NULL)
		return (-1);
	*t = gt + 1;
	*tl = lt - gt - 1;
	return (0);
}

/* The condition of a stanza's <error/>, into buf; "?" if none. */
static const char *
stanza_error(const char *p, size_t n, char *buf, size_t sz)
{
	const char	*end = p + n, *e, *c;
	size_t		 k;

	snprintf(buf, sz, "?");
	if ((e = memmem(p, n, "<error", 6)) == NULL ||
	    (e = memchr(e, '>', end - e)) == NULL ||
	    (c = memchr(e, '<', end - e)) == NULL || c[1] == '/')
		return (buf);
	c = elem_name(c, end - c, &k);
	snprintf(buf, sz, "%.*s", (int)k, c);
	return (buf);
}

/* Base64 of a buffer; the caller frees. */
static char *
b64_enc(const unsigned char *p, size_t n)
{
	char	*out;

	if ((out = malloc(4 * ((n + 2) / 3) + 1)) == NULL)
		fatalx("out of memory");
	EVP_EncodeBlock((unsigned char *)out, p, n);
	return (out);
}

/* Decode base64 (whitespace skipped); the caller frees *out. */
static int
b64_dec(const char *p, size_t n, unsigned char **out, size_t *outlen)
{
	char	*clean;
	size_t	 i, k = 0, pad = 0;
	int	 r;

	*out = NULL;
	if ((clean = malloc(n + 1)) == NULL)
		fatalx("out of memory");
	for (i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\n' && p[i] != '\r' &&
		    p[i] != '\t')
			clean[k++] = p[i];
	clean[k] = '\0';
	if (k % 4 != 0) {
		free(clean);
		return (-1);
	}
	if (k > 0 && clean[k - 1] == '=')
		pad++;
	if (k > 1 && clean[k - 2] == '=')
		pad++;
	if ((*out = malloc(k / 4 * 3 + 1)) == NULL)
		fatalx("out of memory");
	r = EVP_DecodeBlock(*out, (unsigned char *)clean, k);
	free(clean);
	if (r < 0 || (size_t)r < pad) {
		free(*out);
		*out = NULL;
		return (-1);
	}
	*outlen = r - pad;
	(*out)[*outlen] = '\0';
	return (0);
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
	while ((ch = getopt(argc, argv, "Aa:b:c:d:f:gH:K:k:L:m:n:P:p:qR:r:"
	    "T:t:w:")) != -1) {
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
	if ((long)xl.naccts * xl.nres > XL_MAX_SESSIONS)
		fatalx("at most %d sessions", XL_MAX_SESSIONS);
	if (xl.nres > 1 && xl.nrates > 0)
		fatalx("messages need one resource per account (-R 1)");
	if (xl.reg && (xl.nres > 1 || xl.nrates > 0 || xl.comp_port))
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

	xl.t_begin = now_ns();
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
		    now_ns() < xl.deadline)
			event_base_loop(xl.base, EVLOOP_ONCE);
		if (xl.comp.state != S_READY)
			fatalx("the component did not connect");
	}
	xl.phase = PH_LOGIN;
	xl.rss_before = proc_rss(xl.pid);
	xl.lcpu0 = proc_cpu(xl.pid);
	xl.lgcpu0 = gen_cpu();
	xl.t_login0 = now_ns();
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
