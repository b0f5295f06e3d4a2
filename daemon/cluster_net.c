/*
 * The cluster port (DESIGN.md section 7): libuv run from libevent, mutual
 * TLS against the trust bundle, channels named by a hello line, and the
 * raft transport that hands raft one end of a socketpair per channel.
 *
 * A channel is a struct cnet_dial, dialled or accepted, until its hello
 * is answered. Then it is handed on (CN_FWD, CN_REQ) or becomes a proxy
 * between its TLS bufferevent and our end of raft's socketpair (CN_RAFT).
 * Callbacks into cluster.c and raft never run from inside a call they
 * made: a failure found at once is reported on the next loop turn.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "cluster.h"
#include "log.h"
#include "mmpd.h"
#include "xmalloc.h"

#define CNET_MAGIC	"MMPC1"
#define CNET_SECS	10		/* connect, TLS and hello */
#define CNET_HELLO_MAX	512
#define CNET_PENDING	64		/* accepted channels before hello */
#define CNET_PROXY_HIGH	(1024 * 1024)	/* then stop reading the source */
#define CNET_UV_CLOSE	1000		/* runs to let libuv wind down */
#define CNET_LINGER	2		/* seconds for a refused peer to go */
#define CNET_QUIET_MS	10000		/* between equal warnings of a host */

/* Where a channel is before it is handed on. */
#define CD_CONNECT	0	/* TCP connect in progress (dialled) */
#define CD_TLS		1	/* TLS handshake */
#define CD_HELLO	2	/* waiting for the hello or its answer */
#define CD_CLOSING	3	/* refused: flushing our ERR line (accepted) */
#define CD_FAILED	4	/* failed, cb due on the next turn (dialled) */

/* A channel until its hello is answered, dialled or accepted. */
struct cnet_dial {
	TAILQ_ENTRY(cnet_dial)	 entry;
	int			 incoming;
	int			 kind;
	int			 state;
	int			 fd;		/* before TLS, else -1 */
	struct event		*ev;		/* connect completion */
	struct event		*timer;		/* bound; deferred failure */
	struct bufferevent	*bev;
	char			 peer[80];	/* ip:port, for messages */
	char			*cause;		/* CD_FAILED */
	cnet_dial_cb		 cb;
	void			*arg;
};

/* A raft channel: TLS on one side, raft's socketpair on the other. */
struct cnet_proxy {
	TAILQ_ENTRY(cnet_proxy)	 entry;
	struct bufferevent	*tls;
	struct bufferevent	*plain;
	uint64_t		 id;
	char			 peer[80];
};

/* A raft connect request in flight; dial is NULL once cancelled. */
struct cnet_rconn {
	TAILQ_ENTRY(cnet_rconn)	 entry;
	struct raft_uv_connect	*req;
	struct cnet_dial	*dial;
	uint64_t		 id;
};

/*
 * A refused peer's socket, write side shut, read and discarded until the
 * peer closes (or briefly): closing it at once with the peer's hello
 * unread would reset the connection, and the peer would lose our alert
 * or our ERR line.
 */
struct cnet_linger {
	TAILQ_ENTRY(cnet_linger) entry;
	int			 fd;
	struct event		*ev;
};

/* A warning lately given about a host, and when. */
struct cnet_said {
	char			 key[320];
	int64_t			 ms;
};

/* When bytes last came from a peer on a raft channel. */
struct cnet_heard {
	TAILQ_ENTRY(cnet_heard)	 entry;
	uint64_t		 id;
	int64_t			 ms;
};

static uv_loop_t		*cnet_loop;
static struct event		*cnet_uv_io;
static struct event		*cnet_uv_timer;
static struct event		*cnet_uv_kick_ev;
static int			 cnet_uv_running;

static SSL_CTX			*cnet_ctx;
static struct evconnlistener	*cnet_lev;
static struct sockaddr_storage	 cnet_bind;
static socklen_t		 cnet_bindlen;
static char			 cnet_addr[80];
static char			*cnet_domain;
static uint64_t			 cnet_id;
static cnet_accept_cb		 cnet_accept_cbs[CN_REQ + 1];
static void			*cnet_accept_args[CN_REQ + 1];
static int			 cnet_npending;
static struct cnet_said		 cnet_said[16];

static TAILQ_HEAD(, cnet_dial)	 cnet_dials =
    TAILQ_HEAD_INITIALIZER(cnet_dials);
static TAILQ_HEAD(, cnet_proxy)	 cnet_proxies =
    TAILQ_HEAD_INITIALIZER(cnet_proxies);
static TAILQ_HEAD(, cnet_heard)	 cnet_heards =
    TAILQ_HEAD_INITIALIZER(cnet_heards);
static TAILQ_HEAD(, cnet_rconn)	 cnet_rconns =
    TAILQ_HEAD_INITIALIZER(cnet_rconns);
static TAILQ_HEAD(, cnet_linger) cnet_lingers =
    TAILQ_HEAD_INITIALIZER(cnet_lingers);

static struct raft_uv_transport	 cnet_raft;
static raft_uv_accept_cb	 cnet_raft_accept;
static raft_uv_transport_close_cb cnet_raft_close_cb;
static int			 cnet_raft_closing;
static struct event		*cnet_raft_ev;

static void	 cnet_uv_run(evutil_socket_t, short, void *);
static int	 cnet_uv_watchers(void);
static void	 cnet_uv_close_walk(uv_handle_t *, void *);
static char	*cnet_ssl_err(const char *, const char *);
static SSL_CTX	*cnet_ctx_new(const char *, const char *, const char *,
		    char **);
static int	 cnet_parse_addr(const char *, struct sockaddr_storage *,
		    socklen_t *);
static void	 cnet_sockopts(int);
static void	 cnet_warn(const char *, const char *, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));
static const char *cnet_kind_name(int);
static int	 cnet_kind(const char *);
static int	 cnet_token(const char *);
static int	 cnet_hello_parse(char *, struct cnet_hello *, int);
static void	 cnet_accept(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	 cnet_dial_connected(evutil_socket_t, short, void *);
static void	 cnet_dial_timer(evutil_socket_t, short, void *);
static void	 cnet_dial_free(struct cnet_dial *);
static void	 cnet_dial_drop(struct cnet_dial *);
static void	 cnet_linger_read(evutil_socket_t, short, void *);
static void	 cnet_linger_free(struct cnet_linger *);
static void	 cnet_dial_defer(struct cnet_dial *, char *);
static void	 cnet_dial_finish(struct cnet_dial *, struct bufferevent *,
		    const struct cnet_hello *, char *);
static int	 cnet_tls_start(struct cnet_dial *);
static int	 cnet_tls_why(struct cnet_dial *, short, int, char *, size_t,
		    char *, size_t, int *);
static void	 cnet_hs_read(struct bufferevent *, void *);
static void	 cnet_hs_event(struct bufferevent *, short, void *);
static void	 cnet_hs_flushed(struct bufferevent *, void *);
static int	 cnet_hs_input(struct cnet_dial *);
static void	 cnet_hs_hello(struct cnet_dial *, char *);
static void	 cnet_hs_answer(struct cnet_dial *, char *);
static void	 cnet_hs_refuse(struct cnet_dial *, const char *);
static void	 cnet_hs_ok(struct cnet_dial *);
static int	 cnet_proxy_new(struct bufferevent *, uint64_t, const char *,
		    uv_stream_t **);
static void	 cnet_proxy_free(struct cnet_proxy *);
static void	 cnet_proxy_read(struct bufferevent *, void *);
static void	 cnet_proxy_write(struct bufferevent *, void *);
static void	 cnet_proxy_event(struct bufferevent *, short, void *);
static void	 cnet_heard_now(uint64_t);
static void	 cnet_raft_free_handle(uv_handle_t *);
static int	 cnet_raft_init(struct raft_uv_transport *, raft_id,
		    const char *);
static int	 cnet_raft_listen(struct raft_uv_transport *,
		    raft_uv_accept_cb);
static int	 cnet_raft_connect(struct raft_uv_transport *,
		    struct raft_uv_connect *, raft_id, const char *,
		    raft_uv_connect_cb);
static void	 cnet_raft_close(struct raft_uv_transport *,
		    raft_uv_transport_close_cb);
static void	 cnet_raft_dialled(struct bufferevent *,
		    const struct cnet_hello *, const char *, void *);
static void	 cnet_raft_deferred(evutil_socket_t, short, void *);

/*
 * libuv inside libevent
 */

/* Create the libuv loop and watch it from mmpd's event base. */
int
cnet_uv_init(void)
{
	int	 rv;

	if (cnet_loop != NULL)
		return (0);
	cnet_loop = xcalloc(1, sizeof(*cnet_loop));
	if ((rv = uv_loop_init(cnet_loop)) != 0) {
		log_warnx("cnet_uv_init: uv_loop_init: %s", uv_strerror(rv));
		free(cnet_loop);
		cnet_loop = NULL;
		return (-1);
	}
	cnet_uv_io = event_new(mmpd->base, uv_backend_fd(cnet_loop),
	    EV_READ | EV_PERSIST, cnet_uv_run, NULL);
	cnet_uv_timer = evtimer_new(mmpd->base, cnet_uv_run, NULL);
	cnet_uv_kick_ev = event_new(mmpd->base, -1, 0, cnet_uv_run, NULL);
	if (cnet_uv_io == NULL || cnet_uv_timer == NULL ||
	    cnet_uv_kick_ev == NULL)
		fatalx("cnet_uv_init: cannot make events");
	event_add(cnet_uv_io, NULL);
	cnet_uv_kick();
	return (0);
}

/* The libuv loop (NULL before cnet_uv_init). */
struct uv_loop_s *
cnet_uv_loop(void)
{
	return (cnet_loop);
}

/* Run the libuv loop on the next turn (after calls into raft). */
void
cnet_uv_kick(void)
{
	if (cnet_uv_kick_ev != NULL)
		event_active(cnet_uv_kick_ev, EV_TIMEOUT, 0);
}

/*
 * libuv applies new watchers to its epoll set only inside uv_run, and
 * uv_backend_timeout() of libuv before 1.45 does not count them (libuv
 * issue 1565): a read started from a libuv callback would wait for the
 * next timer. Both layouts of the queue begin with its next pointer,
 * which points at the queue itself when it is empty.
 */
static int
cnet_uv_watchers(void)
{
	void *const	*q = (void *const *)(void *)&cnet_loop->watcher_queue;

	return (q[0] != (const void *)q);
}

/* The backend fd is readable, the timer fired or a kick: run libuv. */
static void
cnet_uv_run(evutil_socket_t fd, short what, void *arg)
{
	struct timeval	 tv;
	int		 ms;

	(void)fd;
	(void)what;
	(void)arg;
	if (cnet_loop == NULL)
		return;
	cnet_uv_running = 1;
	uv_run(cnet_loop, UV_RUN_NOWAIT);
	cnet_uv_running = 0;
	ms = cnet_uv_watchers() ? 0 : uv_backend_timeout(cnet_loop);
	if (ms < 0) {
		evtimer_del(cnet_uv_timer);
		return;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(cnet_uv_timer, &tv);
}

/* Close a handle that is left at the end. */
static void
cnet_uv_close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/*
 * Tear the module down: stop the port, drop dials and raft requests
 * without their callbacks, close what is left on the libuv loop and free
 * it. Raft must have been closed before, and this must not be called
 * from a libuv callback (raft's close callback among them).
 */
void
cnet_uv_free(void)
{
	struct cnet_dial	*d;
	struct cnet_rconn	*rc;
	struct cnet_heard	*hd;
	int			 i;

	if (cnet_uv_running)
		fatalx("cnet_uv_free: called from a libuv callback");
	cnet_stop();
	while ((d = TAILQ_FIRST(&cnet_dials)) != NULL)
		cnet_dial_free(d);
	while ((rc = TAILQ_FIRST(&cnet_rconns)) != NULL) {
		TAILQ_REMOVE(&cnet_rconns, rc, entry);
		free(rc);
	}
	while ((hd = TAILQ_FIRST(&cnet_heards)) != NULL) {
		TAILQ_REMOVE(&cnet_heards, hd, entry);
		free(hd);
	}
	if (cnet_raft_ev != NULL) {
		event_free(cnet_raft_ev);
		cnet_raft_ev = NULL;
	}
	cnet_raft_accept = NULL;
	cnet_raft_close_cb = NULL;
	if (cnet_loop == NULL)
		return;
	event_free(cnet_uv_io);
	event_free(cnet_uv_timer);
	event_free(cnet_uv_kick_ev);
	cnet_uv_io = cnet_uv_timer = cnet_uv_kick_ev = NULL;
	uv_walk(cnet_loop, cnet_uv_close_walk, NULL);
	for (i = 0; i < CNET_UV_CLOSE; i++) {
		uv_run(cnet_loop, UV_RUN_NOWAIT);
		if (uv_loop_close(cnet_loop) == 0)
			break;
		usleep(1000);	/* thread-pool work still finishing */
	}
	if (i == CNET_UV_CLOSE) {
		log_warnx("cnet_uv_free: libuv loop still busy, left open");
		cnet_loop = NULL;
		return;
	}
	free(cnet_loop);
	cnet_loop = NULL;
}

/* Monotonic milliseconds. */
int64_t
cnet_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/*
 * TLS
 */

/* An OpenSSL failure as a one-line cause; caller frees. */
static char *
cnet_ssl_err(const char *what, const char *file)
{
	char		*cause;
	const char	*why = NULL;
	unsigned long	 e, last = 0;
	int		 sys = 0;

	while ((e = ERR_get_error()) != 0) {
		if (ERR_SYSTEM_ERROR(e))
			sys = ERR_GET_REASON(e);
		last = e;
	}
	if (sys != 0)
		why = strerror(sys);
	else if (last != 0)
		why = ERR_reason_error_string(last);
	xasprintf(&cause, "%s %s: %s", what, file, why != NULL ? why :
	    "failed");
	return (cause);
}

/*
 * A context for both ends of a cluster link: our key and certificate
 * (and any chain after it in the file), peers verified against the trust
 * bundle. A bundle may hold node certificates or intermediates rather
 * than roots, hence partial chains; and since nodes present their XMPP
 * server certificates as clients too, the certificates' purpose is not
 * checked: being in or under the bundle is the identity.
 */
static SSL_CTX *
cnet_ctx_new(const char *key, const char *crt, const char *trust,
    char **cause)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_method())) == NULL) {
		*cause = cnet_ssl_err("TLS context", "");
		return (NULL);
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, crt) != 1) {
		*cause = cnet_ssl_err("certificate", crt);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		*cause = cnet_ssl_err("key", key);
		goto fail;
	}
	if (trust == NULL || *trust == '\0') {
		xasprintf(cause, "no cluster trust bundle");
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(ctx, trust, NULL) != 1) {
		*cause = cnet_ssl_err("trust bundle", trust);
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx),
	    X509_V_FLAG_PARTIAL_CHAIN);
	SSL_CTX_set_purpose(ctx, X509_PURPOSE_ANY);
	return (ctx);
fail:
	SSL_CTX_free(ctx);
	return (NULL);
}

/*
 * Whether key and certificate load, match, and the certificate chains to
 * the trust bundle, as peers will check it. -1 with *cause if not.
 */
int
cnet_check_identity(const char *key, const char *crt, const char *trust,
    char **cause)
{
	SSL_CTX		*ctx;
	X509_STORE_CTX	*xs = NULL;
	STACK_OF(X509)	*chain = NULL;
	uint32_t	 xku;
	int		 rc = -1;

	if ((ctx = cnet_ctx_new(key, crt, trust, cause)) == NULL)
		return (-1);
	SSL_CTX_get0_chain_certs(ctx, &chain);
	if ((xs = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(xs, SSL_CTX_get_cert_store(ctx),
	    SSL_CTX_get0_certificate(ctx), chain) != 1) {
		*cause = cnet_ssl_err("verify", crt);
		goto out;
	}
	X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(xs),
	    SSL_CTX_get0_param(ctx));
	if (X509_verify_cert(xs) != 1) {
		xasprintf(cause, "certificate %s is not trusted by the "
		    "bundle %s: %s", crt, trust, X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(xs)));
		goto out;
	}
	/*
	 * Each end of a cluster link is a TLS server to one peer and a
	 * client to another: a certificate that names its uses must name
	 * both. One without the extension may be used for anything.
	 */
	xku = X509_get_extended_key_usage(SSL_CTX_get0_certificate(ctx));
	if (xku != UINT32_MAX && (!(xku & XKU_SSL_SERVER) ||
	    !(xku & XKU_SSL_CLIENT))) {
		xasprintf(cause, "certificate %s lacks %s in its extended key "
		    "usage: cluster links authenticate both ends, so a node "
		    "certificate needs serverAuth and clientAuth; have it "
		    "reissued with both", crt, !(xku & XKU_SSL_CLIENT) ?
		    (!(xku & XKU_SSL_SERVER) ? "serverAuth and clientAuth" :
		    "clientAuth") : "serverAuth");
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(xs);
	SSL_CTX_free(ctx);
	return (rc);
}

/*
 * Addresses and hello lines
 */

/* Parse "ip:port" or "[v6]:port" (numeric only). */
static int
cnet_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	char			 host[INET6_ADDRSTRLEN];
	const char		*p, *port, *errstr;
	size_t			 n;
	int			 pn;

	if (*s == '[') {
		if ((p = strchr(s, ']')) == NULL || p[1] != ':')
			return (-1);
		s++;
		port = p + 2;
	} else {
		if ((p = strchr(s, ':')) == NULL || strchr(p + 1, ':') != NULL)
			return (-1);
		port = p + 1;
	}
	n = p - s;
	if (n == 0 || n >= sizeof(host))
		return (-1);
	memcpy(host, s, n);
	host[n] = '\0';
	pn = strtonum(port, 1, 65535, &errstr);
	if (errstr != NULL)
		return (-1);
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(pn);
		*len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(pn);
		*len = sizeof(*sin6);
	} else
		return (-1);
	return (0);
}

/* Cluster links: no Nagle, and a dead peer noticed within seconds. */
static void
cnet_sockopts(int fd)
{
	int	 on = 1, idle = 10, intvl = 5, cnt = 3;
	unsigned int ms = 15000;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
}

/*
 * Warn of a failed or refused channel, naming the peer. raft redials a
 * failing peer every few hundred milliseconds, so the same reason about
 * the same host (peer less its port) is a warning once in CNET_QUIET_MS
 * and debug in between.
 */
static void
cnet_warn(const char *peer, const char *why, const char *fmt, ...)
{
	struct cnet_said	*s, *old = &cnet_said[0];
	char			 key[sizeof(old->key)], msg[1024];
	const char		*p;
	int64_t			 now = cnet_now_ms();
	va_list			 ap;
	size_t			 i;

	if ((p = strrchr(peer, ':')) == NULL)
		p = peer + strlen(peer);
	snprintf(key, sizeof(key), "%.*s %s", (int)(p - peer), peer, why);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (i = 0; i < nitems(cnet_said); i++) {
		s = &cnet_said[i];
		if (strcmp(s->key, key) == 0) {
			if (now - s->ms < CNET_QUIET_MS) {
				log_debug("%s", msg);
				return;
			}
			break;
		}
		if (s->ms < old->ms)
			old = s;
	}
	if (i == nitems(cnet_said)) {
		s = old;
		strlcpy(s->key, key, sizeof(s->key));
	}
	s->ms = now;
	log_warnx("%s", msg);
}

/* The hello word of a channel kind. */
static const char *
cnet_kind_name(int kind)
{
	switch (kind) {
	case CN_RAFT:
		return ("raft");
	case CN_FWD:
		return ("fwd");
	case CN_REQ:
		return ("req");
	}
	return ("?");
}

/* The channel kind of a hello word, 0 if none. */
static int
cnet_kind(const char *s)
{
	if (strcmp(s, "raft") == 0)
		return (CN_RAFT);
	if (strcmp(s, "fwd") == 0)
		return (CN_FWD);
	if (strcmp(s, "req") == 0)
		return (CN_REQ);
	return (0);
}

/* Whether s is a non-empty run of printable ASCII without spaces. */
static int
cnet_token(const char *s)
{
	if (*s == '\0')
		return (0);
	for (; *s != '\0'; s++)
		if (*s <= ' ' || *s > '~')
			return (0);
	return (1);
}

/*
 * Parse a hello "MMPC1 <kind> <id> <addr> <domain>" or, with answer set,
 * "MMPC1 OK <id> <addr> <domain>" (h->kind left alone). A domain of "-"
 * is none. -1 if malformed; line is cut up.
 */
static int
cnet_hello_parse(char *line, struct cnet_hello *h, int answer)
{
	char		*f[5], *p = line;
	size_t		 n;

	for (n = 0; n < nitems(f) && p != NULL; n++)
		f[n] = strsep(&p, " ");
	if (n != nitems(f) || p != NULL || strcmp(f[0], CNET_MAGIC) != 0)
		return (-1);
	if (answer) {
		if (strcmp(f[1], "OK") != 0)
			return (-1);
	} else if ((h->kind = cnet_kind(f[1])) == 0)
		return (-1);
	if (strlen(f[2]) != 16 || strspn(f[2], "0123456789abcdefABCDEF") !=
	    16)
		return (-1);
	h->id = strtoull(f[2], NULL, 16);
	if (!cnet_token(f[3]) || !cnet_token(f[4]) ||
	    strlcpy(h->addr, f[3], sizeof(h->addr)) >= sizeof(h->addr) ||
	    strlcpy(h->domain, f[4], sizeof(h->domain)) >= sizeof(h->domain))
		return (-1);
	if (strcmp(h->domain, "-") == 0)
		h->domain[0] = '\0';
	return (0);
}

/*
 * The port
 */

/*
 * Listen on bindaddr:port (an address literal) with our key, certificate
 * and trust bundle; outgoing channels leave from bindaddr too. A running
 * port is stopped first. -1 with *cause on failure, nothing left open.
 */
int
cnet_start(const char *bindaddr, int port, uint64_t id, const char *key,
    const char *crt, const char *trust, const char *domain, char **cause)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 len;
	SSL_CTX			*ctx;
	int			 fd, on = 1, v6;

	cnet_stop();
	if (port < 1 || port > 65535) {
		xasprintf(cause, "bad cluster port %d", port);
		return (-1);
	}
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, bindaddr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, bindaddr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		len = sizeof(*sin6);
	} else {
		xasprintf(cause, "%s is not an address", bindaddr);
		return (-1);
	}
	v6 = ss.ss_family == AF_INET6;
	if ((ctx = cnet_ctx_new(key, crt, trust, cause)) == NULL)
		return (-1);
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		xasprintf(cause, "socket: %s", strerror(errno));
		SSL_CTX_free(ctx);
		return (-1);
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (v6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, 64) == -1) {
		xasprintf(cause, "cannot listen on %s%s%s:%d: %s",
		    v6 ? "[" : "", bindaddr, v6 ? "]" : "", port,
		    strerror(errno));
		close(fd);
		SSL_CTX_free(ctx);
		return (-1);
	}
	cnet_lev = evconnlistener_new(mmpd->base, cnet_accept, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (cnet_lev == NULL) {
		xasprintf(cause, "cannot listen on %s%s%s:%d", v6 ? "[" : "",
		    bindaddr, v6 ? "]" : "", port);
		close(fd);
		SSL_CTX_free(ctx);
		return (-1);
	}
	cnet_ctx = ctx;
	/* Outgoing channels bind to the address with any port. */
	cnet_bindlen = len;
	if (v6)
		sin6->sin6_port = 0;
	else
		sin->sin_port = 0;
	cnet_bind = ss;
	snprintf(cnet_addr, sizeof(cnet_addr), "%s%s%s:%d", v6 ? "[" : "",
	    bindaddr, v6 ? "]" : "", port);
	cnet_id = id;
	cnet_domain = xstrdup(domain != NULL ? domain : "");
	log_info("cnet_start: cluster port on %s", cnet_addr);
	return (0);
}

/*
 * Close the listener, every channel in its handshake (pending dials fail
 * on the next turn with "cluster port closed") and every raft channel,
 * and drop the TLS context. Channels already handed on are the callee's.
 */
void
cnet_stop(void)
{
	struct cnet_dial	*d, *t;
	struct cnet_proxy	*px;
	struct cnet_linger	*l;

	if (cnet_lev != NULL) {
		evconnlistener_free(cnet_lev);
		cnet_lev = NULL;
		log_info("cnet_stop: cluster port on %s closed", cnet_addr);
	}
	TAILQ_FOREACH_SAFE(d, &cnet_dials, entry, t) {
		if (d->incoming)
			cnet_dial_free(d);
		else if (d->state != CD_FAILED)
			cnet_dial_defer(d, xstrdup("cluster port closed"));
	}
	while ((px = TAILQ_FIRST(&cnet_proxies)) != NULL)
		cnet_proxy_free(px);
	while ((l = TAILQ_FIRST(&cnet_lingers)) != NULL)
		cnet_linger_free(l);
	SSL_CTX_free(cnet_ctx);
	cnet_ctx = NULL;
	free(cnet_domain);
	cnet_domain = NULL;
	cnet_addr[0] = '\0';
}

/* Whether the cluster port is open. */
int
cnet_running(void)
{
	return (cnet_lev != NULL);
}

/* Set the node id our hellos carry. */
void
cnet_set_id(uint64_t id)
{
	cnet_id = id;
}

/* Who takes accepted channels of a kind (CN_FWD, CN_REQ); NULL: nobody. */
void
cnet_set_accept(int kind, cnet_accept_cb cb, void *arg)
{
	if (kind != CN_FWD && kind != CN_REQ)
		fatalx("cnet_set_accept: bad kind %d", kind);
	cnet_accept_cbs[kind] = cb;
	cnet_accept_args[kind] = arg;
}

/* Our cluster address, ip:port or [v6]:port ("" when not running). */
const char *
cnet_local_addr(void)
{
	return (cnet_addr);
}

/* When bytes last came from node id on a raft channel, -1 if never. */
int64_t
cnet_last_heard(uint64_t id)
{
	struct cnet_heard	*hd;

	TAILQ_FOREACH(hd, &cnet_heards, entry) {
		if (hd->id == id)
			return (hd->ms);
	}
	return (-1);
}

/* Bytes came from node id. */
static void
cnet_heard_now(uint64_t id)
{
	struct cnet_heard	*hd;

	TAILQ_FOREACH(hd, &cnet_heards, entry) {
		if (hd->id == id)
			break;
	}
	if (hd == NULL) {
		hd = xcalloc(1, sizeof(*hd));
		hd->id = id;
		TAILQ_INSERT_TAIL(&cnet_heards, hd, entry);
	}
	hd->ms = cnet_now_ms();
}

/* A peer connected: start TLS, then wait for its hello. */
static void
cnet_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct cnet_dial	*d;
	struct timeval		 tv = { CNET_SECS, 0 };
	char			 host[INET6_ADDRSTRLEN], port[8];

	(void)lev;
	(void)arg;
	if (getnameinfo(sa, salen, host, sizeof(host), port, sizeof(port),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		close(fd);
		return;
	}
	if (cnet_npending >= CNET_PENDING) {
		log_warnx("cluster: %s:%s refused: %d channels already in "
		    "their handshake", host, port, cnet_npending);
		close(fd);
		return;
	}
	cnet_sockopts(fd);
	d = xcalloc(1, sizeof(*d));
	d->incoming = 1;
	d->fd = fd;
	snprintf(d->peer, sizeof(d->peer), "%s%s%s:%s",
	    strchr(host, ':') != NULL ? "[" : "", host,
	    strchr(host, ':') != NULL ? "]" : "", port);
	if ((d->timer = evtimer_new(mmpd->base, cnet_dial_timer, d)) == NULL)
		fatalx("cnet_accept: evtimer_new failed");
	TAILQ_INSERT_TAIL(&cnet_dials, d, entry);
	cnet_npending++;
	if (cnet_tls_start(d) == -1) {
		log_warnx("cluster: TLS from %s failed: cannot start TLS",
		    d->peer);
		cnet_dial_free(d);
		return;
	}
	evtimer_add(d->timer, &tv);
}

/*
 * Dialling
 */

/*
 * Open a channel of a kind to addr ("ip:port" or "[v6]:port") from our
 * address: cb gets the TLS bufferevent and the peer's hello, or a cause.
 * cb never runs before cnet_dial returns; the handle is gone after cb.
 */
struct cnet_dial *
cnet_dial(const char *addr, int kind, cnet_dial_cb cb, void *arg)
{
	struct cnet_dial	*d;
	struct sockaddr_storage	 ss;
	struct timeval		 tv = { CNET_SECS, 0 };
	socklen_t		 len;
	char			*cause;
	int			 on = 1;

	d = xcalloc(1, sizeof(*d));
	d->kind = kind;
	d->fd = -1;
	d->cb = cb;
	d->arg = arg;
	strlcpy(d->peer, addr, sizeof(d->peer));
	if ((d->timer = evtimer_new(mmpd->base, cnet_dial_timer, d)) == NULL)
		fatalx("cnet_dial: evtimer_new failed");
	TAILQ_INSERT_TAIL(&cnet_dials, d, entry);

	if (kind != CN_RAFT && kind != CN_FWD && kind != CN_REQ) {
		xasprintf(&cause, "%s: bad channel kind %d", addr, kind);
		goto fail;
	}
	if (cnet_ctx == NULL) {
		xasprintf(&cause, "%s: the cluster port is not open", addr);
		goto fail;
	}
	if (cnet_parse_addr(addr, &ss, &len) == -1) {
		xasprintf(&cause, "%s is not an ip:port address", addr);
		goto fail;
	}
	if (ss.ss_family != cnet_bind.ss_family) {
		xasprintf(&cause, "%s cannot be reached from %s", addr,
		    cnet_addr);
		goto fail;
	}
	if ((d->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		xasprintf(&cause, "connect %s: socket: %s", addr,
		    strerror(errno));
		goto fail;
	}
#ifdef IP_BIND_ADDRESS_NO_PORT
	/* The port is chosen at connect: many dials share the address. */
	setsockopt(d->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on,
	    sizeof(on));
#else
	(void)on;
#endif
	if (bind(d->fd, (struct sockaddr *)&cnet_bind, cnet_bindlen) == -1) {
		xasprintf(&cause, "connect %s: bind to %s: %s", addr,
		    cnet_addr, strerror(errno));
		goto fail;
	}
	cnet_sockopts(d->fd);
	if (connect(d->fd, (struct sockaddr *)&ss, len) == -1 &&
	    errno != EINPROGRESS) {
		xasprintf(&cause, "connect %s: %s", addr, strerror(errno));
		goto fail;
	}
	/* Even a connect done at once is taken up on the next turn. */
	d->state = CD_CONNECT;
	d->ev = event_new(mmpd->base, d->fd, EV_WRITE, cnet_dial_connected,
	    d);
	if (d->ev == NULL)
		fatalx("cnet_dial: event_new failed");
	event_add(d->ev, NULL);
	evtimer_add(d->timer, &tv);
	log_debug("cnet_dial: %s channel to %s", cnet_kind_name(kind), addr);
	return (d);
fail:
	cnet_dial_defer(d, cause);
	return (d);
}

/* Forget a dial: its callback will not run. NULL does nothing. */
void
cnet_dial_cancel(struct cnet_dial *d)
{
	if (d != NULL)
		cnet_dial_free(d);
}

/* Free a channel in its handshake and everything it holds. */
static void
cnet_dial_free(struct cnet_dial *d)
{
	TAILQ_REMOVE(&cnet_dials, d, entry);
	if (d->incoming)
		cnet_npending--;
	if (d->ev != NULL)
		event_free(d->ev);
	event_free(d->timer);
	if (d->bev != NULL)
		bufferevent_free(d->bev);
	if (d->fd != -1)
		close(d->fd);
	free(d->cause);
	free(d);
}

/* Free a refused or failed accepted channel, letting its peer go first. */
static void
cnet_dial_drop(struct cnet_dial *d)
{
	struct cnet_linger	*l;
	struct timeval		 tv = { CNET_LINGER, 0 };
	int			 fd;

	if (d->bev == NULL || (fd = bufferevent_getfd(d->bev)) == -1 ||
	    (fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		cnet_dial_free(d);
		return;
	}
	cnet_dial_free(d);
	shutdown(fd, SHUT_WR);
	l = xcalloc(1, sizeof(*l));
	l->fd = fd;
	l->ev = event_new(mmpd->base, fd, EV_READ | EV_PERSIST,
	    cnet_linger_read, l);
	if (l->ev == NULL)
		fatalx("cnet_dial_drop: event_new failed");
	event_add(l->ev, &tv);
	TAILQ_INSERT_TAIL(&cnet_lingers, l, entry);
}

/* Discard what a refused peer still sends; close at its EOF or in time. */
static void
cnet_linger_read(evutil_socket_t fd, short what, void *arg)
{
	char	 buf[4096];
	ssize_t	 n;

	if (what & EV_READ) {
		if ((n = read(fd, buf, sizeof(buf))) > 0 ||
		    (n == -1 && (errno == EAGAIN || errno == EINTR)))
			return;
	}
	cnet_linger_free(arg);
}

/* Close a lingering socket. */
static void
cnet_linger_free(struct cnet_linger *l)
{
	TAILQ_REMOVE(&cnet_lingers, l, entry);
	event_free(l->ev);
	close(l->fd);
	free(l);
}

/* Fail a dial on the next loop turn with cause (taken over). */
static void
cnet_dial_defer(struct cnet_dial *d, char *cause)
{
	if (d->ev != NULL) {
		event_free(d->ev);
		d->ev = NULL;
	}
	if (d->bev != NULL) {
		bufferevent_free(d->bev);
		d->bev = NULL;
	}
	if (d->fd != -1) {
		close(d->fd);
		d->fd = -1;
	}
	free(d->cause);
	d->cause = cause;
	d->state = CD_FAILED;
	evtimer_del(d->timer);
	event_active(d->timer, EV_TIMEOUT, 0);
}

/*
 * End a dial: free it, then tell its owner (bev and hello on success,
 * cause on failure; cause is freed here). Nothing of d is touched after
 * the callback, which may dial, cancel or stop the port.
 */
static void
cnet_dial_finish(struct cnet_dial *d, struct bufferevent *bev,
    const struct cnet_hello *h, char *cause)
{
	cnet_dial_cb	 cb = d->cb;
	void		*arg = d->arg;

	if (bev != NULL) {
		bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
		if (d->bev == bev)
			d->bev = NULL;
	}
	cnet_dial_free(d);
	cb(bev, h, cause, arg);
	free(cause);
}

/* The TCP connect finished: start TLS. */
static void
cnet_dial_connected(evutil_socket_t fd, short what, void *arg)
{
	struct cnet_dial	*d = arg;
	socklen_t		 len = sizeof(int);
	char			*cause;
	int			 err = 0;

	(void)what;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	event_free(d->ev);
	d->ev = NULL;
	if (err != 0) {
		xasprintf(&cause, "connect %s: %s", d->peer, strerror(err));
		cnet_dial_finish(d, NULL, NULL, cause);
		return;
	}
	if (cnet_tls_start(d) == -1) {
		xasprintf(&cause, "TLS with %s: cannot start TLS", d->peer);
		log_warnx("cluster: %s", cause);
		cnet_dial_finish(d, NULL, NULL, cause);
	}
}

/* Time is up, or a deferred failure is due. */
static void
cnet_dial_timer(evutil_socket_t fd, short what, void *arg)
{
	struct cnet_dial	*d = arg;
	char			*cause;

	(void)fd;
	(void)what;
	if (d->state == CD_FAILED) {
		cause = d->cause;
		d->cause = NULL;
		cnet_dial_finish(d, NULL, NULL, cause);
		return;
	}
	if (d->incoming) {
		if (d->state == CD_TLS)
			cnet_warn(d->peer, "timed out", "cluster: TLS from %s "
			    "failed: timed out", d->peer);
		else if (d->state == CD_HELLO)
			cnet_warn(d->peer, "no hello", "cluster: %s sent no "
			    "hello in %d s", d->peer, CNET_SECS);
		cnet_dial_drop(d);
		return;
	}
	switch (d->state) {
	case CD_CONNECT:
		xasprintf(&cause, "connect %s: timed out", d->peer);
		break;
	case CD_TLS:
		xasprintf(&cause, "TLS with %s: timed out", d->peer);
		cnet_warn(d->peer, "timed out", "cluster: %s", cause);
		break;
	default:
		xasprintf(&cause, "%s: no answer to our hello in %d s",
		    d->peer, CNET_SECS);
		break;
	}
	cnet_dial_finish(d, NULL, NULL, cause);
}

/*
 * The handshake
 */

/* Put TLS on d->fd (accepting or connecting). */
static int
cnet_tls_start(struct cnet_dial *d)
{
	SSL	*ssl;

	if (cnet_ctx == NULL || (ssl = SSL_new(cnet_ctx)) == NULL) {
		ERR_clear_error();
		return (-1);
	}
	d->bev = bufferevent_openssl_socket_new(mmpd->base, d->fd, ssl,
	    d->incoming ? BUFFEREVENT_SSL_ACCEPTING :
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (d->bev == NULL) {
		SSL_free(ssl);
		return (-1);
	}
	d->fd = -1;
	d->state = CD_TLS;
	bufferevent_setcb(d->bev, cnet_hs_read, NULL, cnet_hs_event, d);
	bufferevent_enable(d->bev, EV_READ | EV_WRITE);
	return (0);
}

/*
 * Why a channel failed: the reason in why, the certificate check's in
 * detail (or ""), *alert set if the peer sent us an alert. 1 if OpenSSL
 * gave the reason, 0 for EOF or a system error.
 */
static int
cnet_tls_why(struct cnet_dial *d, short what, int err, char *why,
    size_t whylen, char *detail, size_t detlen, int *alert)
{
	unsigned long	 e, found = 0;
	const char	*s;
	SSL		*ssl;
	long		 vr;

	/*
	 * libevent keeps SSL_get_error()'s code (a small number, no library)
	 * and then the queue's first errors, and hands them back last first:
	 * the last real error popped is the first that happened.
	 */
	while ((e = bufferevent_get_openssl_error(d->bev)) != 0) {
		if (ERR_GET_LIB(e) != 0)
			found = e;
	}
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
	if (ERR_GET_LIB(found) == ERR_LIB_SSL &&
	    ERR_GET_REASON(found) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
		found = 0;	/* just EOF */
#endif
	ERR_clear_error();
	*detail = '\0';
	*alert = 0;
	if (found == 0) {
		if ((what & BEV_EVENT_EOF) || err == 0)
			strlcpy(why, "connection closed", whylen);
		else
			strlcpy(why, strerror(err), whylen);
		return (0);
	}
	if ((s = ERR_reason_error_string(found)) != NULL)
		strlcpy(why, s, whylen);
	else
		ERR_error_string_n(found, why, whylen);
	if (ERR_GET_LIB(found) == ERR_LIB_SSL &&
	    ERR_GET_REASON(found) == SSL_R_CERTIFICATE_VERIFY_FAILED &&
	    (ssl = bufferevent_openssl_get_ssl(d->bev)) != NULL &&
	    (vr = SSL_get_verify_result(ssl)) != X509_V_OK)
		strlcpy(detail, X509_verify_cert_error_string(vr), detlen);
	*alert = ERR_GET_LIB(found) == ERR_LIB_SSL &&
	    ERR_GET_REASON(found) >= SSL_AD_REASON_OFFSET;
	return (1);
}

/* TLS is up, an error, or EOF. */
static void
cnet_hs_event(struct bufferevent *bev, short what, void *arg)
{
	struct cnet_dial	*d = arg;
	char			 why[256], detail[256], *cause;
	int			 err = EVUTIL_SOCKET_ERROR(), tls, alert;

	if (what & BEV_EVENT_CONNECTED) {
		d->state = CD_HELLO;
		log_debug("cluster: TLS %s %s established", d->incoming ?
		    "from" : "with", d->peer);
		if (d->incoming)
			return;
		evbuffer_add_printf(bufferevent_get_output(bev),
		    "%s %s %016llx %s %s\n", CNET_MAGIC,
		    cnet_kind_name(d->kind), (unsigned long long)cnet_id,
		    cnet_addr, *cnet_domain != '\0' ? cnet_domain : "-");
		return;
	}
	if (d->state == CD_CLOSING) {
		cnet_dial_free(d);
		return;
	}
	/* A refusal may sit in the input, ahead of the EOF. */
	if (!d->incoming && d->state == CD_HELLO && cnet_hs_input(d))
		return;
	tls = cnet_tls_why(d, what, err, why, sizeof(why), detail,
	    sizeof(detail), &alert);
	if (d->incoming) {
		if (alert)
			cnet_warn(d->peer, why, "cluster: TLS from %s failed: "
			    "the peer refused us: %s", d->peer, why);
		else if (d->state == CD_TLS && tls)
			cnet_warn(d->peer, why, "cluster: TLS from %s refused: "
			    "%s%s%s", d->peer, why, *detail != '\0' ? ": " : "",
			    detail);
		else if (d->state == CD_TLS)
			cnet_warn(d->peer, why, "cluster: TLS from %s failed: "
			    "%s during the handshake", d->peer, why);
		else
			cnet_warn(d->peer, why, "cluster: %s closed the "
			    "channel before its hello: %s", d->peer, why);
		cnet_dial_drop(d);
		return;
	}
	if (alert)
		xasprintf(&cause, "%s refused us: %s", d->peer, why);
	else if (d->state == CD_TLS)
		xasprintf(&cause, "TLS with %s: %s%s%s%s", d->peer, why,
		    *detail != '\0' ? " (" : "", detail,
		    *detail != '\0' ? ")" : "");
	else
		xasprintf(&cause, "%s closed the channel before answering: "
		    "%s", d->peer, why);
	cnet_warn(d->peer, why, "cluster: %s", cause);
	cnet_dial_finish(d, NULL, NULL, cause);
}

/* Bytes in a handshaking channel. */
static void
cnet_hs_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	cnet_hs_input(arg);
}

/*
 * Take a hello (accepted) or its answer (dialled) from the input. 1 if a
 * line was handled or refused (d may be gone), 0 to wait for more.
 */
static int
cnet_hs_input(struct cnet_dial *d)
{
	struct evbuffer	*in = bufferevent_get_input(d->bev);
	char		*line, *cause;
	size_t		 n;

	if (d->state != CD_HELLO)
		return (0);
	line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
	if (line == NULL && evbuffer_get_length(in) <= CNET_HELLO_MAX)
		return (0);
	if (line == NULL || n > CNET_HELLO_MAX) {
		free(line);
		if (d->incoming) {
			cnet_hs_refuse(d, "hello too long");
			return (1);
		}
		xasprintf(&cause, "%s: answer to our hello too long",
		    d->peer);
		log_warnx("cluster: %s", cause);
		cnet_dial_finish(d, NULL, NULL, cause);
		return (1);
	}
	if (d->incoming)
		cnet_hs_hello(d, line);
	else
		cnet_hs_answer(d, line);
	free(line);
	return (1);
}

/* An accepted channel said hello: refuse it, or hand it on. */
static void
cnet_hs_hello(struct cnet_dial *d, char *line)
{
	struct cnet_hello	 h;
	struct bufferevent	*bev;
	uv_stream_t		*stream;
	cnet_accept_cb		 cb;
	void			*arg;
	char			 reason[400];

	memset(&h, 0, sizeof(h));
	if (cnet_hello_parse(line, &h, 0) == -1) {
		cnet_hs_refuse(d, "malformed hello");
		return;
	}
	if (h.kind != CN_REQ && strcmp(h.domain, cnet_domain) != 0) {
		snprintf(reason, sizeof(reason), "domain mismatch: this node "
		    "serves %s, the peer serves %s", *cnet_domain != '\0' ?
		    cnet_domain : "no domain", *h.domain != '\0' ? h.domain :
		    "no domain");
		cnet_hs_refuse(d, reason);
		return;
	}
	if (h.kind == CN_RAFT) {
		if (h.id == 0 || h.id == cnet_id) {
			snprintf(reason, sizeof(reason), "raft channel from "
			    "node %016llx, %s", (unsigned long long)h.id,
			    h.id == 0 ? "which has no id" : "this node's id");
			cnet_hs_refuse(d, reason);
			return;
		}
		if (cnet_raft_accept == NULL || cnet_raft_closing) {
			cnet_hs_refuse(d, "raft is not running on this node");
			return;
		}
		if (cnet_proxy_new(d->bev, h.id, h.addr, &stream) == -1) {
			cnet_hs_refuse(d, "cannot set up a raft channel");
			return;
		}
		cnet_hs_ok(d);
		d->bev = NULL;		/* the proxy's now */
		cnet_dial_free(d);
		log_debug("cluster: raft channel from node %016llx at %s",
		    (unsigned long long)h.id, h.addr);
		cnet_raft_accept(&cnet_raft, h.id, h.addr, stream);
		cnet_uv_kick();
		return;
	}
	if ((cb = cnet_accept_cbs[h.kind]) == NULL) {
		snprintf(reason, sizeof(reason), "this node takes no %s "
		    "channels now", cnet_kind_name(h.kind));
		cnet_hs_refuse(d, reason);
		return;
	}
	arg = cnet_accept_args[h.kind];
	cnet_hs_ok(d);
	bev = d->bev;
	d->bev = NULL;
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	log_debug("cluster: %s channel from node %016llx at %s (%s)",
	    cnet_kind_name(h.kind), (unsigned long long)h.id, h.addr,
	    d->peer);
	cnet_dial_free(d);
	cb(bev, &h, arg);
}

/* Answer an accepted hello with OK. */
static void
cnet_hs_ok(struct cnet_dial *d)
{
	evbuffer_add_printf(bufferevent_get_output(d->bev),
	    "%s OK %016llx %s %s\n", CNET_MAGIC, (unsigned long long)cnet_id,
	    cnet_addr, *cnet_domain != '\0' ? cnet_domain : "-");
}

/* Refuse an accepted channel: say why, then close once that is sent. */
static void
cnet_hs_refuse(struct cnet_dial *d, const char *reason)
{
	cnet_warn(d->peer, reason, "cluster: channel from %s refused: %s",
	    d->peer, reason);
	evbuffer_add_printf(bufferevent_get_output(d->bev), "%s ERR %s\n",
	    CNET_MAGIC, reason);
	d->state = CD_CLOSING;
	bufferevent_disable(d->bev, EV_READ);
	bufferevent_setcb(d->bev, NULL, cnet_hs_flushed, cnet_hs_event, d);
}

/* Our refusal is out: close. */
static void
cnet_hs_flushed(struct bufferevent *bev, void *arg)
{
	struct cnet_dial	*d = arg;
	SSL			*ssl;

	if ((ssl = bufferevent_openssl_get_ssl(bev)) != NULL)
		SSL_shutdown(ssl);
	ERR_clear_error();
	cnet_dial_drop(d);
}

/* The answer to our hello. */
static void
cnet_hs_answer(struct cnet_dial *d, char *line)
{
	struct cnet_hello	 h;
	char			*cause, *p;
	size_t			 n = strlen(CNET_MAGIC " ERR ");

	if (strncmp(line, CNET_MAGIC " ERR ", n) == 0) {
		for (p = line + n; *p != '\0'; p++)
			if (!isprint((unsigned char)*p))
				*p = '?';
		xasprintf(&cause, "%s: %s", d->peer, line + n);
		log_debug("cluster: %s", cause);
		cnet_dial_finish(d, NULL, NULL, cause);
		return;
	}
	memset(&h, 0, sizeof(h));
	h.kind = d->kind;
	if (cnet_hello_parse(line, &h, 1) == -1) {
		xasprintf(&cause, "%s: malformed answer to our hello",
		    d->peer);
		log_warnx("cluster: %s", cause);
		cnet_dial_finish(d, NULL, NULL, cause);
		return;
	}
	log_debug("cluster: %s channel to node %016llx at %s",
	    cnet_kind_name(d->kind), (unsigned long long)h.id, d->peer);
	cnet_dial_finish(d, d->bev, &h, NULL);
}

/*
 * Raft channels
 */

/*
 * Join tls to a new socketpair: *stream gets raft's end as a uv pipe
 * (raft_malloc'd, since raft frees the handles it is given), a proxy
 * takes tls and our end. -1 with tls untouched on failure.
 */
static int
cnet_proxy_new(struct bufferevent *tls, uint64_t id, const char *peer,
    uv_stream_t **stream)
{
	struct cnet_proxy	*px;
	struct bufferevent	*plain;
	uv_pipe_t		*p;
	int			 fds[2], rv;

	if (cnet_loop == NULL) {
		log_warnx("cnet_proxy_new: no libuv loop");
		return (-1);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, fds) == -1) {
		log_warn("cnet_proxy_new: socketpair");
		return (-1);
	}
	if ((p = raft_malloc(sizeof(*p))) == NULL)
		fatalx("cnet_proxy_new: out of memory");
	uv_pipe_init(cnet_loop, p, 0);
	if ((rv = uv_pipe_open(p, fds[0])) != 0) {
		log_warnx("cnet_proxy_new: uv_pipe_open: %s", uv_strerror(rv));
		uv_close((uv_handle_t *)p, cnet_raft_free_handle);
		close(fds[0]);
		close(fds[1]);
		return (-1);
	}
	plain = bufferevent_socket_new(mmpd->base, fds[1],
	    BEV_OPT_CLOSE_ON_FREE);
	if (plain == NULL) {
		log_warnx("cnet_proxy_new: no bufferevent");
		uv_close((uv_handle_t *)p, cnet_raft_free_handle);
		close(fds[1]);
		return (-1);
	}
	px = xcalloc(1, sizeof(*px));
	px->tls = tls;
	px->plain = plain;
	px->id = id;
	strlcpy(px->peer, peer, sizeof(px->peer));
	TAILQ_INSERT_TAIL(&cnet_proxies, px, entry);
	bufferevent_setcb(tls, cnet_proxy_read, cnet_proxy_write,
	    cnet_proxy_event, px);
	bufferevent_setcb(plain, cnet_proxy_read, cnet_proxy_write,
	    cnet_proxy_event, px);
	bufferevent_setwatermark(tls, EV_WRITE, CNET_PROXY_HIGH / 2, 0);
	bufferevent_setwatermark(plain, EV_WRITE, CNET_PROXY_HIGH / 2, 0);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
	bufferevent_enable(plain, EV_READ | EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_input(tls)) > 0)
		cnet_proxy_read(tls, px);
	*stream = (uv_stream_t *)p;
	return (0);
}

/* Close both sides of a raft channel; raft sees EOF on its end. */
static void
cnet_proxy_free(struct cnet_proxy *px)
{
	TAILQ_REMOVE(&cnet_proxies, px, entry);
	bufferevent_free(px->tls);
	bufferevent_free(px->plain);
	free(px);
}

/* Move what one side read to the other; pause it if that backs up. */
static void
cnet_proxy_read(struct bufferevent *bev, void *arg)
{
	struct cnet_proxy	*px = arg;
	struct bufferevent	*to;
	struct evbuffer		*out;

	if (bev == px->tls) {
		to = px->plain;
		cnet_heard_now(px->id);
	} else
		to = px->tls;
	out = bufferevent_get_output(to);
	evbuffer_add_buffer(out, bufferevent_get_input(bev));
	if (evbuffer_get_length(out) >= CNET_PROXY_HIGH)
		bufferevent_disable(bev, EV_READ);
}

/* One side's output drained below half: read the other side again. */
static void
cnet_proxy_write(struct bufferevent *bev, void *arg)
{
	struct cnet_proxy	*px = arg;

	bufferevent_enable(bev == px->tls ? px->plain : px->tls, EV_READ);
}

/* EOF or an error on either side closes the channel. */
static void
cnet_proxy_event(struct bufferevent *bev, short what, void *arg)
{
	struct cnet_proxy	*px = arg;

	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	while (bufferevent_get_openssl_error(px->tls) != 0)
		;
	ERR_clear_error();
	log_debug("cluster: raft channel with node %016llx at %s closed by "
	    "%s", (unsigned long long)px->id, px->peer, bev == px->tls ?
	    "the peer" : "raft");
	cnet_proxy_free(px);
}

/* uv_close callback for a pipe raft never got. */
static void
cnet_raft_free_handle(uv_handle_t *h)
{
	raft_free(h);
}

/* raft's transport on the cluster port. */
struct raft_uv_transport *
cnet_transport(void)
{
	cnet_raft.version = 1;
	cnet_raft.init = cnet_raft_init;
	cnet_raft.listen = cnet_raft_listen;
	cnet_raft.connect = cnet_raft_connect;
	cnet_raft.close = cnet_raft_close;
	return (&cnet_raft);
}

/* raft starts: its id is the one our hellos carry. */
static int
cnet_raft_init(struct raft_uv_transport *t, raft_id id, const char *address)
{
	(void)t;
	(void)address;
	cnet_raft_closing = 0;
	if (id != 0)
		cnet_id = id;
	return (0);
}

/* raft takes incoming raft channels from now on. */
static int
cnet_raft_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
	(void)t;
	cnet_raft_accept = cb;
	return (0);
}

/* raft wants a channel to node id at address; cb runs later. */
static int
cnet_raft_connect(struct raft_uv_transport *t, struct raft_uv_connect *req,
    raft_id id, const char *address, raft_uv_connect_cb cb)
{
	struct cnet_rconn	*rc;

	(void)t;
	if (cnet_raft_closing)
		return (RAFT_NOCONNECTION);
	rc = xcalloc(1, sizeof(*rc));
	rc->req = req;
	rc->id = id;
	req->cb = cb;
	TAILQ_INSERT_TAIL(&cnet_rconns, rc, entry);
	rc->dial = cnet_dial(address, CN_RAFT, cnet_raft_dialled, rc);
	return (0);
}

/* A raft dial ended: give raft its end of a socketpair, or a failure. */
static void
cnet_raft_dialled(struct bufferevent *bev, const struct cnet_hello *h,
    const char *cause, void *arg)
{
	struct cnet_rconn	*rc = arg;
	struct raft_uv_connect	*req = rc->req;
	uv_stream_t		*stream = NULL;
	int			 status = RAFT_NOCONNECTION;

	TAILQ_REMOVE(&cnet_rconns, rc, entry);
	if (bev == NULL)
		log_debug("cluster: raft to node %016llx: %s",
		    (unsigned long long)rc->id, cause);
	else if (h->id != rc->id) {
		cnet_warn(h->addr, "id", "cluster: %s answers as node %016llx, "
		    "raft wants node %016llx there", h->addr,
		    (unsigned long long)h->id, (unsigned long long)rc->id);
		bufferevent_free(bev);
	} else if (cnet_proxy_new(bev, rc->id, h->addr, &stream) == -1)
		bufferevent_free(bev);
	else
		status = 0;
	free(rc);
	req->cb(req, stream, status);
	cnet_uv_kick();
}

/*
 * raft closes the transport: take no more channels, cancel pending
 * connects and, on the next turn, fire their callbacks (RAFT_CANCELED)
 * and then cb. Established channels end when raft closes its ends.
 */
static void
cnet_raft_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
	struct cnet_rconn	*rc;

	(void)t;
	cnet_raft_accept = NULL;
	cnet_raft_closing = 1;
	TAILQ_FOREACH(rc, &cnet_rconns, entry) {
		cnet_dial_cancel(rc->dial);
		rc->dial = NULL;
	}
	cnet_raft_close_cb = cb;
	if (cnet_raft_ev == NULL &&
	    (cnet_raft_ev = event_new(mmpd->base, -1, 0, cnet_raft_deferred,
	    NULL)) == NULL)
		fatalx("cnet_raft_close: event_new failed");
	event_active(cnet_raft_ev, EV_TIMEOUT, 0);
}

/* The transport's close, outside raft's call. */
static void
cnet_raft_deferred(evutil_socket_t fd, short what, void *arg)
{
	struct cnet_rconn		*rc;
	struct raft_uv_connect		*req;
	raft_uv_transport_close_cb	 cb;

	(void)fd;
	(void)what;
	(void)arg;
	while ((rc = TAILQ_FIRST(&cnet_rconns)) != NULL) {
		TAILQ_REMOVE(&cnet_rconns, rc, entry);
		req = rc->req;
		cnet_dial_cancel(rc->dial);
		free(rc);
		req->cb(req, NULL, RAFT_CANCELED);
	}
	if ((cb = cnet_raft_close_cb) != NULL) {
		cnet_raft_close_cb = NULL;
		cb(&cnet_raft);
	}
	cnet_uv_kick();
}
