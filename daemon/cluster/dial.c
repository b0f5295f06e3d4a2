/*
 * Channels of the cluster port in their handshake, dialled or accepted:
 * TLS, then the hello line and its answer (DESIGN.md section 7), with a
 * deadline; and dialling, from our cluster address. An accepted channel's
 * hello is judged in net.c; a dialled channel's answer here, and its
 * owner's callback runs on a later loop turn than cnet_dial, never from
 * inside it.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "cluster/cluster.h"
#include "cluster/net.h"
#include "log.h"
#include "mmpd.h"
#include "tls.h"
#include "xmalloc.h"

#define CNET_HELLO_MAX	512

static TAILQ_HEAD(, cnet_dial)	 cnet_dials =
    TAILQ_HEAD_INITIALIZER(cnet_dials);

static void	 cnet_dial_connected(evutil_socket_t, short, void *);
static void	 cnet_dial_timer(evutil_socket_t, short, void *);
static void	 cnet_dial_finish(struct cnet_dial *, struct bufferevent *,
		    const struct cnet_hello *, char *);
static void	 cnet_hs_read(struct bufferevent *, void *);
static int	 cnet_hs_input(struct cnet_dial *);
static void	 cnet_hs_answer(struct cnet_dial *, char *);

/*
 * A new channel to or from peer (ip:port, for messages), listed, with its
 * timer and no descriptor yet; cnet_dial_free frees it.
 */
struct cnet_dial *
cnet_dial_new(const char *peer)
{
	struct cnet_dial	*d;

	d = xcalloc(1, sizeof(*d));
	d->fd = -1;
	strlcpy(d->peer, peer, sizeof(d->peer));
	if ((d->timer = evtimer_new(mmpd->base, cnet_dial_timer, d)) == NULL)
		fatalx("cnet_dial_new: evtimer_new failed");
	TAILQ_INSERT_TAIL(&cnet_dials, d, entry);
	return (d);
}

/*
 * Open a channel of a kind to addr ("ip:port" or "[v6]:port") from our
 * address: cb gets the TLS bufferevent and the peer's hello, or a cause.
 * cb never runs before cnet_dial returns; the handle is gone after cb.
 */
struct cnet_dial *
cnet_dial(const char *addr, int kind, cnet_dial_cb cb, void *arg)
{
	struct cnet_dial	*d;
	struct sockaddr_storage	 ss, bind_ss;
	struct timeval		 tv = { CNET_SECS, 0 };
	socklen_t		 len, bind_len;
	char			*cause;
	int			 on = 1;

	d = cnet_dial_new(addr);
	d->kind = kind;
	d->cb = cb;
	d->arg = arg;

	if (kind != CN_RAFT && kind != CN_FWD && kind != CN_REQ) {
		xasprintf(&cause, "%s: bad channel kind %d", addr, kind);
		goto fail;
	}
	if (!cnet_tls_ready() || cnet_bind_addr(&bind_ss, &bind_len) == -1) {
		xasprintf(&cause, "%s: the cluster port is not open", addr);
		goto fail;
	}
	if (cnet_parse_addr(addr, &ss, &len) == -1) {
		xasprintf(&cause, "%s is not an ip:port address", addr);
		goto fail;
	}
	if (ss.ss_family != bind_ss.ss_family) {
		xasprintf(&cause, "%s cannot be reached from %s", addr,
		    cnet_local_addr());
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
	if (bind(d->fd, (struct sockaddr *)&bind_ss, bind_len) == -1) {
		xasprintf(&cause, "connect %s: bind to %s: %s", addr,
		    cnet_local_addr(), strerror(errno));
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
void
cnet_dial_free(struct cnet_dial *d)
{
	TAILQ_REMOVE(&cnet_dials, d, entry);
	if (d->incoming)
		cnet_pending_release(d->key, d->pooled);
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
 * The port closes: accepted channels in their handshake are freed, and
 * dials fail on the next turn with "cluster port closed".
 */
void
cnet_dials_stop(void)
{
	struct cnet_dial	*d, *t;

	TAILQ_FOREACH_SAFE(d, &cnet_dials, entry, t) {
		if (d->incoming)
			cnet_dial_free(d);
		else if (d->state != CD_FAILED)
			cnet_dial_defer(d, xstrdup("cluster port closed"));
	}
}

/* Free every channel in its handshake; no dial's callback runs. */
void
cnet_dials_clear(void)
{
	struct cnet_dial	*d;

	while ((d = TAILQ_FIRST(&cnet_dials)) != NULL)
		cnet_dial_free(d);
}

/* The oldest accepted channel in the pool from an address key, or NULL. */
struct cnet_dial *
cnet_dial_pooled(const char *key)
{
	struct cnet_dial	*d;

	TAILQ_FOREACH(d, &cnet_dials, entry)
		if (d->pooled && strcmp(d->key, key) == 0)
			return (d);
	return (NULL);
}

/* Put TLS on d->fd (accepting or connecting) and wait for the hello. */
int
cnet_dial_tls(struct cnet_dial *d)
{
	if ((d->bev = cnet_tls_bev(d->fd, d->incoming, d->peer)) == NULL)
		return (-1);
	d->fd = -1;
	d->state = CD_TLS;
	bufferevent_setcb(d->bev, cnet_hs_read, NULL, cnet_hs_event, d);
	bufferevent_enable(d->bev, EV_READ | EV_WRITE);
	return (0);
}

/* Fail a dial on the next loop turn with cause (taken over). */
void
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
	if (cnet_dial_tls(d) == -1) {
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

/* TLS is up, an error, or EOF. */
void
cnet_hs_event(struct bufferevent *bev, short what, void *arg)
{
	struct cnet_dial	*d = arg;
	const char		*dom;
	char			 why[256], detail[256], *cause;
	int			 err = EVUTIL_SOCKET_ERROR(), tls, alert;

	if (what & BEV_EVENT_CONNECTED) {
		d->state = CD_HELLO;
		log_debug("cluster: TLS %s %s established", d->incoming ?
		    "from" : "with", d->peer);
		if (d->incoming)
			return;
		dom = cnet_domain();
		evbuffer_add_printf(bufferevent_get_output(bev),
		    "%s %s %016llx %s %s\n", CNET_MAGIC,
		    cnet_kind_name(d->kind), (unsigned long long)cnet_node_id(),
		    cnet_local_addr(), *dom != '\0' ? dom : "-");
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
	if (cnet_peer_ident(d->bev, h.ident, sizeof(h.ident), why,
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
