/*
 * One XMPP stream over TCP: the parser, STARTTLS, stream headers and
 * errors, input shaping, closing (its bytes on the socket are xio.c's). Connections are never freed from inside their own
 * callbacks: xconn_close marks them, and a reaper event frees them once
 * their last bytes are written. These are the operations (struct
 * xconn_ops) of a local stream; conn.c dispatches to them.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/tree.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include <openssl/rand.h>

#include "log.h"
#include "mmpd.h"
#include "reaper.h"
#include "tls.h"
#include "xml/xml.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "xmpp/xmpp_int.h"
#include "xmpp/sasl.h"

#define XCONN_CHUNK		16384
#define XCONN_DRAIN_SECS	5
#define XCONN_EXIT_MSECS	2000	/* for the last bytes at exit */

/*
 * Input shaping of an account: one bucket shared by all its streams,
 * as long as one of them holds it (refs).
 */
struct xshape_acct {
	RB_ENTRY(xshape_acct)	 entry;
	char			*bare;
	int			 refs;
	int64_t			 tokens;
	uint64_t		 tokens_at;
};
static int	xshape_acct_cmp(struct xshape_acct *, struct xshape_acct *);
RB_HEAD(xshape_accts, xshape_acct);
RB_PROTOTYPE(xshape_accts, xshape_acct, entry, xshape_acct_cmp);
RB_GENERATE(xshape_accts, xshape_acct, entry, xshape_acct_cmp);
static struct xshape_accts	 xshape_accts = RB_INITIALIZER(&xshape_accts);

static struct xconn_list xconns = TAILQ_HEAD_INITIALIZER(xconns);
static struct xconn_list graveyard = TAILQ_HEAD_INITIALIZER(graveyard);
static struct reaper	*reaper;
static struct event	*idle_ev;

static void	 xconn_read(void *, const char *, size_t);
static void	 xconn_write(void *);
static void	 xconn_event(void *, int, const char *);
static void	 xconn_timeout(evutil_socket_t, short, void *);
static void	 xconn_reap(void *);
static void	 xconn_bury(struct xconn *);
static void	 xconn_upgrade(struct xconn *);
static void	 xconn_drained(evutil_socket_t, short, void *);
static size_t	 xconn_unsent(struct xconn *);
static uint64_t	 xconn_done(struct xconn *);
static void	 xconn_tick(evutil_socket_t, short, void *);
static void	 xconn_idle_sweep(evutil_socket_t, short, void *);
static int	 xconn_idle(struct xconn *);
static uint64_t	 xconn_shape_now(void);
static void	 xconn_shape_take(struct xconn *, size_t);
static uint64_t	 xconn_shape_bucket(int64_t *, uint64_t *, uint64_t, size_t,
		    int64_t, int64_t);
static void	 xconn_shape_unaccount(struct xconn *);
static void	 xconn_shape_refill(evutil_socket_t, short, void *);
static void	 stream_send(struct xconn *, const struct xnode *);
static void	 stream_send_raw(struct xconn *, const char *);
static void	 stream_error(struct xconn *, const char *, const char *);
static void	 stream_close(struct xconn *);
static void	 xp_stream_start(void *, const char *, const char *,
		    const char *, const char **);
static void	 xp_stanza(void *, struct xnode *);
static void	 xp_stream_end(void *);
static void	 xp_error(void *, int, const char *);

static const struct xparser_cb xconn_parser_cb = {
	xp_stream_start, xp_stanza, xp_stream_end, xp_error
};

static const struct xio_cb xconn_io_cb = {
	xconn_read, xconn_write, xconn_event
};

static const struct xconn_ops stream_ops = {
	stream_send, stream_error, stream_close, stream_send_raw
};

/* A fresh, unpredictable stream id (RFC 6120 section 4.7.3). */
void
xconn_new_streamid(struct xconn *c)
{
	unsigned char	 r[16];
	size_t		 i;

	if (RAND_bytes(r, sizeof(r)) != 1)
		fatalx("xconn_new_streamid: no randomness");
	for (i = 0; i < sizeof(r); i++)
		snprintf(c->streamid + 2 * i, 3, "%02x", r[i]);
}

/*
 * A new stream on an accepted socket; tls says the peer started with a
 * TLS handshake (direct TLS). NULL (and the socket closed) on failure.
 */
struct xconn *
xconn_new(int kind, int fd, const char *addr, const char *peer, int tls)
{
	struct xconn	*c;
	struct timeval	 tv = { XMPP_AUTH_TIMEOUT, 0 };
	SSL		*ssl = NULL;

	c = xcalloc(1, sizeof(*c));
	c->kind = kind;
	c->ns = kind == XC_CLIENT ? NS_CLIENT : NS_COMPONENT;
	c->state = XS_HEADER;
	c->ops = &stream_ops;
	if (tls && (ssl = tls_server_new()) == NULL) {
		close(fd);
		free(c);
		return (NULL);
	}
	if ((c->io = xio_new(fd, ssl, &xconn_io_cb, c)) == NULL) {
		log_warnx("xconn_new: %s: no stream", peer);
		free(c);
		return (NULL);
	}
	xconn_set_peer(c, addr, peer);
	c->tls = tls != 0;
	c->parser = xparser_new(&xconn_parser_cb, c);
	xconn_limits(c, XMPP_STANZA_PREAUTH);
	c->timer = evtimer_new(mmpd->base, xconn_timeout, c);
	evtimer_add(c->timer, &tv);
	c->tokens = XMPP_SHAPE_BURST;
	c->tokens_at = xconn_shape_now();
	c->unauth_counted = 1;
	TAILQ_INSERT_TAIL(&xconns, c, entry);
	if (idle_ev == NULL) {
		idle_ev = event_new(mmpd->base, -1, EV_PERSIST,
		    xconn_idle_sweep, NULL);
		tv.tv_sec = XMPP_IDLE_SECS;
		evtimer_add(idle_ev, &tv);
	}
	log_debug("xconn_new: %s stream from %s%s", kind == XC_CLIENT ?
	    "client" : "component", peer, tls ? " (direct TLS)" : "");
	return (c);
}

/*
 * Stop parsing a stream's input for a reason (XCONN_HOLD_*): the stream
 * stops reading its socket after the bytes in hand, what arrives
 * meanwhile waits in the kernel, and TCP pushes back on the sender.
 */
void
xconn_hold(struct xconn *c, int why)
{
	c->hold |= why;
	if (c->io != NULL)
		xio_pause(c->io);
}

/*
 * The reason to hold is gone: read and parse what waited, if nothing else
 * holds. Not here and now but from the loop: the caller may be inside
 * this stream's parser (a derivation that could not start answers from
 * within <auth>), which must not be entered again.
 */
void
xconn_release(struct xconn *c, int why)
{
	c->hold &= ~why;
	if (c->hold == 0 && !c->closing && c->io != NULL)
		xio_resume(c->io);
}

/* Milliseconds on the monotonic clock. */
static uint64_t
xconn_shape_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* Order account buckets by bare JID. */
static int
xshape_acct_cmp(struct xshape_acct *a, struct xshape_acct *b)
{
	return (strcmp(a->bare, b->bare));
}

/*
 * The stream authenticated as c->bare: from now on it takes from its
 * account's bucket as well as its own.
 */
void
xconn_shape_account(struct xconn *c)
{
	struct xshape_acct	 key, *a;

	if (c->kind != XC_CLIENT || c->bare == NULL || c->acct != NULL)
		return;
	key.bare = c->bare;
	if ((a = RB_FIND(xshape_accts, &xshape_accts, &key)) == NULL) {
		a = xcalloc(1, sizeof(*a));
		a->bare = xstrdup(c->bare);
		a->tokens = XMPP_SHAPE_ACCT_BURST;
		a->tokens_at = xconn_shape_now();
		RB_INSERT(xshape_accts, &xshape_accts, a);
	}
	a->refs++;
	c->acct = a;
}

/* The stream goes: the account's bucket goes with its last stream. */
static void
xconn_shape_unaccount(struct xconn *c)
{
	struct xshape_acct	*a = c->acct;

	if (a == NULL)
		return;
	c->acct = NULL;
	if (--a->refs > 0)
		return;
	RB_REMOVE(xshape_accts, &xshape_accts, a);
	free(a->bare);
	free(a);
}

/*
 * Take n bytes from a bucket (*tokens as of *at) that refills at rate a
 * second up to burst: the milliseconds until it holds a chunk again if
 * it is empty now, else 0.
 */
static uint64_t
xconn_shape_bucket(int64_t *tokens, uint64_t *at, uint64_t now, size_t n,
    int64_t rate, int64_t burst)
{
	*tokens += (int64_t)((now - *at) * (uint64_t)rate / 1000);
	if (*tokens > burst)
		*tokens = burst;
	*at = now;
	*tokens -= (int64_t)n;
	if (*tokens > 0)
		return (0);
	return ((uint64_t)(XCONN_CHUNK - *tokens) * 1000 / (uint64_t)rate);
}

/*
 * Input shaping (token buckets): n bytes of a client stream were parsed.
 * The stream's own bucket refills at XMPP_SHAPE_RATE a second up to
 * XMPP_SHAPE_BURST; once authenticated, the stream also takes from its
 * account's bucket (XMPP_SHAPE_ACCT_RATE, XMPP_SHAPE_ACCT_BURST), which
 * all the account's streams share, so that many sessions of one account
 * are not many times the rate. Once a bucket is empty the stream is held
 * until it has refilled by a chunk. A flooding client so slows itself
 * down, not the streams it sends to. Components (call bridges we share a
 * secret with) are trusted peers and are not shaped; cluster links are
 * not streams of this file.
 */
static void
xconn_shape_take(struct xconn *c, size_t n)
{
	struct timeval	 tv;
	uint64_t	 now, ms, ams;

	if (c->kind != XC_CLIENT)
		return;
	now = xconn_shape_now();
	ms = xconn_shape_bucket(&c->tokens, &c->tokens_at, now, n,
	    XMPP_SHAPE_RATE, XMPP_SHAPE_BURST);
	if (c->acct != NULL) {
		ams = xconn_shape_bucket(&c->acct->tokens,
		    &c->acct->tokens_at, now, n, XMPP_SHAPE_ACCT_RATE,
		    XMPP_SHAPE_ACCT_BURST);
		if (ams > ms)
			ms = ams;
	}
	if (ms == 0)
		return;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (c->shape_ev == NULL)
		c->shape_ev = evtimer_new(mmpd->base, xconn_shape_refill, c);
	evtimer_add(c->shape_ev, &tv);
	xconn_hold(c, XCONN_HOLD_RATE);
}

/* The bucket has refilled: parse what waited. */
static void
xconn_shape_refill(evutil_socket_t fd, short what, void *arg)
{
	struct xconn	*c = arg;

	(void)fd;
	(void)what;
	xconn_release(c, XCONN_HOLD_RATE);
}

/* Set the stanza size limit (and the limits that go with it). */
void
xconn_limits(struct xconn *c, size_t bytes)
{
	xparser_set_limits(c->parser, bytes, 32, bytes > XMPP_STANZA_PREAUTH ?
	    20000 : 1000);
}

/* The time to authenticate ran out. */
static void
xconn_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct xconn	*c = arg;

	(void)fd;
	(void)what;
	if (c->closing)
		return;
	log_info("xconn_timeout: %s did not authenticate in %d seconds",
	    c->peer, XMPP_AUTH_TIMEOUT);
	xconn_error(c, "connection-timeout", NULL);
}

/*
 * Bytes arrived (at most a chunk): feed the parser, then upgrade to TLS
 * if asked to. Bytes of a closing stream, or plaintext after <starttls/>
 * (RFC 6120 5.4.3.3), are dropped.
 */
static void
xconn_read(void *arg, const char *buf, size_t len)
{
	struct xconn	*c = arg;

	if (c->closing || c->want_tls)
		return;
	c->busy = 1;
	xparser_feed(c->parser, buf, len);
	if (!c->hot)
		(void)xconn_idle(c);
	xconn_shape_take(c, len);
	if (c->want_tls && !c->closing)
		xconn_upgrade(c);
}

/* Bytes not yet handed to the kernel. */
static size_t
xconn_unsent(struct xconn *c)
{
	return (c->io != NULL ? xio_unsent(c->io) : 0);
}

/* Bytes of c's output written so far (all but what is unsent). */
static uint64_t
xconn_done(struct xconn *c)
{
	return (c->io != NULL ? xio_total(c->io) - xio_unsent(c->io) : 0);
}

/* Everything queued was written: a closing stream can go. */
static void
xconn_write(void *arg)
{
	struct xconn	*c = arg;

	if (c->closing && xconn_unsent(c) == 0)
		xconn_bury(c);
}

/* EOF, errors, and the end of a TLS handshake. */
static void
xconn_event(void *arg, int what, const char *why)
{
	struct xconn	*c = arg;

	if (what == XIO_CONNECTED) {
		log_debug("xconn_event: %s: TLS established", c->peer);
		return;
	}
	if (what == XIO_ERROR)
		log_debug("xconn_event: %s: %s: %s", c->peer,
		    c->tls ? "TLS" : "socket", why);
	log_debug("xconn_event: %s: connection closed", c->peer);
	/* A resumable SM session leaves c for a shell and waits there. */
	if (c->kind == XC_CLIENT && !c->closing)
		(void)sm_hibernate(c);
	xconn_close(c);
	xconn_bury(c);
}

/* Put the connection in the graveyard; the reaper frees it soon. */
static void
xconn_bury(struct xconn *c)
{
	if (c->dead)
		return;
	if (!c->closing)
		xconn_close(c);
	if (c->unsent != NULL && !mmpd->shutdown)
		xunsent_answer(c, xconn_done(c));
	c->dead = 1;
	TAILQ_REMOVE(&xconns, c, entry);
	TAILQ_INSERT_TAIL(&graveyard, c, entry);
	if (reaper == NULL)
		reaper = reaper_new(xconn_reap, NULL);
	reaper_soon(reaper);
}

/*
 * Give back what an idle stream need not hold: its parser's state between
 * stanzas, and the authentication timer once it has done its work.
 * Returns 1 if the parser was released.
 */
static int
xconn_idle(struct xconn *c)
{
	if (c->closing || c->parser == NULL)
		return (0);
	if (c->timer != NULL && !evtimer_pending(c->timer, NULL)) {
		event_free(c->timer);
		c->timer = NULL;
	}
	return (xparser_idle(c->parser));
}

/*
 * Every XMPP_IDLE_SECS: a stream that had no input since the last sweep
 * gives back what its parser holds between stanzas (xparser_idle; most of
 * an idle session's memory), to be rebuilt when input comes; one that
 * had none in the sweep before either (not hot) gives it back after each
 * read (xconn_read). A stream that keeps sending keeps its parser, and
 * does not pay for rebuilding it at every stanza. Likewise OpenSSL's
 * record buffers: a stream that reads often keeps them (xio_tick), an
 * idle one frees them whenever they are empty (xio_idle).
 */
static void
xconn_idle_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct xconn	*c;
	int		 n = 0;

	(void)fd;
	(void)what;
	(void)arg;
	TAILQ_FOREACH(c, &xconns, entry) {
		if (!c->busy) {
			n += xconn_idle(c);
			if (!c->closing && c->io != NULL) {
				xunsent_idle(c, xconn_done(c));
				xio_idle(c->io);
			}
		}
		if (c->io != NULL)
			xio_tick(c->io);
		c->hot = c->busy;
		c->busy = 0;
	}
	if (n == 0)
		return;
	log_debug("xconn_idle_sweep: %d idle streams released their parsers",
	    n);
#ifdef __GLIBC__
	/*
	 * glibc keeps freed memory inside its heap: hand the whole pages of
	 * it back to the kernel, or the resident size does not go down.
	 */
	malloc_trim(0);
#endif
}

/* Free every buried connection, outside all of their callbacks. */
static void
xconn_reap(void *arg)
{
	struct xconn	*c;

	(void)arg;
	while ((c = TAILQ_FIRST(&graveyard)) != NULL) {
		TAILQ_REMOVE(&graveyard, c, entry);
		xconn_free(c);
	}
}

/*
 * Free a connection and everything it holds (pseudo connections too:
 * they have no timer, socket, parser or SASL state).
 */
void
xconn_free(struct xconn *c)
{
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->shape_ev != NULL)
		event_free(c->shape_ev);
	xconn_shape_unaccount(c);
	xunsent_free(c);
	xio_free(c->io);
	xparser_free(c->parser);
	sasl_free(c->sasl);
	xnode_free(c->presence);
	if (c->sm != NULL)
		sm_closed(c);
	free(c->domain);
	free(c->local);
	free(c->resource);
	free(c->full);
	free(c->bare);
	free(c->cb);
	free(c->cdomain);
	free(c->peer);
	free(c);
}

/*
 * Close a stream: tell its protocol (router, presence), stop reading, and
 * let the output drain. Safe to call from any callback, more than once.
 */
static void
stream_close(struct xconn *c)
{
	struct timeval	 tv = { XCONN_DRAIN_SECS, 0 };

	if (c->closing)
		return;
	c->closing = 1;
	if (c->kind == XC_CLIENT)
		c2s_closed(c);
	else
		comp_closed(c);
	if (c->unauth_counted) {
		c->unauth_counted = 0;
		xmpp_unauth_done(c);
	}
	if (c->io != NULL)
		xio_pause(c->io);
	if (xconn_unsent(c) == 0) {
		xconn_bury(c);
		return;
	}
	/* A peer that does not read gets a few seconds, not for ever. */
	if (c->timer != NULL)
		event_free(c->timer);
	c->timer = evtimer_new(mmpd->base, xconn_drained, c);
	evtimer_add(c->timer, &tv);
}

/* The peer did not read what was left to send. */
static void
xconn_drained(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	xconn_bury(arg);
}

/* Send a stanza or other element (xconn_send has checked closing). */
static void
stream_send(struct xconn *c, const struct xnode *n)
{
	char	*s;
	size_t	 len;

	if (c->sm != NULL && sm_is_stanza(n)) {
		sm_send(c, n);		/* counted and kept there */
		return;
	}
	if (c->io == NULL)
		return;			/* a shell: no stream */
	s = xnode_string(n, &len);
	xio_write(c->io, s, len);
	free(s);
	xunsent_note(c, n, xio_total(c->io), xconn_done(c));
	if (xconn_unsent(c) > XMPP_MAX_OUTBUF) {
		log_warnx("xconn_send: %s reads too slowly, closing",
		    c->peer);
		/* No text: sending it would find the buffer full again. */
		xconn_error(c, "policy-violation", NULL);
	}
}

/* Send bytes we made ourselves (xconn_send_raw has checked closing). */
static void
stream_send_raw(struct xconn *c, const char *s)
{
	if (c->io != NULL)
		xio_write(c->io, s, strlen(s));
}

/*
 * A local client connection with no transport for c's account (same
 * domain, account, peer for logs), ready and on the list of streams:
 * where sm.c keeps a hibernating session. What it is sent is kept by
 * sm.c, raw bytes are dropped; closing it frees it soon.
 */
struct xconn *
xconn_shell(struct xconn *c)
{
	struct xconn	*h;

	h = xcalloc(1, sizeof(*h));
	h->kind = XC_CLIENT;
	h->ns = NS_CLIENT;
	h->state = XS_READY;
	h->ops = &stream_ops;
	xconn_set_peer(h, c->addr, c->peer);
	h->domain = xstrdup(c->domain);
	h->local = xstrdup(c->local);
	h->bare = xstrdup(c->bare);
	h->mech = c->mech;
	h->tls = 1;
	h->header_sent = 1;
	memcpy(h->streamid, c->streamid, sizeof(h->streamid));
	TAILQ_INSERT_TAIL(&xconns, h, entry);
	return (h);
}

/* Our stream header, from the given domain, once per stream. */
void
xconn_header(struct xconn *c, const char *from)
{
	char	*h;

	if (c->header_sent)
		return;
	if (c->streamid[0] == '\0')
		xconn_new_streamid(c);
	xasprintf(&h, "<?xml version='1.0'?><stream:stream xmlns='%s' "
	    "xmlns:stream='" NS_STREAMS "' id='%s'%s%s%s%s xml:lang='en'>",
	    c->ns, c->streamid, from ? " from='" : "", from ? from : "",
	    from ? "'" : "", c->kind == XC_CLIENT ? " version='1.0'" : "");
	xconn_send_raw(c, h);
	free(h);
	c->header_sent = 1;
}

/*
 * A stream error (RFC 6120 section 4.9): our header first if it was not
 * sent, the condition, an optional text, the end of the stream, close.
 */
static void
stream_error(struct xconn *c, const char *cond, const char *text)
{
	xconn_stream_error(c, cond, NULL, text, 1);
}

/*
 * A stream error on a local stream whose condition element may carry
 * content (see-other-host: the host:port to go to, RFC 6120 section
 * 4.9.3.19), logged unless quiet; then close.
 */
void
xconn_stream_error(struct xconn *c, const char *cond, const char *content,
    const char *text, int logged)
{
	struct xnode	*t, *e;
	char		*s;

	if (c->closing)
		return;
	if (logged)
		log_info("xconn_error: %s: %s%s%s%s%s", c->peer, cond,
		    content ? " " : "", content ? content : "",
		    text ? ": " : "", text ? text : "");
	xconn_header(c, c->domain ? c->domain : c->cdomain ? c->cdomain :
	    xmpp_domain());
	if (content == NULL) {
		xasprintf(&s, "<stream:error><%s xmlns='" NS_STREAM_ERR "'/>",
		    cond);
		xconn_send_raw(c, s);
		free(s);
	} else {
		xconn_send_raw(c, "<stream:error>");
		e = xnode_new(cond, NS_STREAM_ERR);
		xnode_add_text(e, content, strlen(content));
		xconn_send(c, e);
		xnode_free(e);
	}
	if (text != NULL) {
		t = xnode_new("text", NS_STREAM_ERR);
		xnode_add_text(t, text, strlen(text));
		xconn_send(c, t);
		xnode_free(t);
	}
	xconn_send_raw(c, "</stream:error></stream:stream>");
	xconn_close(c);
}

/*
 * Switch the stream to TLS after <proceed/>, which is handed to the
 * kernel first, on the same socket. Called from the read callback once
 * the parser has returned.
 */
static void
xconn_upgrade(struct xconn *c)
{
	SSL	*ssl;

	c->want_tls = 0;
	xio_push(c->io);
	if (xconn_unsent(c) > 0) {
		log_info("xconn_upgrade: %s does not read, closing", c->peer);
		xconn_close(c);
		return;
	}
	if ((ssl = tls_server_new()) == NULL ||
	    xio_starttls(c->io, ssl) == -1) {
		xconn_error(c, "internal-server-error", "no TLS");
		return;
	}
	c->tls = 1;
}

/*
 * STARTTLS (RFC 6120 section 5): answer <proceed/>, forget the stream,
 * and upgrade once the parser has returned.
 */
int
xconn_starttls(struct xconn *c)
{
	xconn_send_raw(c, "<proceed xmlns='" NS_TLS "'/>");
	c->want_tls = 1;
	c->state = XS_HEADER;
	c->header_sent = 0;
	c->streamid[0] = '\0';
	xparser_reset(c->parser);
	return (0);
}

/* The first of this node's streams (borrowed), or NULL if there are none. */
struct xconn *
xconn_first(void)
{
	return (TAILQ_FIRST(&xconns));
}

/* The stream after c on this node (borrowed), or NULL after the last. */
struct xconn *
xconn_next(struct xconn *c)
{
	return (TAILQ_NEXT(c, entry));
}

/*
 * Close every stream with a stream error (xmpp disable, shutdown), but
 * the SM sessions kept until exit (sm_keep_all). Closing one stream can
 * close others (presence to a slow reader), so we walk a copy of the
 * list: nothing is freed before the reaper runs.
 */
void
xconn_close_all(const char *cond)
{
	struct xconn	*c, **all;
	size_t		 n = 0, i;

	TAILQ_FOREACH(c, &xconns, entry)
		n++;
	if (n == 0)
		return;
	all = xreallocarray(NULL, n, sizeof(*all));
	n = 0;
	TAILQ_FOREACH(c, &xconns, entry)
		all[n++] = c;
	for (i = 0; i < n; i++)
		if (!sm_kept(all[i]))	/* kept until exit: sm_keep_all */
			xconn_error(all[i], cond, NULL);
	free(all);
}

/* Parser: the stream header. */
static void
xp_stream_start(void *arg, const char *name, const char *ns,
    const char *dflt, const char **attrs)
{
	struct xconn	*c = arg;

	(void)name;
	(void)ns;
	if (c->closing)
		return;
	if (dflt == NULL || strcmp(dflt, c->ns) != 0) {
		xconn_error(c, "invalid-namespace", dflt ? dflt :
		    "no default namespace");
		return;
	}
	if (xmpp_refused(c))
		return;
	if (c->kind == XC_CLIENT)
		c2s_stream_start(c, name, ns, attrs);
	else
		comp_stream_start(c, name, ns, attrs);
}

/* Parser: a complete stanza, ours to free. */
static void
xp_stanza(void *arg, struct xnode *n)
{
	struct xconn	*c = arg;

	if (c->closing) {
		xnode_free(n);
		return;
	}
	c->stanzas_in++;
	if (c->kind == XC_CLIENT)
		c2s_stanza(c, n);
	else
		comp_stanza(c, n);
}

/* Parser: </stream:stream>. */
static void
xp_stream_end(void *arg)
{
	struct xconn	*c = arg;

	if (c->closing)
		return;
	xconn_send_raw(c, "</stream:stream>");
	xconn_close(c);
}

/* Parser: the input broke a rule. */
static void
xp_error(void *arg, int code, const char *text)
{
	struct xconn	*c = arg;
	const char	*cond;

	switch (code) {
	case XP_RESTRICTED_XML:
		cond = "restricted-xml";
		break;
	case XP_POLICY:
		cond = "policy-violation";
		break;
	case XP_INVALID_NS:
		cond = "invalid-namespace";
		break;
	case XP_BAD_FORMAT:
		cond = "bad-format";
		break;
	default:
		cond = "not-well-formed";
		break;
	}
	xconn_error(c, cond, text);
}

/* <stream:features> with the children of f (f is not sent itself). */
void
xconn_features(struct xconn *c, struct xnode *f)
{
	struct xnode	*n;

	xconn_send_raw(c, "<stream:features>");
	for (n = xnode_first(f); n != NULL; n = xnode_next(n))
		xconn_send(c, n);
	xconn_send_raw(c, "</stream:features>");
}

/* Nothing to do: the timer only bounds a turn of the loop. */
static void
xconn_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/*
 * At exit: free every stream, closed or not, and the reaper. mmpd's loop
 * has ended, but the streams' last bytes (the system-shutdown error of
 * xmpp_stop) are still queued, so we run the loop here for a moment, until
 * every stream has drained and gone or the time is up.
 */
void
xconn_free_all(void)
{
	struct xconn	*c, *next;
	struct event	*tick;
	struct timeval	 tv;
	int		 ms;

	/* Sessions kept until exit (sm_keep_all) end now, silently. */
	for (c = TAILQ_FIRST(&xconns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (sm_kept(c) && !c->closing)
			xconn_close(c);
	}
	tick = evtimer_new(mmpd->base, xconn_tick, NULL);
	for (ms = 0; ms < XCONN_EXIT_MSECS && (!TAILQ_EMPTY(&xconns) ||
	    !TAILQ_EMPTY(&graveyard)); ms += 10) {
		tv.tv_sec = 0;
		tv.tv_usec = 10000;
		evtimer_add(tick, &tv);
		event_base_loop(mmpd->base, EVLOOP_ONCE);
	}
	event_free(tick);
	while ((c = TAILQ_FIRST(&xconns)) != NULL) {
		if (!c->closing)
			xconn_close(c);
		if (!c->dead)
			xconn_bury(c);
	}
	xconn_reap(NULL);
	reaper_free(reaper);
	reaper = NULL;
	if (idle_ev != NULL) {
		event_free(idle_ev);
		idle_ev = NULL;
	}
	event_base_loop(mmpd->base, EVLOOP_NONBLOCK);
}

/* The value of a stream header attribute, or NULL. */
const char *
xconn_attr(const char **attrs, const char *name)
{
	for (; attrs != NULL && attrs[0] != NULL; attrs += 2)
		if (strcmp(attrs[0], name) == 0)
			return (attrs[1]);
	return (NULL);
}
