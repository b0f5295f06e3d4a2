/*
 * Serving XMPP: listeners on the addresses of xmpp listen and the ports of
 * xmpp port, accepting client and component streams, the per-address
 * (per /64 for IPv6) and global limits on unauthenticated streams, pausing
 * a listener when descriptors run out, call-bridge connection states, and
 * the figures the xmpp status block shows.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "addrkey.h"
#include "addrlimit.h"
#include "db.h"
#include "log.h"
#include "mmpd.h"
#include "tls.h"
#include "util.h"
#include "xml/xml.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "xmpp/xmpp_int.h"

#define XMPP_PEEK_SECS	30
#define XMPP_MAX_UNAUTH_ALL	1024	/* unauthenticated streams in all */
#define XMPP_ACCEPT_PAUSE	1	/* seconds a listener rests on EMFILE */

struct listener {
	TAILQ_ENTRY(listener)	 entry;
	struct evconnlistener	*lev;
	struct event		*resume;	/* after a pause (EMFILE) */
	int			 kind;
	char			 name[80];
};

/* An accepted socket waiting for its first byte (TLS or not?). */
struct pending {
	TAILQ_ENTRY(pending)	 entry;
	int			 fd;
	int			 kind;
	struct event		*ev;
	char			 addr[64];
	char			 peer[80];
	uint64_t		 seq;		/* order of acceptance */
};

/* What an admin sees in xmpp callbridge list. */
struct cbstate {
	TAILQ_ENTRY(cbstate)	 entry;
	char			*name;
	char			*peer;
	time_t			 since;
	int			 connected;
	time_t			 failed_at;
	char			*failed_peer;
	char			*reason;
};

static TAILQ_HEAD(, listener)	 listeners = TAILQ_HEAD_INITIALIZER(listeners);
static TAILQ_HEAD(, pending)	 pendings = TAILQ_HEAD_INITIALIZER(pendings);
static TAILQ_HEAD(, cbstate)	 cbstates = TAILQ_HEAD_INITIALIZER(cbstates);
static int			 serving;
static char			*domain;
static struct addrlimit		*unauths;	/* pending ones included */
static uint64_t			 unauth_seq;	/* streams accepted so far */
static struct log_limit		 log_peraddr, log_global, log_pause, log_evict;

/* Streams refused (xmpp_refuse) while a layer above says so. */
static struct {
	int		 on;
	time_t		 since;
	char		*cond;
	char		*host;		/* see-other-host: an address */
	char		*text;
	unsigned long	 answered;	/* new streams refused so far */
} refuse;

static int	 xmpp_listen(const char *, int, int, char **);
static int	 xmpp_listen_addr(const char *, int, int, char **);
static void	 xmpp_accept(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	 xmpp_accept_error(struct evconnlistener *, void *);
static void	 xmpp_accept_resume(evutil_socket_t, short, void *);
static int	 xmpp_unauth_cap(void);
static void	 xmpp_peek(evutil_socket_t, short, void *);
static void	 xmpp_pending_free(struct pending *);
static struct addrlimit *xmpp_unauths(void);
static void	 xmpp_unauth_release(const char *);
static int	 xmpp_make_room(const char *);
static struct cbstate *xmpp_cbstate(const char *);
static void	 xmpp_close_listeners(void);
static char	*xmpp_when(time_t);
static void	 xmpp_refuse_one(struct xconn *, int);

/* Our domain (empty when not serving). */
const char *
xmpp_domain(void)
{
	return (domain ? domain : "");
}

/* Whether XMPP is being served. */
int
xmpp_serving(void)
{
	return (serving);
}

/* Listen on one address:port for one kind of stream. */
static int
xmpp_listen_addr(const char *addr, int port, int kind, char **cause)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	struct listener		*l;
	socklen_t		 len;
	int			 fd, on = 1;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		len = sizeof(*sin6);
	} else {
		xasprintf(cause, "%s is not an address", addr);
		return (-1);
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		xasprintf(cause, "socket: %s", strerror(errno));
		return (-1);
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, 512) == -1) {
		xasprintf(cause, "cannot listen on %s%s%s:%d: %s",
		    ss.ss_family == AF_INET6 ? "[" : "", addr,
		    ss.ss_family == AF_INET6 ? "]" : "", port,
		    strerror(errno));
		close(fd);
		return (-1);
	}
	l = xcalloc(1, sizeof(*l));
	l->kind = kind;
	snprintf(l->name, sizeof(l->name), "%s%s%s:%d (%s)",
	    ss.ss_family == AF_INET6 ? "[" : "", addr,
	    ss.ss_family == AF_INET6 ? "]" : "", port,
	    kind == XC_CLIENT ? "clients" : "call bridges");
	l->lev = evconnlistener_new(mmpd->base, xmpp_accept, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (l->lev == NULL) {
		xasprintf(cause, "cannot listen on %s", l->name);
		close(fd);
		free(l);
		return (-1);
	}
	evconnlistener_set_error_cb(l->lev, xmpp_accept_error);
	l->resume = evtimer_new(mmpd->base, xmpp_accept_resume, l);
	TAILQ_INSERT_TAIL(&listeners, l, entry);
	log_info("xmpp_listen_addr: listening on %s", l->name);
	return (0);
}

/* Listen on an address, or on every address of an interface. */
static int
xmpp_listen(const char *what, int port, int kind, char **cause)
{
	struct ifaddrs	*ifa, *i;
	char		 host[NI_MAXHOST];
	struct in6_addr	 a;
	int		 n = 0;

	if (inet_pton(AF_INET, what, &a) == 1 ||
	    inet_pton(AF_INET6, what, &a) == 1)
		return (xmpp_listen_addr(what, port, kind, cause));
	if (getifaddrs(&ifa) == -1) {
		xasprintf(cause, "getifaddrs: %s", strerror(errno));
		return (-1);
	}
	for (i = ifa; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || strcmp(i->ifa_name, what) != 0 ||
		    addrkey_numeric(i->ifa_addr, host, sizeof(host)) == -1)
			continue;	/* link-local scopes are skipped */
		if (xmpp_listen_addr(host, port, kind, cause) == -1) {
			freeifaddrs(ifa);
			return (-1);
		}
		n++;
	}
	freeifaddrs(ifa);
	if (n == 0) {
		xasprintf(cause, "interface %s has no usable address", what);
		return (-1);
	}
	return (0);
}

/* Close every listener. */
static void
xmpp_close_listeners(void)
{
	struct listener	*l;
	struct pending	*p;

	while ((l = TAILQ_FIRST(&listeners)) != NULL) {
		TAILQ_REMOVE(&listeners, l, entry);
		evconnlistener_free(l->lev);
		event_free(l->resume);
		free(l);
	}
	while ((p = TAILQ_FIRST(&pendings)) != NULL)
		xmpp_pending_free(p);
}

/*
 * Start serving with the stored configuration: TLS context, then every
 * listener. On failure nothing is left listening; -1 with *cause.
 */
int
xmpp_start(char **cause)
{
	const char	*keys[] = { DB_XMPP_KEY, DB_XMPP_CRT, DB_XMPP_BUNDLE };
	char		*v[3] = { NULL, NULL, NULL }, *p[3] = { NULL, NULL,
			    NULL }, *cp, *mp, **addrs = NULL;
	SSL_CTX		*ctx = NULL;
	int		 i, n = 0, cport, mport, rc = -1;

	if (serving)
		xmpp_stop("system-shutdown");
	*cause = NULL;
	free(domain);
	domain = db_config_get(mmpd->db, DB_XMPP_DOMAIN);
	for (i = 0; i < 3; i++) {
		v[i] = db_config_get(mmpd->db, keys[i]);
		if (v[i] != NULL)
			xasprintf(&p[i], "%s/%s", mmpd->filesdir, v[i]);
	}
	if (domain == NULL || p[0] == NULL || p[1] == NULL) {
		xasprintf(cause, "domain, key and certificate are needed");
		goto out;
	}
	if ((ctx = tls_ctx_new(TLS_SERVER, p[0], p[1], p[2], cause)) == NULL)
		goto out;
	tls_server_set(ctx);
	addrlimit_set_cap(xmpp_unauths(), xmpp_unauth_cap());
	cp = db_config_get(mmpd->db, DB_XMPP_PORT_CLIENT);
	mp = db_config_get(mmpd->db, DB_XMPP_PORT_COMPONENT);
	cport = cp ? atoi(cp) : 5222;
	mport = mp ? atoi(mp) : 5223;
	free(cp);
	free(mp);
	db_listen_get(mmpd->db, &addrs, &n);
	if (n == 0) {
		xasprintf(cause, "no listen addresses");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (xmpp_listen(addrs[i], cport, XC_CLIENT, cause) == -1 ||
		    xmpp_listen(addrs[i], mport, XC_COMPONENT, cause) == -1) {
			xmpp_close_listeners();
			tls_server_set(NULL);
			goto out;
		}
	}
	serving = 1;
	log_info("xmpp_start: serving %s (at most %d unauthenticated streams)",
	    domain, addrlimit_cap(unauths));
	rc = 0;
out:
	for (i = 0; i < 3; i++) {
		free(v[i]);
		free(p[i]);
	}
	util_free_argv(addrs, n);
	return (rc);
}

/* Stop serving: no listeners, every stream ends with cond. */
void
xmpp_stop(const char *cond)
{
	if (!serving)
		return;
	xmpp_close_listeners();
	xconn_close_all(cond);
	tls_server_set(NULL);
	serving = 0;
	log_info("xmpp_stop: no longer serving (%s)", cond);
}

/*
 * Refuse streams from now on (the cluster lost its quorum): every local
 * stream ends with the stream error, and new ones get it after their
 * header. The connections close after their output drained, so what was
 * sent to them before (stanza errors) reaches them first.
 */
void
xmpp_refuse(const char *cond, const char *host, const char *text)
{
	struct xconn	*c, **all;
	size_t		 n = 0, i;

	free(refuse.cond);
	free(refuse.host);
	free(refuse.text);
	refuse.cond = xstrdup(cond);
	refuse.host = host != NULL ? xstrdup(host) : NULL;
	refuse.text = text != NULL ? xstrdup(text) : NULL;
	if (!refuse.on) {
		refuse.on = 1;
		refuse.since = time(NULL);
		refuse.answered = 0;
	}
	for (c = xconn_first(); c != NULL; c = xconn_next(c))
		n++;
	log_info("xmpp_refuse: refusing streams (%s%s), closing %zu: %s",
	    host ? "see-other-host " : cond, host ? host : "", n,
	    text ? text : "");
	if (n == 0)
		return;
	/* Closing one stream can close others: walk a copy. */
	all = xreallocarray(NULL, n, sizeof(*all));
	n = 0;
	for (c = xconn_first(); c != NULL; c = xconn_next(c))
		all[n++] = c;
	for (i = 0; i < n; i++)
		xmpp_refuse_one(all[i], 1);
	free(all);
}

/* Accept streams again (the cluster has its quorum back). */
void
xmpp_accept_again(void)
{
	if (!refuse.on)
		return;
	log_info("xmpp_accept_again: accepting streams again (%lu refused "
	    "in %lld s)", refuse.answered,
	    (long long)(time(NULL) - refuse.since));
	refuse.on = 0;
	free(refuse.cond);
	free(refuse.host);
	free(refuse.text);
	refuse.cond = refuse.host = refuse.text = NULL;
}

/* Whether streams are refused, and since when. */
int
xmpp_refusing(time_t *since)
{
	if (refuse.on && since != NULL)
		*since = refuse.since;
	return (refuse.on);
}

/* A new stream's header came: while refusing, answer it so; 1 if so. */
int
xmpp_refused(struct xconn *c)
{
	if (!refuse.on)
		return (0);
	refuse.answered++;
	xmpp_refuse_one(c, 0);
	return (1);
}

/* Close one stream with the refusal (logged: a stream we had). */
static void
xmpp_refuse_one(struct xconn *c, int logged)
{
	char	 where[128];
	int	 port;
	char	*v;

	if (refuse.host == NULL) {
		xconn_stream_error(c, refuse.cond, NULL, refuse.text, logged);
		return;
	}
	v = db_config_get(mmpd->db, c->kind == XC_CLIENT ?
	    DB_XMPP_PORT_CLIENT : DB_XMPP_PORT_COMPONENT);
	port = v != NULL ? atoi(v) : c->kind == XC_CLIENT ? 5222 : 5223;
	free(v);
	snprintf(where, sizeof(where), "%s%s%s:%d",
	    strchr(refuse.host, ':') ? "[" : "", refuse.host,
	    strchr(refuse.host, ':') ? "]" : "", port);
	xconn_stream_error(c, "see-other-host", where, refuse.text, logged);
}

/* A new TCP connection: wait for its first byte to tell TLS from XML. */
static void
xmpp_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener	*l = arg;
	struct pending	*p;
	struct addrlimit *al = xmpp_unauths();
	struct timeval	 tv = { XMPP_PEEK_SECS, 0 };
	char		 host[NI_MAXHOST], port[NI_MAXSERV];
	char		 key[ADDRKEY_LEN];
	unsigned long	 held;
	int		 on = 1;

	(void)lev;
	if (getnameinfo(sa, salen, host, sizeof(host), port, sizeof(port),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		close(fd);
		return;
	}
	addrkey_make(host, key, sizeof(key));
	if (addrlimit_addr_full(al, key)) {
		close(fd);
		if (log_limit(&log_peraddr, &held))
			log_warnx("xmpp_accept: %s has %d unauthenticated "
			    "streams, refusing more (%lu refused since the "
			    "last message)", key, addrlimit_count(al, key),
			    held);
		return;
	}
	if (addrlimit_full(al) && xmpp_make_room(host) == -1) {
		close(fd);
		if (log_limit(&log_global, &held))
			log_warnx("xmpp_accept: %d unauthenticated streams, "
			    "the limit: refusing %s (and %lu more since the "
			    "last message)", addrlimit_total(al), host, held);
		return;
	}
	/* Small stanzas must not wait for delayed ACKs (Nagle). */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	addrlimit_take(al, key, 1);
	p = xcalloc(1, sizeof(*p));
	p->fd = fd;
	p->kind = l->kind;
	p->seq = ++unauth_seq;
	strlcpy(p->addr, host, sizeof(p->addr));
	snprintf(p->peer, sizeof(p->peer), "%s%s%s:%.8s",
	    strchr(p->addr, ':') ? "[" : "", p->addr,
	    strchr(p->addr, ':') ? "]" : "", port);
	p->ev = event_new(mmpd->base, fd, EV_READ | EV_TIMEOUT, xmpp_peek, p);
	event_add(p->ev, &tv);
	TAILQ_INSERT_TAIL(&pendings, p, entry);
}

/* Free a pending socket (closing it unless handed on). */
static void
xmpp_pending_free(struct pending *p)
{
	TAILQ_REMOVE(&pendings, p, entry);
	event_free(p->ev);
	if (p->fd != -1) {
		close(p->fd);
		xmpp_unauth_release(p->addr);
	}
	free(p);
}

/* The first byte arrived: 0x16 starts a TLS handshake (direct TLS). */
static void
xmpp_peek(evutil_socket_t fd, short what, void *arg)
{
	struct pending	*p = arg;
	struct xconn	*c;
	unsigned char	 b;
	ssize_t		 n;

	if (what & EV_TIMEOUT) {
		xmpp_pending_free(p);
		return;
	}
	n = recv(fd, &b, 1, MSG_PEEK);
	if (n <= 0) {
		xmpp_pending_free(p);
		return;
	}
	c = xconn_new(p->kind, p->fd, p->addr, p->peer, b == 0x16);
	p->fd = -1;
	if (c == NULL)
		xmpp_unauth_release(p->addr);
	else
		c->unauth_seq = p->seq;
	xmpp_pending_free(p);
}

/*
 * accept() failed for another reason than a connection that went away:
 * out of descriptors (EMFILE, ENFILE) or kernel memory. Retrying at once
 * would fail at once, for ever, at full CPU: rest the listener instead.
 */
static void
xmpp_accept_error(struct evconnlistener *lev, void *arg)
{
	struct listener	*l = arg;
	struct timeval	 tv = { XMPP_ACCEPT_PAUSE, 0 };
	unsigned long	 held;
	int		 err = EVUTIL_SOCKET_ERROR();

	evconnlistener_disable(lev);
	evtimer_add(l->resume, &tv);
	if (log_limit(&log_pause, &held))
		log_warnx("xmpp_accept_error: %s: %s: not accepting for %d "
		    "second%s (%lu more pauses since the last message)",
		    l->name, strerror(err), XMPP_ACCEPT_PAUSE,
		    XMPP_ACCEPT_PAUSE == 1 ? "" : "s", held);
}

/* A paused listener accepts again. */
static void
xmpp_accept_resume(evutil_socket_t fd, short what, void *arg)
{
	struct listener	*l = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(l->lev);
}

/*
 * The global cap on unauthenticated streams: XMPP_MAX_UNAUTH_ALL, or half
 * the descriptor limit if that is less, so that sessions, the database,
 * TLS, the cluster and the control socket always have the other half.
 */
static int
xmpp_unauth_cap(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 ||
	    rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur / 2 >= XMPP_MAX_UNAUTH_ALL)
		return (XMPP_MAX_UNAUTH_ALL);
	return (rl.rlim_cur / 2);
}

/*
 * The unauthenticated streams counted per address (IPv6: per /64),
 * XMPP_MAX_UNAUTH each, made on first use.
 */
static struct addrlimit *
xmpp_unauths(void)
{
	if (unauths == NULL)
		unauths = addrlimit_new(XMPP_MAX_UNAUTH, XMPP_MAX_UNAUTH_ALL);
	return (unauths);
}

/* One fewer unauthenticated stream from addr; an empty entry goes. */
static void
xmpp_unauth_release(const char *addr)
{
	char	 key[ADDRKEY_LEN];

	addrkey_make(addr, key, sizeof(key));
	addrlimit_release(unauths, key, 1);
}

/*
 * Every unauthenticated stream is taken and one from addr arrives: close
 * the oldest unauthenticated stream of the address (IPv6: /64) that holds
 * the most, if that is more than addr would hold with the newcomer, and
 * return 0; -1 if there is nothing fairer to do than to refuse addr. So a
 * few addresses cannot keep everybody else out: they end up with equal
 * shares, and every other address gets its streams.
 */
static int
xmpp_make_room(const char *addr)
{
	struct pending	*p, *oldp = NULL;
	struct xconn	*c, *oldc = NULL;
	const char	*most;
	char		 key[ADDRKEY_LEN], mine[ADDRKEY_LEN];
	unsigned long	 held;
	int		 n;

	addrkey_make(addr, mine, sizeof(mine));
	if ((most = addrlimit_most(unauths, mine, &n)) == NULL)
		return (-1);
	TAILQ_FOREACH(p, &pendings, entry) {
		addrkey_make(p->addr, key, sizeof(key));
		if (p->fd != -1 && strcmp(key, most) == 0) {
			oldp = p;
			break;
		}
	}
	for (c = xconn_first(); c != NULL; c = xconn_next(c)) {
		if (!c->unauth_counted || c->closing ||
		    (oldp != NULL && c->unauth_seq > oldp->seq))
			continue;
		addrkey_make(c->addr, key, sizeof(key));
		if (strcmp(key, most) == 0 &&
		    (oldc == NULL || c->unauth_seq < oldc->unauth_seq))
			oldc = c;
	}
	if (oldc == NULL && oldp == NULL)
		return (-1);
	if (log_limit(&log_evict, &held))
		log_warnx("xmpp_make_room: %d unauthenticated streams, the "
		    "limit: closing the oldest of the %d from %s for %s (%lu "
		    "more since the last message)", addrlimit_total(unauths),
		    n, most, addr, held);
	if (oldc != NULL)
		xconn_error(oldc, "policy-violation", "too many "
		    "unauthenticated streams from your address");
	else
		xmpp_pending_free(oldp);
	return (0);
}

/* A stream authenticated or closed: one fewer unauthenticated. */
void
xmpp_unauth_done(struct xconn *c)
{
	xmpp_unauth_release(c->addr);
}

/* Close every session of an account (it was deleted). */
int
xmpp_kick_user(const char *localpart)
{
	struct xconn	*s[64];
	char		*bare;
	int		 i, n, total = 0;

	xasprintf(&bare, "%s@%s", localpart, xmpp_domain());
	while ((n = router_sessions(bare, s, 64)) > 0) {
		for (i = 0; i < n; i++)
			xconn_error(s[i], "not-authorized",
			    "the account was deleted");
		total += n;
	}
	free(bare);
	return (total);
}

/* How many sessions an account has open. */
int
xmpp_user_sessions(const char *localpart)
{
	char	*bare;
	int	 n;

	if (!serving)
		return (0);
	xasprintf(&bare, "%s@%s", localpart, xmpp_domain());
	n = router_count_sessions(bare);
	free(bare);
	return (n);
}

/* Lines for the xmpp status block: label, value. */
void
xmpp_status_lines(void (*cb)(void *, const char *, const char *), void *arg)
{
	struct listener	*l;
	char		 buf[64], *all = NULL, *tmp;

	cb(arg, "Serving", serving ? "yes" : "no");
	TAILQ_FOREACH(l, &listeners, entry) {
		xasprintf(&tmp, "%s%s%s", all ? all : "", all ? ", " : "",
		    l->name);
		free(all);
		all = tmp;
	}
	cb(arg, "Listeners", all ? all : "none");
	free(all);
	snprintf(buf, sizeof(buf), "%d", router_count_clients());
	cb(arg, "Client sessions", buf);
	snprintf(buf, sizeof(buf), "%d", router_count_components());
	cb(arg, "Components", buf);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)router_routed());
	cb(arg, "Stanzas routed", buf);
}

/* The state entry of a call bridge, created on first use. */
static struct cbstate *
xmpp_cbstate(const char *name)
{
	struct cbstate	*s;

	TAILQ_FOREACH(s, &cbstates, entry)
		if (strcasecmp(s->name, name) == 0)
			return (s);
	s = xcalloc(1, sizeof(*s));
	s->name = xstrdup(name);
	TAILQ_INSERT_TAIL(&cbstates, s, entry);
	return (s);
}

/* A call bridge authenticated. */
void
xmpp_cb_connected(const char *name, const char *peer)
{
	struct cbstate	*s = xmpp_cbstate(name);

	free(s->peer);
	s->peer = xstrdup(peer);
	s->since = time(NULL);
	s->connected++;
}

/* A call bridge failed to authenticate (or went away: reason NULL). */
void
xmpp_cb_failed(const char *name, const char *peer, const char *reason)
{
	struct cbstate	*s = xmpp_cbstate(name);

	if (reason == NULL) {
		if (s->connected > 0)
			s->connected--;
		return;
	}
	free(s->failed_peer);
	free(s->reason);
	s->failed_peer = xstrdup(peer);
	s->reason = xstrdup(reason);
	s->failed_at = time(NULL);
}

/* A time for humans, UTC. */
static char *
xmpp_when(time_t t)
{
	char	 buf[32];

	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
	return (xstrdup(buf));
}

/* The connection state of a call bridge, one line; the caller frees. */
char *
xmpp_cb_state(const char *name)
{
	struct cbstate	*s;
	struct xconn	*c;
	char		*cd, *when, *line, *fail = NULL;

	xasprintf(&cd, "%s.%s", name, xmpp_domain());
	c = serving ? router_component(cd) : NULL;
	free(cd);
	TAILQ_FOREACH(s, &cbstates, entry)
		if (strcasecmp(s->name, name) == 0)
			break;
	if (s != NULL && s->failed_at != 0) {
		when = xmpp_when(s->failed_at);
		xasprintf(&fail, "; last failed attempt %s from %s: %s", when,
		    s->failed_peer, s->reason);
		free(when);
	}
	if (c != NULL) {
		when = xmpp_when(c->since);
		xasprintf(&line, "connected from %s since %s%s", c->peer,
		    when, fail && s->failed_at > c->since ? fail : "");
		free(when);
	} else if (!serving)
		xasprintf(&line, "not connected (XMPP is not being "
		    "served)%s", fail ? fail : "");
	else
		xasprintf(&line, "not connected%s", fail ? fail : "");
	free(fail);
	return (line);
}

/*
 * The last failure of a call bridge here: 0 with when, from where and
 * why (borrowed), or -1 if it never failed.
 */
int
xmpp_cb_failure(const char *name, time_t *at, const char **peer,
    const char **reason)
{
	struct cbstate	*s;

	TAILQ_FOREACH(s, &cbstates, entry)
		if (strcasecmp(s->name, name) == 0)
			break;
	if (s == NULL || s->failed_at == 0)
		return (-1);
	*at = s->failed_at;
	*peer = s->failed_peer;
	*reason = s->reason;
	return (0);
}

/* Free the call-bridge states and the domain (at exit). */
void
xmpp_free(void)
{
	struct cbstate	*s;

	xmpp_stop("system-shutdown");
	xconn_free_all();
	smleft_free_all();
	while ((s = TAILQ_FIRST(&cbstates)) != NULL) {
		TAILQ_REMOVE(&cbstates, s, entry);
		free(s->name);
		free(s->peer);
		free(s->failed_peer);
		free(s->reason);
		free(s);
	}
	addrlimit_free(unauths);
	unauths = NULL;
	xmpp_accept_again();
	free(domain);
	domain = NULL;
}
