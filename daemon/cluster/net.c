/*
 * The cluster port (DESIGN.md section 7): the listener, accepting under
 * per-address limits, the hello of accepted channels and their hand-off
 * by kind, and letting refused peers go. Channels in their handshake and
 * dialling are in dial.c, TLS and the peer's identity in trust.c; libuv
 * and raft's transport in uv.c.
 *
 * A channel is a struct cnet_dial, dialled or accepted, until its hello
 * is answered. Then it is handed to the acceptor registered for its kind:
 * cnet_set_accept's (CN_FWD, CN_REQ) or cnet_set_taker's (CN_RAFT, whose
 * acceptor in uv.c proxies it to raft's end of a socketpair).
 * Callbacks into raft.c and raft never run from inside a call they
 * made: a failure found at once is reported on the next loop turn.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

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
#include <event2/event.h>
#include <event2/listener.h>

#include "addrkey.h"
#include "addrlimit.h"
#include "cluster/cluster.h"
#include "cluster/net.h"
#include "log.h"
#include "mmpd.h"
#include "tls.h"
#include "xmalloc.h"

#define CNET_ACCEPT_PAUSE 1		/* s the listener rests after EMFILE */
#define CNET_PENDING	256		/* accepted channels before hello
					   from no member's address */
#define CNET_PENDING_SRC 8		/* from one address, member or not */
#define CNET_LINGER	2		/* seconds for a refused peer to go */
#define CNET_LINGERS	64		/* refused peers let go slowly */
#define CNET_QUIET_MS	10000		/* between equal warnings of a host */

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

static struct evconnlistener	*cnet_lev;
static struct event		*cnet_resume;	/* re-enables cnet_lev */
static struct log_limit		 cnet_log_pause;
static struct sockaddr_storage	 cnet_bind;
static socklen_t		 cnet_bindlen;
static char			 cnet_addr[80];
static char			*cnet_dom;
static uint64_t			 cnet_id;
static char			 cnet_pinned[65];	/* who we joined */
static cnet_accept_cb		 cnet_accept_cbs[CN_REQ + 1];
static void			*cnet_accept_args[CN_REQ + 1];
static const struct cnet_taker	*cnet_takers[CN_REQ + 1];
static struct addrlimit		*cnet_pending;	/* accepted, in handshake */
static int			 cnet_nlingers;
static struct cnet_said		 cnet_said[16];

static TAILQ_HEAD(, cnet_linger) cnet_lingers =
    TAILQ_HEAD_INITIALIZER(cnet_lingers);

static int	 cnet_addr_is_from(const char *, const char *);
static struct addrlimit *cnet_pending_get(void);
static int	 cnet_make_room(const char *);
static void	 cnet_accept(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	 cnet_accept_ready(evutil_socket_t, short, void *);
static void	 cnet_accept_error(struct evconnlistener *, void *);
static void	 cnet_accept_resume(evutil_socket_t, short, void *);
static void	 cnet_linger_read(evutil_socket_t, short, void *);
static void	 cnet_linger_free(struct cnet_linger *);
static void	 cnet_hs_flushed(struct bufferevent *, void *);
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

/* Parse "ip:port" or "[v6]:port" (numeric only). */
int
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
void
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
	struct ssl_ctx_st	*ctx;
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
	if ((ctx = cnet_tls_ctx(key, crt, trust, cause)) == NULL)
		return (-1);
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		xasprintf(cause, "socket: %s", strerror(errno));
		cnet_tls_ctx_free(ctx);
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
		cnet_tls_ctx_free(ctx);
		return (-1);
	}
	cnet_lev = evconnlistener_new(mmpd->base, cnet_accept, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (cnet_lev == NULL) {
		xasprintf(cause, "cannot listen on %s%s%s:%d", v6 ? "[" : "",
		    bindaddr, v6 ? "]" : "", port);
		close(fd);
		cnet_tls_ctx_free(ctx);
		return (-1);
	}
	evconnlistener_set_error_cb(cnet_lev, cnet_accept_error);
	if (cnet_resume == NULL && (cnet_resume = evtimer_new(mmpd->base,
	    cnet_accept_resume, NULL)) == NULL)
		fatalx("cnet_start: evtimer_new failed");
	if (cnet_tls_use(ctx) == -1) {
		xasprintf(cause, "certificate %s: cannot read its key", crt);
		evconnlistener_free(cnet_lev);
		cnet_lev = NULL;
		cnet_tls_ctx_free(ctx);
		return (-1);
	}
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
	cnet_dom = xstrdup(domain != NULL ? domain : "");
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
	struct cnet_linger	*l;
	int			 kind;

	if (cnet_resume != NULL)
		evtimer_del(cnet_resume);
	if (cnet_lev != NULL) {
		evconnlistener_free(cnet_lev);
		cnet_lev = NULL;
		log_info("cnet_stop: cluster port on %s closed", cnet_addr);
	}
	cnet_dials_stop();
	for (kind = CN_RAFT; kind <= CN_REQ; kind++)
		if (cnet_takers[kind] != NULL)
			cnet_takers[kind]->stop();
	while ((l = TAILQ_FIRST(&cnet_lingers)) != NULL)
		cnet_linger_free(l);
	cnet_tls_drop();
	free(cnet_dom);
	cnet_dom = NULL;
	cnet_addr[0] = '\0';
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

/* The node id our hellos carry. */
uint64_t
cnet_node_id(void)
{
	return (cnet_id);
}

/* The XMPP domain our hellos carry, "" for none. */
const char *
cnet_domain(void)
{
	return (cnet_dom != NULL ? cnet_dom : "");
}

/* The address outgoing channels bind to (any port); -1 if not running. */
int
cnet_bind_addr(struct sockaddr_storage *ss, socklen_t *len)
{
	if (cnet_lev == NULL)
		return (-1);
	*ss = cnet_bind;
	*len = cnet_bindlen;
	return (0);
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
	if ((d = cnet_dial_pooled(most)) == NULL)
		return (-1);
	cnet_warn(d->peer, "dropped for room", "cluster: %s dropped: its "
	    "address holds %d of the %d channels in their handshake", d->peer,
	    n, addrlimit_total(cnet_pending));
	cnet_dial_free(d);
	return (0);
}

/* An accepted channel in its handshake is gone: count it no more. */
void
cnet_pending_release(const char *key, int pooled)
{
	addrlimit_release(cnet_pending, key, pooled);
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
	d = cnet_dial_new(peer);
	d->incoming = 1;
	strlcpy(d->key, key, sizeof(d->key));
	d->pooled = !member;
	addrlimit_take(al, key, d->pooled);
	d->fd = fd;
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
	if (cnet_dial_tls(d) == -1) {
		log_warnx("cluster: TLS from %s failed: cannot start TLS",
		    d->peer);
		cnet_dial_free(d);
		return;
	}
	evtimer_add(d->timer, &tv);
}

/* Free every channel in its handshake, the counts and the port's timer. */
void
cnet_dials_free(void)
{
	cnet_dials_clear();
	addrlimit_free(cnet_pending);
	cnet_pending = NULL;
	if (cnet_resume != NULL) {
		event_free(cnet_resume);
		cnet_resume = NULL;
	}
}

/*
 * Refused peers
 */

/*
 * Free a refused or failed accepted channel, letting its peer go first
 * (for CNET_LINGER seconds at most, and only CNET_LINGERS of them).
 */
void
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

/*
 * The hello of an accepted channel
 */

/* An accepted channel said hello: refuse it, or hand it on. */
void
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
	if (cnet_peer_ident(d->bev, h.ident, sizeof(h.ident), why,
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
	if (h.kind != CN_REQ && strcmp(h.domain, cnet_dom) != 0) {
		snprintf(reason, sizeof(reason), "domain mismatch: this node "
		    "serves %s, the peer serves %s", *cnet_dom != '\0' ?
		    cnet_dom : "no domain", *h.domain != '\0' ? h.domain :
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
	    cnet_addr, *cnet_dom != '\0' ? cnet_dom : "-");
}

/* Refuse an accepted channel: say why, then close once that is sent. */
void
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
	cnet_tls_shutdown(bev);
	cnet_dial_drop(arg);
}
