/*
 * The cluster port (DESIGN.md section 7): the TLS context, mutual TLS
 * against the trust bundle and the identity check, the listener, dialling,
 * and channels named by a hello line and dispatched by kind. libuv and
 * raft's transport are in cluster_uv.c.
 *
 * A channel is a struct cnet_dial, dialled or accepted, until its hello
 * is answered. Then it is handed to the acceptor registered for its kind:
 * cnet_set_accept's (CN_FWD, CN_REQ) or cnet_set_taker's (CN_RAFT, whose
 * acceptor in uv.c proxies it to raft's end of a socketpair).
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

#include "addrkey.h"
#include "addrlimit.h"
#include "cluster/cluster.h"
#include "cluster/net.h"
#include "log.h"
#include "mmpd.h"
#include "tls.h"
#include "xmalloc.h"

#define CNET_SECS	10		/* connect, TLS and hello */
#define CNET_ACCEPT_PAUSE 1		/* s the listener rests after EMFILE */
#define CNET_PRETLS_SECS 3		/* accepted: until its first byte */
#define CNET_HELLO_MAX	512
#define CNET_PENDING	256		/* accepted channels before hello
					   from no member's address */
#define CNET_PENDING_SRC 8		/* from one address, member or not */
#define CNET_LINGER	2		/* seconds for a refused peer to go */
#define CNET_LINGERS	64		/* refused peers let go slowly */
#define CNET_QUIET_MS	10000		/* between equal warnings of a host */

/* Where a channel is before it is handed on. */
#define CD_CONNECT	0	/* TCP connect in progress (dialled) */
#define CD_TLS		1	/* TLS handshake */
#define CD_HELLO	2	/* waiting for the hello or its answer */
#define CD_CLOSING	3	/* refused: flushing our ERR line (accepted) */
#define CD_FAILED	4	/* failed, cb due on the next turn (dialled) */
#define CD_WAIT		5	/* accepted: no byte yet, TLS not started */

/* A channel until its hello is answered, dialled or accepted. */
struct cnet_dial {
	TAILQ_ENTRY(cnet_dial)	 entry;
	int			 incoming;
	int			 pooled;	/* counts against CNET_PENDING */
	char			 key[ADDRKEY_LEN]; /* its address (accepted) */
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

/*
 * A refused peer's socket, write side shut, read and discarded until the
 * peer closes or CNET_LINGER seconds have passed, whatever it sends:
 * closing it at once with the peer's hello unread would reset the
 * connection, and the peer would lose our alert or our ERR line. Beyond
 * CNET_LINGERS of them, a refused socket is closed at once.
 */
struct cnet_linger {
	TAILQ_ENTRY(cnet_linger) entry;
	int			 fd;
	struct event		*ev;
	struct event		*timer;
};

/* A warning lately given about a host, and when. */
struct cnet_said {
	char			 key[320];
	int64_t			 ms;
};

/*
 * Every TLS channel of the port, in its handshake or handed on, until
 * OpenSSL frees its SSL (the ex_data free hook unlinks it): a new trust
 * bundle is checked against the peers of the channels already up.
 */
struct cnet_live {
	TAILQ_ENTRY(cnet_live)	 entry;
	SSL			*ssl;
	char			 peer[80];
};

static SSL_CTX			*cnet_ctx;
static int			 cnet_live_idx = -1;
static TAILQ_HEAD(, cnet_live)	 cnet_lives =
    TAILQ_HEAD_INITIALIZER(cnet_lives);
static struct evconnlistener	*cnet_lev;
static struct event		*cnet_resume;	/* re-enables cnet_lev */
static struct log_limit		 cnet_log_pause;
static struct sockaddr_storage	 cnet_bind;
static socklen_t		 cnet_bindlen;
static char			 cnet_addr[80];
static char			*cnet_domain;
static uint64_t			 cnet_id;
static char			 cnet_myident[65];	/* our key's */
static char			 cnet_pinned[65];	/* who we joined */
static cnet_accept_cb		 cnet_accept_cbs[CN_REQ + 1];
static const struct cnet_taker	*cnet_takers[CN_REQ + 1];
static void			*cnet_accept_args[CN_REQ + 1];
static struct addrlimit		*cnet_pending;	/* accepted, in handshake */
static int			 cnet_nlingers;
static struct cnet_said		 cnet_said[16];

static TAILQ_HEAD(, cnet_dial)	 cnet_dials =
    TAILQ_HEAD_INITIALIZER(cnet_dials);
static TAILQ_HEAD(, cnet_linger) cnet_lingers =
    TAILQ_HEAD_INITIALIZER(cnet_lingers);

static SSL_CTX	*cnet_ctx_new(const char *, const char *, const char *,
		    char **);
static int	 cnet_parse_addr(const char *, struct sockaddr_storage *,
		    socklen_t *);
static void	 cnet_sockopts(int);
static int	 cnet_cert_ident(X509 *, char *, size_t);
static int	 cnet_peer_ident(struct cnet_dial *, char *, size_t, char *,
		    size_t);
static int	 cnet_trusted_now(SSL *);
static void	 cnet_live_free(void *, void *, CRYPTO_EX_DATA *, int, long,
		    void *);
static int	 cnet_addr_is_from(const char *, const char *);
static struct addrlimit *cnet_pending_get(void);
static int	 cnet_make_room(const char *);
static void	 cnet_accept(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	 cnet_accept_ready(evutil_socket_t, short, void *);
static void	 cnet_accept_error(struct evconnlistener *, void *);
static void	 cnet_accept_resume(evutil_socket_t, short, void *);
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
static void	 cnet_hs_read(struct bufferevent *, void *);
static void	 cnet_hs_event(struct bufferevent *, short, void *);
static void	 cnet_hs_flushed(struct bufferevent *, void *);
static int	 cnet_hs_input(struct cnet_dial *);
static void	 cnet_hs_hello(struct cnet_dial *, char *);
static void	 cnet_hs_answer(struct cnet_dial *, char *);
static void	 cnet_hs_refuse(struct cnet_dial *, const char *);
static void	 cnet_hs_ok(struct cnet_dial *);

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

/*
 * A context for both ends of a cluster link: our key and certificate
 * (and any chain after it in the file), peers verified against the trust
 * bundle. Since nodes present their XMPP server certificates as clients
 * too, the certificates' purpose is not checked by TLS: being in or under
 * the bundle is the identity (cnet_peer_ident checks the key usage).
 */
static SSL_CTX *
cnet_ctx_new(const char *key, const char *crt, const char *trust,
    char **cause)
{
	if (trust == NULL || *trust == '\0') {
		xasprintf(cause, "no cluster trust bundle");
		return (NULL);
	}
	return (tls_ctx_new(TLS_VERIFY, key, crt, trust, cause));
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
		*cause = tls_error("verify", crt);
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
	 * client to another, and peers take only a certificate that names
	 * both uses (cnet_peer_ident): one that names none is refused too.
	 */
	xku = X509_get_extended_key_usage(SSL_CTX_get0_certificate(ctx));
	if (xku == UINT32_MAX || !(xku & XKU_SSL_SERVER) ||
	    !(xku & XKU_SSL_CLIENT)) {
		xasprintf(cause, "certificate %s lacks %s in its extended key "
		    "usage: cluster links authenticate both ends, so a node "
		    "certificate needs serverAuth and clientAuth; have it "
		    "reissued with both", crt, xku == UINT32_MAX ||
		    (!(xku & XKU_SSL_CLIENT) && !(xku & XKU_SSL_SERVER)) ?
		    "serverAuth and clientAuth" : !(xku & XKU_SSL_CLIENT) ?
		    "clientAuth" : "serverAuth");
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
 * The identity of a certificate: the SHA-256 of its public key (the DER
 * SubjectPublicKeyInfo) in lowercase hex, into out (65 bytes). -1 if
 * there is none.
 */
static int
cnet_cert_ident(X509 *crt, char *out, size_t len)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 n = 0, i;

	if (crt == NULL || len < 65 ||
	    X509_pubkey_digest(crt, EVP_sha256(), md, &n) != 1 || n != 32) {
		ERR_clear_error();
		return (-1);
	}
	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, len - 2 * i, "%02x", md[i]);
	return (0);
}

/*
 * The identity of a channel's peer (its certificate verified by TLS):
 * 0 and the identity in out, or -1 and why in reason. A peer certificate
 * must name serverAuth and clientAuth: each end of a cluster link is a
 * TLS server to one peer and a client to another, and a certificate
 * issued for something else (a user's, a web server's) is no node's.
 */
static int
cnet_peer_ident(struct cnet_dial *d, char *out, size_t len, char *reason,
    size_t rlen)
{
	SSL		*ssl;
	X509		*crt;
	uint32_t	 xku;

	if ((ssl = bufferevent_openssl_get_ssl(d->bev)) == NULL ||
	    (crt = SSL_get0_peer_certificate(ssl)) == NULL) {
		snprintf(reason, rlen, "no peer certificate");
		return (-1);
	}
	xku = X509_get_extended_key_usage(crt);
	if (xku == UINT32_MAX || !(xku & XKU_SSL_SERVER) ||
	    !(xku & XKU_SSL_CLIENT)) {
		snprintf(reason, rlen, "its certificate %s: a cluster node's "
		    "needs serverAuth and clientAuth", xku == UINT32_MAX ?
		    "names no extended key usage" : !(xku & XKU_SSL_SERVER) ?
		    "lacks serverAuth" : "lacks clientAuth");
		return (-1);
	}
	if (cnet_cert_ident(crt, out, len) == -1) {
		snprintf(reason, rlen, "cannot read its certificate's key");
		return (-1);
	}
	/* TLS began before a new trust bundle: the new one decides. */
	if (SSL_get_SSL_CTX(ssl) != cnet_ctx && !cnet_trusted_now(ssl)) {
		snprintf(reason, rlen, "its certificate is not trusted by the "
		    "new trust bundle");
		return (-1);
	}
	return (0);
}

/*
 * Whether the peer certificate of a channel verifies against the trust
 * bundle of the current context (with the chain the peer sent).
 */
static int
cnet_trusted_now(SSL *ssl)
{
	X509_STORE_CTX	*xs;
	X509		*crt;
	int		 ok = 0;

	if (cnet_ctx == NULL || (crt = SSL_get0_peer_certificate(ssl)) == NULL)
		return (0);
	if ((xs = X509_STORE_CTX_new()) != NULL &&
	    X509_STORE_CTX_init(xs, SSL_CTX_get_cert_store(cnet_ctx), crt,
	    SSL_get_peer_cert_chain(ssl)) == 1) {
		X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(xs),
		    SSL_CTX_get0_param(cnet_ctx));
		ok = X509_verify_cert(xs) == 1;
	}
	X509_STORE_CTX_free(xs);
	ERR_clear_error();
	return (ok);
}

/* OpenSSL frees a channel's SSL: it is no longer a live channel. */
static void
cnet_live_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	struct cnet_live	*l = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (l == NULL)
		return;
	TAILQ_REMOVE(&cnet_lives, l, entry);
	free(l);
}

/*
 * A new trust bundle for the running port, at once: channels from now on
 * are verified against it (our key and certificate are read again with
 * it, and must still be the identity the port started with). Channels
 * already up whose peer the new bundle does not trust are dropped (their
 * sockets shut down: the owners see them close as any lost link); the
 * others stay. -1 with *cause, and the old context stays in use.
 */
int
cnet_reload(const char *key, const char *crt, const char *trust,
    char **cause)
{
	struct cnet_live	*l;
	SSL_CTX			*ctx;
	char			 ident[65];
	int			 fd, dropped = 0;

	if (cnet_lev == NULL)
		return (0);
	if ((ctx = cnet_ctx_new(key, crt, trust, cause)) == NULL)
		return (-1);
	if (cnet_cert_ident(SSL_CTX_get0_certificate(ctx), ident,
	    sizeof(ident)) == -1 || strcmp(ident, cnet_myident) != 0) {
		xasprintf(cause, "certificate %s is no longer the one this "
		    "node's cluster port started with; restart mmpd to use "
		    "it", crt);
		SSL_CTX_free(ctx);
		return (-1);
	}
	/* SSL objects hold a reference of their own to the old context. */
	SSL_CTX_free(cnet_ctx);
	cnet_ctx = ctx;
	TAILQ_FOREACH(l, &cnet_lives, entry) {
		if (SSL_get0_peer_certificate(l->ssl) == NULL ||
		    cnet_trusted_now(l->ssl))
			continue;
		if ((fd = SSL_get_fd(l->ssl)) != -1) {
			log_warnx("cluster: link with %s dropped: the new "
			    "trust bundle does not trust its certificate",
			    l->peer);
			shutdown(fd, SHUT_RDWR);
			dropped++;
		}
	}
	log_info("cnet_reload: trust bundle %s in use for new channels; "
	    "%d link%s dropped", trust, dropped, dropped == 1 ? "" : "s");
	return (0);
}

/*
 * Whether the cluster address a peer claims (ip:port) is on the host its
 * connection comes from (peer, ip:port as the port names it): nodes dial
 * from their cluster address, so no one speaks for another's.
 */
static int
cnet_addr_is_from(const char *claimed, const char *peer)
{
	struct sockaddr_storage	 a, b;
	socklen_t		 alen, blen;

	if (cnet_parse_addr(claimed, &a, &alen) == -1 ||
	    cnet_parse_addr(peer, &b, &blen) == -1 ||
	    a.ss_family != b.ss_family)
		return (0);
	if (a.ss_family == AF_INET)
		return (memcmp(&((struct sockaddr_in *)&a)->sin_addr,
		    &((struct sockaddr_in *)&b)->sin_addr,
		    sizeof(struct in_addr)) == 0);
	return (memcmp(&((struct sockaddr_in6 *)&a)->sin6_addr,
	    &((struct sockaddr_in6 *)&b)->sin6_addr,
	    sizeof(struct in6_addr)) == 0);
}

/* Our own identity (the SHA-256 of our key, hex); "" when not running. */
const char *
cnet_ident(void)
{
	return (cnet_myident);
}

/*
 * Trust ident (a peer's identity, as in struct cnet_hello) for raft
 * channels while this node knows no member identity yet: the node whose
 * leader answered our JOIN sends us the log that pins everyone.
 */
void
cnet_pin(const char *ident)
{
	strlcpy(cnet_pinned, ident, sizeof(cnet_pinned));
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
void
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
	evconnlistener_set_error_cb(cnet_lev, cnet_accept_error);
	if (cnet_resume == NULL && (cnet_resume = evtimer_new(mmpd->base,
	    cnet_accept_resume, NULL)) == NULL)
		fatalx("cnet_start: evtimer_new failed");
	if (cnet_cert_ident(SSL_CTX_get0_certificate(ctx), cnet_myident,
	    sizeof(cnet_myident)) == -1) {
		xasprintf(cause, "certificate %s: cannot read its key", crt);
		evconnlistener_free(cnet_lev);
		cnet_lev = NULL;
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
	struct cnet_linger	*l;
	int			 kind;

	if (cnet_resume != NULL)
		evtimer_del(cnet_resume);
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
	for (kind = CN_RAFT; kind <= CN_REQ; kind++)
		if (cnet_takers[kind] != NULL)
			cnet_takers[kind]->stop();
	while ((l = TAILQ_FIRST(&cnet_lingers)) != NULL)
		cnet_linger_free(l);
	SSL_CTX_free(cnet_ctx);
	cnet_ctx = NULL;
	free(cnet_domain);
	cnet_domain = NULL;
	cnet_addr[0] = '\0';
	cnet_myident[0] = '\0';
	cnet_pinned[0] = '\0';
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

/*
 * Who takes accepted channels of a kind, and may refuse them (CN_RAFT);
 * NULL: nobody. t is borrowed for as long as it is set.
 */
void
cnet_set_taker(int kind, const struct cnet_taker *t)
{
	if (kind < CN_RAFT || kind > CN_REQ)
		fatalx("cnet_set_taker: bad kind %d", kind);
	cnet_takers[kind] = t;
}

/* Our cluster address, ip:port or [v6]:port ("" when not running). */
const char *
cnet_local_addr(void)
{
	return (cnet_addr);
}

/*
 * Accepted channels in their handshake counted per address:
 * CNET_PENDING_SRC each, CNET_PENDING in all but the members'.
 */
static struct addrlimit *
cnet_pending_get(void)
{
	if (cnet_pending == NULL)
		cnet_pending = addrlimit_new(CNET_PENDING_SRC, CNET_PENDING);
	return (cnet_pending);
}

/*
 * The port has CNET_PENDING channels in their handshake and key wants
 * one more: drop the oldest channel of the address that holds the most,
 * if that is more than key would hold. -1 if key has its share already.
 * Members' channels are not in the pool and never dropped for room.
 */
static int
cnet_make_room(const char *key)
{
	struct cnet_dial	*d;
	const char		*most;
	int			 n;

	if ((most = addrlimit_most(cnet_pending, key, &n)) == NULL)
		return (-1);
	TAILQ_FOREACH(d, &cnet_dials, entry)
		if (d->pooled && strcmp(d->key, most) == 0)
			break;
	if (d == NULL)
		return (-1);
	cnet_warn(d->peer, "dropped for room", "cluster: %s dropped: its "
	    "address holds %d of the %d channels in their handshake", d->peer,
	    n, addrlimit_total(cnet_pending));
	cnet_dial_free(d);
	return (0);
}

/*
 * A peer connected: wait for its first byte (CNET_PRETLS_SECS), start
 * TLS, then wait for its hello. Channels in their handshake are not
 * authenticated yet: one address may hold only CNET_PENDING_SRC of them,
 * and all addresses but the members' only CNET_PENDING, so that idle
 * connections from many hosts cannot keep the members out: a member's
 * address always gets its share.
 */
static void
cnet_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct cnet_dial	*d;
	struct addrlimit	*al = cnet_pending_get();
	struct timeval		 tv = { CNET_PRETLS_SECS, 0 };
	char			 host[INET6_ADDRSTRLEN], port[8], peer[80];
	char			 key[ADDRKEY_LEN];
	int			 member;

	(void)lev;
	(void)arg;
	if (getnameinfo(sa, salen, host, sizeof(host), port, sizeof(port),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		close(fd);
		return;
	}
	snprintf(peer, sizeof(peer), "%s%s%s:%s",
	    strchr(host, ':') != NULL ? "[" : "", host,
	    strchr(host, ':') != NULL ? "]" : "", port);
	/* A member's address counts alone; others' IPv6 by their /64. */
	if ((member = cluster_addr_member(host)))
		strlcpy(key, host, sizeof(key));
	else
		addrkey_make(host, key, sizeof(key));
	if (addrlimit_addr_full(al, key)) {
		cnet_warn(peer, "too many in their handshake", "cluster: %s "
		    "refused: %d channels from %s already in their handshake",
		    peer, addrlimit_count(al, key), host);
		close(fd);
		return;
	}
	if (!member && addrlimit_full(al) && cnet_make_room(key) == -1) {
		/* Many addresses at once: one warning for them all. */
		cnet_warn("*", "port full", "cluster: %s refused: %d channels "
		    "already in their handshake", peer, addrlimit_total(al));
		close(fd);
		return;
	}
	cnet_sockopts(fd);
	d = xcalloc(1, sizeof(*d));
	d->incoming = 1;
	strlcpy(d->key, key, sizeof(d->key));
	d->pooled = !member;
	addrlimit_take(al, key, d->pooled);
	d->fd = fd;
	strlcpy(d->peer, peer, sizeof(d->peer));
	if ((d->timer = evtimer_new(mmpd->base, cnet_dial_timer, d)) == NULL)
		fatalx("cnet_accept: evtimer_new failed");
	TAILQ_INSERT_TAIL(&cnet_dials, d, entry);
	d->state = CD_WAIT;
	if ((d->ev = event_new(mmpd->base, fd, EV_READ, cnet_accept_ready,
	    d)) == NULL)
		fatalx("cnet_accept: event_new failed");
	event_add(d->ev, NULL);
	evtimer_add(d->timer, &tv);
}

/*
 * accept() failed for want of descriptors or memory: retrying at once
 * would fail at once, for ever, at full CPU, so the port rests a while.
 */
static void
cnet_accept_error(struct evconnlistener *lev, void *arg)
{
	struct timeval	 tv = { CNET_ACCEPT_PAUSE, 0 };
	unsigned long	 held;
	int		 err = EVUTIL_SOCKET_ERROR();

	(void)arg;
	evconnlistener_disable(lev);
	evtimer_add(cnet_resume, &tv);
	if (log_limit(&cnet_log_pause, &held))
		log_warnx("cnet_accept_error: cluster port %s: %s: not "
		    "accepting for %d s (%lu more pauses since the last "
		    "message)", cnet_addr, strerror(err), CNET_ACCEPT_PAUSE,
		    held);
}

/* The cluster port accepts again after a pause. */
static void
cnet_accept_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (cnet_lev != NULL)
		evconnlistener_enable(cnet_lev);
}

/* An accepted peer sent its first bytes: TLS, and the full deadline. */
static void
cnet_accept_ready(evutil_socket_t fd, short what, void *arg)
{
	struct cnet_dial	*d = arg;
	struct timeval		 tv = { CNET_SECS, 0 };

	(void)fd;
	(void)what;
	event_free(d->ev);
	d->ev = NULL;
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

/* Free every channel in its handshake and the port's timer. */
void
cnet_dials_free(void)
{
	struct cnet_dial	*d;

	while ((d = TAILQ_FIRST(&cnet_dials)) != NULL)
		cnet_dial_free(d);
	addrlimit_free(cnet_pending);
	cnet_pending = NULL;
	if (cnet_resume != NULL) {
		event_free(cnet_resume);
		cnet_resume = NULL;
	}
}

/* Free a channel in its handshake and everything it holds. */
static void
cnet_dial_free(struct cnet_dial *d)
{
	TAILQ_REMOVE(&cnet_dials, d, entry);
	if (d->incoming)
		addrlimit_release(cnet_pending, d->key, d->pooled);
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

/*
 * Free a refused or failed accepted channel, letting its peer go first
 * (for CNET_LINGER seconds at most, and only CNET_LINGERS of them).
 */
static void
cnet_dial_drop(struct cnet_dial *d)
{
	struct cnet_linger	*l;
	struct timeval		 tv = { CNET_LINGER, 0 };
	int			 fd;

	if (cnet_nlingers >= CNET_LINGERS || d->bev == NULL ||
	    (fd = bufferevent_getfd(d->bev)) == -1 ||
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
	l->timer = evtimer_new(mmpd->base, cnet_linger_read, l);
	if (l->ev == NULL || l->timer == NULL)
		fatalx("cnet_dial_drop: event_new failed");
	/* A deadline of its own: reads must not put it off. */
	event_add(l->ev, NULL);
	evtimer_add(l->timer, &tv);
	TAILQ_INSERT_TAIL(&cnet_lingers, l, entry);
	cnet_nlingers++;
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
	cnet_nlingers--;
	event_free(l->ev);
	event_free(l->timer);
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
		if (d->state == CD_WAIT) {
			cnet_warn(d->peer, "sent nothing", "cluster: %s sent "
			    "nothing in %d s", d->peer, CNET_PRETLS_SECS);
			cnet_dial_free(d);
			return;
		}
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
	struct cnet_live	*l;
	SSL			*ssl;

	if (cnet_ctx == NULL || (ssl = SSL_new(cnet_ctx)) == NULL) {
		ERR_clear_error();
		return (-1);
	}
	if (cnet_live_idx == -1 && (cnet_live_idx = SSL_get_ex_new_index(0,
	    NULL, NULL, NULL, cnet_live_free)) == -1)
		fatalx("cnet_tls_start: no ex_data index");
	l = xcalloc(1, sizeof(*l));
	l->ssl = ssl;
	strlcpy(l->peer, d->peer, sizeof(l->peer));
	TAILQ_INSERT_TAIL(&cnet_lives, l, entry);
	if (SSL_set_ex_data(ssl, cnet_live_idx, l) != 1) {
		TAILQ_REMOVE(&cnet_lives, l, entry);
		free(l);
		SSL_free(ssl);
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

/* Drop the OpenSSL errors left by a closing channel's bufferevent. */
void
cnet_tls_clear(struct bufferevent *bev)
{
	while (bufferevent_get_openssl_error(bev) != 0)
		;
	ERR_clear_error();
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
	tls = tls_bev_why(d->bev, what, err, why, sizeof(why), detail,
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
	const struct cnet_taker	*t;
	cnet_accept_cb		 cb;
	void			*arg;
	const char		*refusal;
	char			 reason[400], why[200];
	int			 member;

	memset(&h, 0, sizeof(h));
	if (cnet_hello_parse(line, &h, 0) == -1) {
		cnet_hs_refuse(d, "malformed hello");
		return;
	}
	if (cnet_peer_ident(d, h.ident, sizeof(h.ident), why,
	    sizeof(why)) == -1) {
		cnet_hs_refuse(d, why);
		return;
	}
	if (!cnet_addr_is_from(h.addr, d->peer)) {
		snprintf(reason, sizeof(reason), "it claims the address %s, "
		    "not its own", h.addr);
		cnet_hs_refuse(d, reason);
		return;
	}
	/*
	 * Only the member whose certificate was pinned at its join speaks
	 * for its id and address; anyone else the bundle trusts may only
	 * ask to join (a request channel that takes nothing but JOIN). A
	 * node that knows no member yet, joining, takes raft from the
	 * certificate of the leader that took its JOIN.
	 */
	member = cluster_peer_member(h.id, h.addr, h.ident);
	h.member = member == 1;
	if ((h.kind == CN_FWD && member != 1) || (h.kind == CN_RAFT &&
	    member != 1 && (member != -1 || cnet_pinned[0] == '\0' ||
	    strcmp(cnet_pinned, h.ident) != 0))) {
		snprintf(reason, sizeof(reason), "%s channel claiming node "
		    "%016llx at %s: its certificate (key %.16s...) is not that "
		    "member's", cnet_kind_name(h.kind),
		    (unsigned long long)h.id, h.addr, h.ident);
		cnet_hs_refuse(d, reason);
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
	if (h.kind == CN_RAFT && (h.id == 0 || h.id == cnet_id)) {
		snprintf(reason, sizeof(reason), "raft channel from node "
		    "%016llx, %s", (unsigned long long)h.id, h.id == 0 ?
		    "which has no id" : "this node's id");
		cnet_hs_refuse(d, reason);
		return;
	}
	if ((t = cnet_takers[h.kind]) != NULL) {
		if (t->take(d->bev, &h, &refusal) == -1) {
			cnet_hs_refuse(d, refusal);
			return;
		}
		cnet_hs_ok(d);
		d->bev = NULL;		/* the taker's now */
		cnet_dial_free(d);
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
	char			*cause, *p, why[200];
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
	if (cnet_peer_ident(d, h.ident, sizeof(h.ident), why,
	    sizeof(why)) == -1) {
		xasprintf(&cause, "%s refused: %s", d->peer, why);
		cnet_warn(d->peer, why, "cluster: %s", cause);
		cnet_dial_finish(d, NULL, NULL, cause);
		return;
	}
	/*
	 * A member we dial must answer with its pinned certificate (another
	 * id there is raft's business: a node that was reset, say).
	 */
	h.member = cluster_peer_member(h.id, h.addr, h.ident) == 1;
	if (d->kind != CN_REQ && cluster_pin_differs(h.id, h.ident)) {
		xasprintf(&cause, "%s answered as node %016llx at %s with a "
		    "certificate that is not that member's", d->peer,
		    (unsigned long long)h.id, h.addr);
		cnet_warn(d->peer, "not the member", "cluster: %s", cause);
		cnet_dial_finish(d, NULL, NULL, cause);
		return;
	}
	log_debug("cluster: %s channel to node %016llx at %s",
	    cnet_kind_name(d->kind), (unsigned long long)h.id, d->peer);
	cnet_dial_finish(d, d->bev, &h, NULL);
}
