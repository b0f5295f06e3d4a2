/*
 * libuv run from mmpd's libevent loop, and raft's transport on the
 * cluster port (DESIGN.md section 7). raft dials through the port, and
 * takes the raft channels it accepts through the acceptor this file
 * registers for CN_RAFT. Each raft channel is then a proxy between its
 * TLS bufferevent and our end of a socketpair, raft holding the other
 * end as a uv pipe. The proxy notes when bytes last came from each peer.
 * Callbacks into raft never run from inside a call it made.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "cluster/cluster.h"
#include "cluster/net.h"
#include "log.h"
#include "mmpd.h"
#include "xmalloc.h"

#define CUV_CLOSE	1000		/* runs to let libuv wind down */
#define CUV_PROXY_HIGH	(1024 * 1024)	/* then stop reading the source */

/* A raft channel: TLS on one side, raft's socketpair on the other. */
struct cuv_proxy {
	TAILQ_ENTRY(cuv_proxy)	 entry;
	struct bufferevent	*tls;
	struct bufferevent	*plain;
	uint64_t		 id;
	char			 peer[80];
	char			 ident[65];	/* its certificate's */
};

/* A raft connect request in flight; dial is NULL once cancelled. */
struct cuv_rconn {
	TAILQ_ENTRY(cuv_rconn)	 entry;
	struct raft_uv_connect	*req;
	struct cnet_dial	*dial;
	uint64_t		 id;
};

/* When bytes last came from a peer on a raft channel. */
struct cuv_heard {
	TAILQ_ENTRY(cuv_heard)	 entry;
	uint64_t		 id;
	int64_t			 ms;
};

static uv_loop_t		*cuv_loop;
static struct event		*cuv_io;
static struct event		*cuv_timer;
static struct event		*cuv_kick_ev;
static int			 cuv_running;

static TAILQ_HEAD(, cuv_proxy)	 cuv_proxies =
    TAILQ_HEAD_INITIALIZER(cuv_proxies);
static TAILQ_HEAD(, cuv_heard)	 cuv_heards =
    TAILQ_HEAD_INITIALIZER(cuv_heards);
static TAILQ_HEAD(, cuv_rconn)	 cuv_rconns =
    TAILQ_HEAD_INITIALIZER(cuv_rconns);

static struct raft_uv_transport	 cuv_raft;
static raft_uv_accept_cb	 cuv_raft_accept;
static raft_uv_transport_close_cb cuv_raft_close_cb;
static int			 cuv_raft_closing;
static struct event		*cuv_raft_ev;

static void	 cuv_run(evutil_socket_t, short, void *);
static int	 cuv_watchers(void);
static void	 cuv_close_walk(uv_handle_t *, void *);
static int	 cuv_proxy_new(struct bufferevent *, uint64_t, const char *,
		    const char *, uv_stream_t **);
static void	 cuv_proxy_free(struct cuv_proxy *);
static void	 cuv_proxies_free(void);
static int	 cuv_raft_take(struct bufferevent *,
		    const struct cnet_hello *, const char **);
static void	 cuv_proxy_read(struct bufferevent *, void *);
static void	 cuv_proxy_write(struct bufferevent *, void *);
static void	 cuv_proxy_event(struct bufferevent *, short, void *);
static void	 cuv_heard_now(uint64_t);
static void	 cuv_raft_free_handle(uv_handle_t *);
static int	 cuv_raft_init(struct raft_uv_transport *, raft_id,
		    const char *);
static int	 cuv_raft_listen(struct raft_uv_transport *,
		    raft_uv_accept_cb);
static int	 cuv_raft_connect(struct raft_uv_transport *,
		    struct raft_uv_connect *, raft_id, const char *,
		    raft_uv_connect_cb);
static void	 cuv_raft_close(struct raft_uv_transport *,
		    raft_uv_transport_close_cb);
static void	 cuv_raft_dialled(struct bufferevent *,
		    const struct cnet_hello *, const char *, void *);
static void	 cuv_raft_deferred(evutil_socket_t, short, void *);

/* What the port does with accepted raft channels. */
static const struct cnet_taker	 cuv_taker = {
	cuv_raft_take, cuv_proxies_free
};

/*
 * libuv inside libevent
 */

/* Create the libuv loop and watch it from mmpd's event base. */
int
cnet_uv_init(void)
{
	int	 rv;

	cnet_set_taker(CN_RAFT, &cuv_taker);
	if (cuv_loop != NULL)
		return (0);
	cuv_loop = xcalloc(1, sizeof(*cuv_loop));
	if ((rv = uv_loop_init(cuv_loop)) != 0) {
		log_warnx("cnet_uv_init: uv_loop_init: %s", uv_strerror(rv));
		free(cuv_loop);
		cuv_loop = NULL;
		return (-1);
	}
	cuv_io = event_new(mmpd->base, uv_backend_fd(cuv_loop),
	    EV_READ | EV_PERSIST, cuv_run, NULL);
	cuv_timer = evtimer_new(mmpd->base, cuv_run, NULL);
	cuv_kick_ev = event_new(mmpd->base, -1, 0, cuv_run, NULL);
	if (cuv_io == NULL || cuv_timer == NULL || cuv_kick_ev == NULL)
		fatalx("cnet_uv_init: cannot make events");
	event_add(cuv_io, NULL);
	cnet_uv_kick();
	return (0);
}

/* The libuv loop (NULL before cnet_uv_init). */
struct uv_loop_s *
cnet_uv_loop(void)
{
	return (cuv_loop);
}

/* Run the libuv loop on the next turn (after calls into raft). */
void
cnet_uv_kick(void)
{
	if (cuv_kick_ev != NULL)
		event_active(cuv_kick_ev, EV_TIMEOUT, 0);
}

/*
 * libuv applies new watchers to its epoll set only inside uv_run, and
 * uv_backend_timeout() of libuv before 1.45 does not count them (libuv
 * issue 1565): a read started from a libuv callback would wait for the
 * next timer. Both layouts of the queue begin with its next pointer,
 * which points at the queue itself when it is empty.
 */
static int
cuv_watchers(void)
{
	void *const	*q = (void *const *)(void *)&cuv_loop->watcher_queue;

	return (q[0] != (const void *)q);
}

/* The backend fd is readable, the timer fired or a kick: run libuv. */
static void
cuv_run(evutil_socket_t fd, short what, void *arg)
{
	struct timeval	 tv;
	int		 ms;

	(void)fd;
	(void)what;
	(void)arg;
	if (cuv_loop == NULL)
		return;
	cuv_running = 1;
	uv_run(cuv_loop, UV_RUN_NOWAIT);
	cuv_running = 0;
	/*
	 * A loop with nothing alive (no cluster here) has nothing to wait
	 * for, though uv_backend_timeout() says 0 and libuv's own wake-up
	 * watcher stays queued: no timer then, or we would spin. Whatever
	 * starts work in it kicks us.
	 */
	if (!uv_loop_alive(cuv_loop))
		ms = -1;
	else
		ms = cuv_watchers() ? 0 : uv_backend_timeout(cuv_loop);
	if (ms < 0) {
		evtimer_del(cuv_timer);
		return;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(cuv_timer, &tv);
}

/* Close a handle that is left at the end. */
static void
cuv_close_walk(uv_handle_t *h, void *arg)
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
	struct cuv_rconn	*rc;
	struct cuv_heard	*hd;
	int			 i;

	if (cuv_running)
		fatalx("cnet_uv_free: called from a libuv callback");
	cnet_stop();
	cnet_dials_free();
	while ((rc = TAILQ_FIRST(&cuv_rconns)) != NULL) {
		TAILQ_REMOVE(&cuv_rconns, rc, entry);
		free(rc);
	}
	while ((hd = TAILQ_FIRST(&cuv_heards)) != NULL) {
		TAILQ_REMOVE(&cuv_heards, hd, entry);
		free(hd);
	}
	if (cuv_raft_ev != NULL) {
		event_free(cuv_raft_ev);
		cuv_raft_ev = NULL;
	}
	cuv_raft_accept = NULL;
	cuv_raft_close_cb = NULL;
	if (cuv_loop == NULL)
		return;
	event_free(cuv_io);
	event_free(cuv_timer);
	event_free(cuv_kick_ev);
	cuv_io = cuv_timer = cuv_kick_ev = NULL;
	uv_walk(cuv_loop, cuv_close_walk, NULL);
	for (i = 0; i < CUV_CLOSE; i++) {
		uv_run(cuv_loop, UV_RUN_NOWAIT);
		if (uv_loop_close(cuv_loop) == 0)
			break;
		usleep(1000);	/* thread-pool work still finishing */
	}
	if (i == CUV_CLOSE) {
		log_warnx("cnet_uv_free: libuv loop still busy, left open");
		cuv_loop = NULL;
		return;
	}
	free(cuv_loop);
	cuv_loop = NULL;
}

/*
 * Raft channels and when peers were last heard
 */

/*
 * Join tls to a new socketpair: *stream gets raft's end as a uv pipe
 * (raft_malloc'd, since raft frees the handles it is given), a proxy
 * takes tls and our end. -1 with tls untouched on failure.
 */
static int
cuv_proxy_new(struct bufferevent *tls, uint64_t id, const char *peer,
    const char *ident, uv_stream_t **stream)
{
	struct cuv_proxy	*px;
	struct bufferevent	*plain;
	uv_pipe_t		*p;
	int			 fds[2], rv;

	if (cuv_loop == NULL) {
		log_warnx("cuv_proxy_new: no libuv loop");
		return (-1);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, fds) == -1) {
		log_warn("cuv_proxy_new: socketpair");
		return (-1);
	}
	if ((p = raft_malloc(sizeof(*p))) == NULL)
		fatalx("cuv_proxy_new: out of memory");
	uv_pipe_init(cuv_loop, p, 0);
	if ((rv = uv_pipe_open(p, fds[0])) != 0) {
		log_warnx("cuv_proxy_new: uv_pipe_open: %s", uv_strerror(rv));
		uv_close((uv_handle_t *)p, cuv_raft_free_handle);
		close(fds[0]);
		close(fds[1]);
		return (-1);
	}
	plain = bufferevent_socket_new(mmpd->base, fds[1],
	    BEV_OPT_CLOSE_ON_FREE);
	if (plain == NULL) {
		log_warnx("cuv_proxy_new: no bufferevent");
		uv_close((uv_handle_t *)p, cuv_raft_free_handle);
		close(fds[1]);
		return (-1);
	}
	px = xcalloc(1, sizeof(*px));
	px->tls = tls;
	px->plain = plain;
	px->id = id;
	strlcpy(px->peer, peer, sizeof(px->peer));
	strlcpy(px->ident, ident, sizeof(px->ident));
	TAILQ_INSERT_TAIL(&cuv_proxies, px, entry);
	bufferevent_setcb(tls, cuv_proxy_read, cuv_proxy_write,
	    cuv_proxy_event, px);
	bufferevent_setcb(plain, cuv_proxy_read, cuv_proxy_write,
	    cuv_proxy_event, px);
	bufferevent_setwatermark(tls, EV_WRITE, CUV_PROXY_HIGH / 2, 0);
	bufferevent_setwatermark(plain, EV_WRITE, CUV_PROXY_HIGH / 2, 0);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
	bufferevent_enable(plain, EV_READ | EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_input(tls)) > 0)
		cuv_proxy_read(tls, px);
	*stream = (uv_stream_t *)p;
	return (0);
}

/* Close both sides of a raft channel; raft sees EOF on its end. */
static void
cuv_proxy_free(struct cuv_proxy *px)
{
	TAILQ_REMOVE(&cuv_proxies, px, entry);
	bufferevent_free(px->tls);
	bufferevent_free(px->plain);
	free(px);
}

/*
 * Close the raft channels, dialled or accepted, of a peer that is no
 * longer the member it was (removed, or its pin changed).
 */
void
cnet_uv_recheck(void)
{
	struct cuv_proxy	*px, *next;

	TAILQ_FOREACH_SAFE(px, &cuv_proxies, entry, next) {
		if (cluster_peer_member(px->id, px->peer, px->ident) != 0)
			continue;
		log_info("cluster: raft channel with node %016llx at %s "
		    "closed: no longer a member with that certificate",
		    (unsigned long long)px->id, px->peer);
		cuv_proxy_free(px);
	}
}

/* Close every raft channel (the port is closing). */
static void
cuv_proxies_free(void)
{
	struct cuv_proxy	*px;

	while ((px = TAILQ_FIRST(&cuv_proxies)) != NULL)
		cuv_proxy_free(px);
}

/* Move what one side read to the other; pause it if that backs up. */
static void
cuv_proxy_read(struct bufferevent *bev, void *arg)
{
	struct cuv_proxy	*px = arg;
	struct bufferevent	*to;
	struct evbuffer		*out;

	if (bev == px->tls) {
		to = px->plain;
		cuv_heard_now(px->id);
	} else
		to = px->tls;
	out = bufferevent_get_output(to);
	evbuffer_add_buffer(out, bufferevent_get_input(bev));
	if (evbuffer_get_length(out) >= CUV_PROXY_HIGH)
		bufferevent_disable(bev, EV_READ);
}

/* One side's output drained below half: read the other side again. */
static void
cuv_proxy_write(struct bufferevent *bev, void *arg)
{
	struct cuv_proxy	*px = arg;

	bufferevent_enable(bev == px->tls ? px->plain : px->tls, EV_READ);
}

/* EOF or an error on either side closes the channel. */
static void
cuv_proxy_event(struct bufferevent *bev, short what, void *arg)
{
	struct cuv_proxy	*px = arg;

	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	cnet_tls_clear(px->tls);
	log_debug("cluster: raft channel with node %016llx at %s closed by "
	    "%s", (unsigned long long)px->id, px->peer, bev == px->tls ?
	    "the peer" : "raft");
	cuv_proxy_free(px);
}

/* When bytes last came from node id on a raft channel, -1 if never. */
int64_t
cnet_last_heard(uint64_t id)
{
	struct cuv_heard	*hd;

	TAILQ_FOREACH(hd, &cuv_heards, entry) {
		if (hd->id == id)
			return (hd->ms);
	}
	return (-1);
}

/* Bytes came from node id. */
static void
cuv_heard_now(uint64_t id)
{
	struct cuv_heard	*hd;

	TAILQ_FOREACH(hd, &cuv_heards, entry) {
		if (hd->id == id)
			break;
	}
	if (hd == NULL) {
		hd = xcalloc(1, sizeof(*hd));
		hd->id = id;
		TAILQ_INSERT_TAIL(&cuv_heards, hd, entry);
	}
	hd->ms = cnet_now_ms();
}

/* uv_close callback for a pipe raft never got. */
static void
cuv_raft_free_handle(uv_handle_t *h)
{
	raft_free(h);
}

/* raft's transport on the cluster port. */
struct raft_uv_transport *
cnet_transport(void)
{
	cuv_raft.version = 1;
	cuv_raft.init = cuv_raft_init;
	cuv_raft.listen = cuv_raft_listen;
	cuv_raft.connect = cuv_raft_connect;
	cuv_raft.close = cuv_raft_close;
	return (&cuv_raft);
}

/* raft starts: its id is the one our hellos carry. */
static int
cuv_raft_init(struct raft_uv_transport *t, raft_id id, const char *address)
{
	(void)t;
	(void)address;
	cuv_raft_closing = 0;
	if (id != 0)
		cnet_set_id(id);
	return (0);
}

/* raft takes incoming raft channels from now on. */
static int
cuv_raft_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
	(void)t;
	cuv_raft_accept = cb;
	return (0);
}

/*
 * The port accepted a raft channel from node h->id at h->addr: proxy
 * bev to a socketpair and give raft its end. -1 with *why, bev
 * untouched, while raft takes no channels or the proxy cannot be made.
 */
static int
cuv_raft_take(struct bufferevent *bev, const struct cnet_hello *h,
    const char **why)
{
	uv_stream_t	*stream;

	if (cuv_raft_accept == NULL || cuv_raft_closing) {
		*why = "raft is not running on this node";
		return (-1);
	}
	if (cuv_proxy_new(bev, h->id, h->addr, h->ident, &stream) == -1) {
		*why = "cannot set up a raft channel";
		return (-1);
	}
	log_debug("cluster: raft channel from node %016llx at %s",
	    (unsigned long long)h->id, h->addr);
	cuv_raft_accept(&cuv_raft, h->id, h->addr, stream);
	cnet_uv_kick();
	return (0);
}

/* raft wants a channel to node id at address; cb runs later. */
static int
cuv_raft_connect(struct raft_uv_transport *t, struct raft_uv_connect *req,
    raft_id id, const char *address, raft_uv_connect_cb cb)
{
	struct cuv_rconn	*rc;

	(void)t;
	if (cuv_raft_closing)
		return (RAFT_NOCONNECTION);
	rc = xcalloc(1, sizeof(*rc));
	rc->req = req;
	rc->id = id;
	req->cb = cb;
	TAILQ_INSERT_TAIL(&cuv_rconns, rc, entry);
	rc->dial = cnet_dial(address, CN_RAFT, cuv_raft_dialled, rc);
	return (0);
}

/* A raft dial ended: give raft its end of a socketpair, or a failure. */
static void
cuv_raft_dialled(struct bufferevent *bev, const struct cnet_hello *h,
    const char *cause, void *arg)
{
	struct cuv_rconn	*rc = arg;
	struct raft_uv_connect	*req = rc->req;
	uv_stream_t		*stream = NULL;
	int			 status = RAFT_NOCONNECTION;

	TAILQ_REMOVE(&cuv_rconns, rc, entry);
	if (bev == NULL)
		log_debug("cluster: raft to node %016llx: %s",
		    (unsigned long long)rc->id, cause);
	else if (h->id != rc->id) {
		cnet_warn(h->addr, "id", "cluster: %s answers as node %016llx, "
		    "raft wants node %016llx there", h->addr,
		    (unsigned long long)h->id, (unsigned long long)rc->id);
		bufferevent_free(bev);
	} else if (cuv_proxy_new(bev, rc->id, h->addr, h->ident,
	    &stream) == -1)
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
cuv_raft_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
	struct cuv_rconn	*rc;

	(void)t;
	cuv_raft_accept = NULL;
	cuv_raft_closing = 1;
	TAILQ_FOREACH(rc, &cuv_rconns, entry) {
		cnet_dial_cancel(rc->dial);
		rc->dial = NULL;
	}
	cuv_raft_close_cb = cb;
	if (cuv_raft_ev == NULL &&
	    (cuv_raft_ev = event_new(mmpd->base, -1, 0, cuv_raft_deferred,
	    NULL)) == NULL)
		fatalx("cuv_raft_close: event_new failed");
	event_active(cuv_raft_ev, EV_TIMEOUT, 0);
}

/* The transport's close, outside raft's call. */
static void
cuv_raft_deferred(evutil_socket_t fd, short what, void *arg)
{
	struct cuv_rconn		*rc;
	struct raft_uv_connect		*req;
	raft_uv_transport_close_cb	 cb;

	(void)fd;
	(void)what;
	(void)arg;
	while ((rc = TAILQ_FIRST(&cuv_rconns)) != NULL) {
		TAILQ_REMOVE(&cuv_rconns, rc, entry);
		req = rc->req;
		cnet_dial_cancel(rc->dial);
		free(rc);
		req->cb(req, NULL, RAFT_CANCELED);
	}
	if ((cb = cuv_raft_close_cb) != NULL) {
		cuv_raft_close_cb = NULL;
		cb(&cuv_raft);
	}
	cnet_uv_kick();
}
