/*
 * XEP-0198 stream management on client streams: the per-session state
 * (struct xsm), the counters, the queue of unacknowledged stanzas and its
 * bounds, the server's own ack requests, hibernation and its timer, and
 * resumption on this node.
 *
 * Every stanza written to an SM session goes through sm_send (stream.c's
 * send operation hands it here): the sm_divert hook may take it, else it
 * is serialised once, written if the stream is live, and the same bytes
 * are kept in the session's ring until the client acknowledges them; no
 * other allocation per stanza.
 *
 * A session whose stream breaks (EOF, a socket or TLS error) with resume
 * enabled hibernates: its session state moves to a shell connection with
 * no transport (xconn_shell), which stays bound and available and queues
 * what it is sent, for the resume time. A new stream that resumes takes
 * the session over from the shell (or from a live stream, whose transport
 * is closed without an unavailable presence): the state moves again, to
 * the new stream. A session that ends for good (a clean close, a stream
 * error, the queue over its bound, the resume time over) ends as any
 * session (unavailable presence); its unacknowledged stanzas are taken
 * out of it for smleft.c, which deals with them at the next turn of the
 * loop.
 *
 * Bounds beside each session's queue: an account keeps at most
 * XMPP_SM_HIB_ACCOUNT hibernating sessions (one more ends the oldest, as
 * on timeout: the newest is the one its client can still resume), and
 * when all sessions together keep more than XMPP_SM_BYTES_ALL bytes
 * unacknowledged, hibernating sessions end, the one keeping most first.
 */
#include <sys/types.h>
#include <sys/tree.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include <openssl/rand.h>

#include "log.h"
#include "mmpd.h"
#include "xml/xml.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "xmpp/xmpp_int.h"

#define SM_ID_BYTES	16	/* 128 bits from the CSPRNG, in hex */
#define SM_ID_MAX	64	/* the longest previd we look up */

/* A stream-managed session. */
struct xsm {
	RB_ENTRY(xsm)	 entry;		/* by id, once resumable */
	struct xconn	*c;		/* the session's connection */
	char		 id[SM_ID_MAX + 1];	/* ours: 2 * SM_ID_BYTES */
	uint32_t	 in;		/* stanzas handled from the client */
	uint32_t	 out;		/* stanzas sent to it */
	uint32_t	 acked;		/* ... and acknowledged by it */
	uint32_t	 req;		/* out at our last <r/> */
	uint32_t	 told;		/* our last <a h/>, <resumed h/> */
	uint64_t	 hibseq;	/* order of hibernation */
	int		 secs;		/* resume time */
	struct xsm_item	*q;		/* ring of acked+1 .. out */
	size_t		 qcap;		/* a power of two, or 0 */
	size_t		 qhead;		/* where acked+1 is */
	size_t		 qbytes;
	struct event	*ack_ev;	/* <r/> after XMPP_SM_ACK_MS */
	struct event	*hib_ev;	/* the end of hibernation */
	unsigned	 resume:1;	/* resumable (in the tree) */
	unsigned	 hibernating:1;
	unsigned	 pending:1;	/* a resume the layer above looks up */
	unsigned	 silent:1;	/* sm_drop: end without a word */
	unsigned	 kept:1;	/* sm_keep_all: hibernates until exit */
	unsigned	 behind:1;	/* told is below in: more to tell */
};

static int	 xsm_cmp(struct xsm *, struct xsm *);
RB_HEAD(xsms, xsm);
RB_PROTOTYPE(xsms, xsm, entry, xsm_cmp);
RB_GENERATE(xsms, xsm, entry, xsm_cmp);
static struct xsms	 xsms = RB_INITIALIZER(&xsms);
static int		 sm_nodivert;	/* the hook's own deliveries */
static size_t		 sm_allbytes;	/* kept by all sessions */
static uint64_t		 sm_hibseq;

static struct xsm	*sm_new(struct xconn *);
static void		 sm_free(struct xsm *);
static int		 sm_resume_secs(void);
static void		 sm_push(struct xsm *, char *, size_t);
static void		 sm_trim(struct xsm *, uint32_t);
static struct xsm_item	*sm_item(struct xsm *, uint32_t);
static void		 sm_request(struct xsm *);
static void		 sm_ack_timer(evutil_socket_t, short, void *);
static void		 sm_expire(evutil_socket_t, short, void *);
static void		 sm_failed(struct xconn *, const char *, int,
			    uint32_t);
static void		 sm_too_high(struct xconn *, uint32_t, uint32_t);
static void		 sm_enable(struct xconn *, struct xnode *);
static void		 sm_ack(struct xconn *, struct xnode *);
static void		 sm_resume(struct xconn *, struct xnode *);
static void		 sm_resend(struct xconn *);
static void		 sm_move(struct xconn *, struct xconn *);
static int		 sm_parse_u32(const char *, uint32_t *);
static void		 sm_leftovers(struct xconn *, struct xsm *);
static void		 sm_hib_bound(struct xconn *);
static void		 sm_bytes_bound(void);
static size_t		 sm_bytes_max(void);
static uint32_t		 sm_tell(struct xconn *);

/* Order sessions by id. */
static int
xsm_cmp(struct xsm *a, struct xsm *b)
{
	return (strcmp(a->id, b->id));
}

/*
 * The resume time: XMPP_SM_RESUME_SECS, or MMPD_SM_RESUME_SECS from the
 * environment (for tests only), read once.
 */
static int
sm_resume_secs(void)
{
	static int	 secs;
	const char	*e;
	long		 v;
	char		*end;

	if (secs != 0)
		return (secs);
	secs = XMPP_SM_RESUME_SECS;
	if ((e = getenv("MMPD_SM_RESUME_SECS")) != NULL) {
		errno = 0;
		v = strtol(e, &end, 10);
		if (errno == 0 && *end == '\0' && v > 0 &&
		    v <= XMPP_SM_RESUME_SECS) {
			secs = (int)v;
			log_info("sm: resume time %d seconds (from "
			    "MMPD_SM_RESUME_SECS)", secs);
		}
	}
	return (secs);
}

/* A new SM state for c (not resumable yet). */
static struct xsm *
sm_new(struct xconn *c)
{
	struct xsm	*sm;

	sm = xcalloc(1, sizeof(*sm));
	sm->c = c;
	sm->secs = sm_resume_secs();
	return (sm);
}

/* Free an SM state, its queue and timers, out of the tree. */
static void
sm_free(struct xsm *sm)
{
	if (sm == NULL)
		return;
	if (sm->resume)
		RB_REMOVE(xsms, &xsms, sm);
	sm_trim(sm, sm->out);
	free(sm->q);
	if (sm->ack_ev != NULL)
		event_free(sm->ack_ev);
	if (sm->hib_ev != NULL)
		event_free(sm->hib_ev);
	free(sm);
}

/* Whether n counts for SM: a message, presence or iq of the stream. */
int
sm_is_stanza(const struct xnode *n)
{
	const char	*name = xnode_name(n), *ns = xnode_ns(n);

	if (ns != NULL && strcmp(ns, NS_CLIENT) != 0)
		return (0);
	return (strcmp(name, "message") == 0 ||
	    strcmp(name, "presence") == 0 || strcmp(name, "iq") == 0);
}

/* The queued stanza numbered h (acked < h <= out). */
static struct xsm_item *
sm_item(struct xsm *sm, uint32_t h)
{
	uint32_t	 k = h - sm->acked - 1;

	return (&sm->q[(sm->qhead + k) & (sm->qcap - 1)]);
}

/* Keep the bytes s (ours now) as stanza out+1; the caller counts it. */
static void
sm_push(struct xsm *sm, char *s, size_t len)
{
	struct xsm_item	*nq;
	size_t		 n = (uint32_t)(sm->out - sm->acked), i, cap;

	if (n == sm->qcap) {
		cap = sm->qcap == 0 ? 16 : sm->qcap * 2;
		nq = xreallocarray(NULL, cap, sizeof(*nq));
		for (i = 0; i < n; i++)
			nq[i] = sm->q[(sm->qhead + i) & (sm->qcap - 1)];
		free(sm->q);
		sm->q = nq;
		sm->qcap = cap;
		sm->qhead = 0;
	}
	sm->q[(sm->qhead + n) & (sm->qcap - 1)].s = s;
	sm->q[(sm->qhead + n) & (sm->qcap - 1)].len = len;
	sm->qbytes += len;
	sm_allbytes += len;
}

/* Forget the queued stanzas up to h (acked <= h <= out); acked = h. */
static void
sm_trim(struct xsm *sm, uint32_t h)
{
	struct xsm_item	*it;

	while (sm->acked != h) {
		it = &sm->q[sm->qhead];
		sm->qbytes -= it->len;
		sm_allbytes -= it->len;
		free(it->s);
		it->s = NULL;
		sm->qhead = (sm->qhead + 1) & (sm->qcap - 1);
		sm->acked++;
	}
}

/*
 * Send a stanza (borrowed) to SM session c, live or hibernating: the one
 * place where what an SM session is sent is counted and kept. The layer
 * above may take it (sm_divert); past the queue's bounds the session ends.
 */
void
sm_send(struct xconn *c, const struct xnode *n)
{
	struct xsm	*sm = c->sm;
	struct timeval	 tv;
	char		*s;
	size_t		 len;
	uint32_t	 pending;

	if (!sm_nodivert && router_sm_divert(c, n))
		return;
	s = xnode_string(n, &len);
	if (c->io != NULL)
		xio_write(c->io, s, len);
	sm_push(sm, s, len);
	sm->out++;
	router_sm_sent(c, n, sm->out);
	if (c->sm != sm || c->closing)
		return;
	pending = sm->out - sm->acked;
	if (pending > XMPP_SM_QUEUE_MAX || sm->qbytes > XMPP_SM_QUEUE_BYTES) {
		log_warnx("sm_send: %s: %u stanzas (%zu bytes) not "
		    "acknowledged, ending the session", c->full, pending,
		    sm->qbytes);
		/* A stream error ends it: no hibernation, as on timeout. */
		xconn_error(c, "policy-violation", "too many unacknowledged "
		    "stanzas");
		return;
	}
	if (sm_allbytes > sm_bytes_max()) {
		sm_bytes_bound();
		if (c->sm != sm || c->closing)
			return;
	}
	if (c->io == NULL)
		return;
	if (xio_unsent(c->io) > XMPP_MAX_OUTBUF) {
		log_warnx("xconn_send: %s reads too slowly, closing",
		    c->peer);
		xconn_error(c, "policy-violation", NULL);
		return;
	}
	if ((uint32_t)(sm->out - sm->req) >= XMPP_SM_ACK_EVERY) {
		sm_request(sm);
		return;
	}
	if (!evtimer_pending(sm->ack_ev, NULL)) {
		tv.tv_sec = XMPP_SM_ACK_MS / 1000;
		tv.tv_usec = (XMPP_SM_ACK_MS % 1000) * 1000;
		evtimer_add(sm->ack_ev, &tv);
	}
}

/* Ask the client for an ack (<r/>), in the same write as the stanzas. */
static void
sm_request(struct xsm *sm)
{
	sm->req = sm->out;
	if (sm->ack_ev != NULL)
		evtimer_del(sm->ack_ev);
	xconn_send_raw(sm->c, "<r xmlns='" NS_SM "'/>");
}

/* XMPP_SM_ACK_MS after a stanza: ask for an ack if one is owed. */
static void
sm_ack_timer(evutil_socket_t fd, short what, void *arg)
{
	struct xsm	*sm = arg;

	(void)fd;
	(void)what;
	if (sm->c->io != NULL && !sm->c->closing && sm->out != sm->req &&
	    sm->out != sm->acked)
		sm_request(sm);
}

/* A stanza from the client of c was handled: count it. */
void
sm_handled(struct xconn *c)
{
	if (c->sm != NULL)
		c->sm->in++;
}

/* <failed> with a condition (stanza error namespace), h if has_h. */
static void
sm_failed(struct xconn *c, const char *cond, int has_h, uint32_t h)
{
	char	*s;

	if (has_h)
		xasprintf(&s, "<failed xmlns='" NS_SM "' h='%u'><%s xmlns='"
		    NS_STANZA_ERR "'/></failed>", h, cond);
	else
		xasprintf(&s, "<failed xmlns='" NS_SM "'><%s xmlns='"
		    NS_STANZA_ERR "'/></failed>", cond);
	xconn_send_raw(c, s);
	free(s);
}

/*
 * An h above what was sent (XEP-0198 section 4): the stream error
 * undefined-condition with <handled-count-too-high/>, then close.
 */
static void
sm_too_high(struct xconn *c, uint32_t h, uint32_t sent)
{
	const char	*text = "acknowledged more stanzas than were sent";
	char		*s;

	/* Modulo 2^32: nearer below what was acked than above what was sent. */
	if (c->sm != NULL && (uint32_t)(c->sm->acked - h) <
	    (uint32_t)(h - sent))
		text = "acknowledged fewer stanzas than were already "
		    "acknowledged";
	log_info("xconn_error: %s: undefined-condition: handled-count-too-high"
	    " h=%u send-count=%u", c->peer, h, sent);
	xconn_header(c, c->domain);
	xasprintf(&s, "<stream:error><undefined-condition xmlns='"
	    NS_STREAM_ERR "'/><handled-count-too-high xmlns='" NS_SM
	    "' h='%u' send-count='%u'/><text xmlns='" NS_STREAM_ERR
	    "'>%s</text></stream:error></stream:stream>", h, sent, text);
	xconn_send_raw(c, s);
	free(s);
	xconn_close(c);
}

/* A decimal 32-bit count; 0 or -1. */
static int
sm_parse_u32(const char *s, uint32_t *v)
{
	unsigned long long	 x;
	char			*end;

	if (s == NULL || *s < '0' || *s > '9')
		return (-1);
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || x > UINT32_MAX)
		return (-1);
	*v = (uint32_t)x;
	return (0);
}

/* <enable/>: after bind, once. */
static void
sm_enable(struct xconn *c, struct xnode *n)
{
	struct xsm	*sm;
	const char	*r = xnode_attr(n, "resume"), *max;
	unsigned char	 b[SM_ID_BYTES];
	uint32_t	 want;
	size_t		 i;
	char		*s;

	if (c->state != XS_READY || c->sm != NULL) {
		sm_failed(c, "unexpected-request", 0, 0);
		return;
	}
	sm = c->sm = sm_new(c);
	sm->ack_ev = evtimer_new(mmpd->base, sm_ack_timer, sm);
	max = xnode_attr(n, "max");
	if (max != NULL && sm_parse_u32(max, &want) == 0 && want > 0 &&
	    want < (uint32_t)sm->secs)
		sm->secs = (int)want;
	if (r == NULL || (strcmp(r, "true") != 0 && strcmp(r, "1") != 0)) {
		xconn_send_raw(c, "<enabled xmlns='" NS_SM "'/>");
		log_info("sm_enable: %s: stream management", c->full);
		return;
	}
	do {
		if (RAND_bytes(b, sizeof(b)) != 1)
			fatalx("sm_enable: no randomness");
		for (i = 0; i < sizeof(b); i++)
			snprintf(sm->id + 2 * i, 3, "%02x", b[i]);
	} while (RB_INSERT(xsms, &xsms, sm) != NULL);
	sm->resume = 1;
	xasprintf(&s, "<enabled xmlns='" NS_SM "' id='%s' resume='true' "
	    "max='%d'/>", sm->id, sm->secs);
	xconn_send_raw(c, s);
	free(s);
	log_info("sm_enable: %s: stream management, resumable for %d "
	    "seconds", c->full, sm->secs);
	router_sm_on(c);
}

/* <a h/>: the client has what we sent up to h; drop it from the queue. */
static void
sm_ack(struct xconn *c, struct xnode *n)
{
	struct xsm	*sm = c->sm;
	uint32_t	 h;

	if (sm_parse_u32(xnode_attr(n, "h"), &h) == -1) {
		xconn_error(c, "bad-format", "<a/> without a valid h");
		return;
	}
	if (!sm_h_valid(sm->acked, sm->out, h)) {
		sm_too_high(c, h, sm->out);
		return;
	}
	sm_trim(sm, h);
	router_sm_ack(c, h, sm->in);
}

/*
 * Move the session (resource, presence, SM state, its place in the
 * router) from one connection to another of the same account that has
 * none; from is left without a session and closes without a word.
 */
static void
sm_move(struct xconn *from, struct xconn *to)
{
	to->resource = from->resource;
	to->full = from->full;
	to->presence = from->presence;
	to->priority = from->priority;
	to->available = from->available;
	to->roster_wanted = from->roster_wanted;
	to->carbons = from->carbons;
	to->since = from->since;
	to->sm = from->sm;
	to->sm->c = to;
	to->state = XS_READY;
	router_rebind(from, to);
	from->resource = NULL;
	from->full = NULL;
	from->presence = NULL;
	from->available = 0;
	from->roster_wanted = 0;
	from->carbons = 0;
	from->sm = NULL;
	from->state = XS_BIND;
}

/*
 * c's stream broke (EOF, a socket or TLS error): a resumable session
 * hibernates in a shell connection and c closes without it. 1 if so.
 */
int
sm_hibernate(struct xconn *c)
{
	struct xsm	*sm = c->sm;
	struct xconn	*h;
	struct timeval	 tv;

	if (sm == NULL || !sm->resume || c->state != XS_READY ||
	    c->full == NULL || c->closing)
		return (0);
	h = xconn_shell(c);
	sm_move(c, h);
	sm->hibernating = 1;
	sm->hibseq = ++sm_hibseq;
	evtimer_del(sm->ack_ev);
	if (sm->hib_ev == NULL)
		sm->hib_ev = evtimer_new(mmpd->base, sm_expire, sm);
	tv.tv_sec = sm->secs;
	tv.tv_usec = 0;
	evtimer_add(sm->hib_ev, &tv);
	log_info("sm_hibernate: %s (%s): stream broke, %u stanzas "
	    "unacknowledged, resumable for %d seconds", h->full, c->peer,
	    (uint32_t)(sm->out - sm->acked), sm->secs);
	sm_hib_bound(h);
	return (1);
}

/*
 * More than XMPP_SM_HIB_ACCOUNT hibernating sessions of h's account (h
 * one of them): the oldest ends, as on timeout.
 */
static void
sm_hib_bound(struct xconn *h)
{
	struct xconn	**s, *old = NULL;
	int		 i, k, max, n = 0;

	max = router_sessions(h->bare, NULL, INT_MAX);
	s = xreallocarray(NULL, max > 0 ? max : 1, sizeof(*s));
	k = router_sessions(h->bare, s, max);
	for (i = 0; i < k; i++) {
		if (s[i]->closing || !sm_hibernating(s[i]))
			continue;
		n++;
		if (old == NULL || s[i]->sm->hibseq < old->sm->hibseq)
			old = s[i];
	}
	free(s);
	if (n <= XMPP_SM_HIB_ACCOUNT || old == NULL)
		return;
	log_info("sm_hibernate: %s: more than %d sessions hibernating, %s "
	    "ends", h->bare, XMPP_SM_HIB_ACCOUNT, old->full);
	xconn_close(old);
}

/*
 * The unacknowledged bytes of all sessions: XMPP_SM_BYTES_ALL, or
 * MMPD_SM_BYTES_ALL from the environment (for tests only, not above it),
 * read once.
 */
static size_t
sm_bytes_max(void)
{
	static size_t	 max;
	const char	*e;
	long long	 v;
	char		*end;

	if (max != 0)
		return (max);
	max = XMPP_SM_BYTES_ALL;
	if ((e = getenv("MMPD_SM_BYTES_ALL")) != NULL) {
		errno = 0;
		v = strtoll(e, &end, 10);
		if (errno == 0 && *end == '\0' && v > 0 &&
		    v <= XMPP_SM_BYTES_ALL) {
			max = (size_t)v;
			log_info("sm: %zu bytes unacknowledged in all (from "
			    "MMPD_SM_BYTES_ALL)", max);
		}
	}
	return (max);
}

/*
 * All sessions keep more than sm_bytes_max() bytes unacknowledged:
 * hibernating sessions end (as on timeout), the one keeping most first,
 * until under it or none is left. Their bytes go at once (sm_closed takes
 * them out of the count).
 */
static void
sm_bytes_bound(void)
{
	struct xconn	*c, *big;

	while (sm_allbytes > sm_bytes_max()) {
		big = NULL;
		for (c = xconn_first(); c != NULL; c = xconn_next(c))
			if (!c->closing && sm_hibernating(c) &&
			    (big == NULL || c->sm->qbytes > big->sm->qbytes))
				big = c;
		if (big == NULL)
			return;
		log_warnx("sm_send: %zu bytes unacknowledged in all, over "
		    "%zu: %s (%zu bytes, hibernating) ends", sm_allbytes,
		    sm_bytes_max(), big->full, big->sm->qbytes);
		xconn_close(big);
	}
}

/* The resume time of a hibernating session is over: it ends. */
static void
sm_expire(evutil_socket_t fd, short what, void *arg)
{
	struct xsm	*sm = arg;

	(void)fd;
	(void)what;
	log_info("sm_expire: %s was not resumed in %d seconds", sm->c->full,
	    sm->secs);
	xconn_close(sm->c);
}

/* Write the queued stanzas (after the client's h) to c's new stream. */
static void
sm_resend(struct xconn *c)
{
	struct xsm	*sm = c->sm;
	struct xsm_item	*it;
	uint32_t	 h;

	for (h = sm->acked + 1; h != sm->out + 1; h++) {
		it = sm_item(sm, h);
		xio_write(c->io, it->s, it->len);
	}
	if (sm->out != sm->acked)
		sm_request(sm);
}

/* <resume previd h/> on a stream authenticated but not bound. */
static void
sm_resume(struct xconn *c, struct xnode *n)
{
	struct xsm	 key, *sm;
	struct xconn	*old;
	const char	*previd = xnode_attr(n, "previd");
	uint32_t	 h;
	int		 live;
	char		*s;

	if (c->state != XS_BIND || c->sm != NULL) {
		sm_failed(c, "unexpected-request", 0, 0);
		return;
	}
	if (previd == NULL || strlen(previd) > SM_ID_MAX ||
	    sm_parse_u32(xnode_attr(n, "h"), &h) == -1) {
		sm_failed(c, "bad-request", 0, 0);
		return;
	}
	strlcpy(key.id, previd, sizeof(key.id));
	sm = RB_FIND(xsms, &xsms, &key);
	if (sm == NULL) {
		/* Not here: the layer above may know where it is. */
		c->sm = sm_new(c);
		c->sm->pending = 1;
		strlcpy(c->sm->id, previd, sizeof(c->sm->id));
		if (router_sm_resume(c, previd, h)) {
			xconn_hold(c, XCONN_HOLD_SM);
			log_info("sm_resume: %s: %s looks for session %s",
			    c->peer, c->bare, previd);
			return;
		}
		sm_free(c->sm);
		c->sm = NULL;
		log_info("sm_resume: %s: %s: no session %s", c->peer, c->bare,
		    previd);
		sm_failed(c, "item-not-found", 0, 0);
		return;
	}
	old = sm->c;
	if (strcmp(old->bare, c->bare) != 0 || old->closing) {
		log_info("sm_resume: %s: %s may not resume session %s",
		    c->peer, c->bare, previd);
		sm_failed(c, "item-not-found", 0, 0);
		return;
	}
	if (!sm_h_valid(sm->acked, sm->out, h)) {
		sm_too_high(c, h, sm->out);
		return;
	}
	sm_trim(sm, h);
	live = !sm->hibernating;
	if (sm->hib_ev != NULL)
		evtimer_del(sm->hib_ev);
	sm->hibernating = 0;
	sm_move(old, c);
	if (c->timer != NULL)
		evtimer_del(c->timer);
	if (live)
		xconn_error(old, "conflict", "the session was resumed on "
		    "another stream");
	else
		xconn_close(old);
	xasprintf(&s, "<resumed xmlns='" NS_SM "' previd='%s' h='%u'/>",
	    sm->id, sm_tell(c));
	xconn_send_raw(c, s);
	free(s);
	log_info("sm_resume: %s (%s) resumed, %u stanzas resent", c->full,
	    c->peer, (uint32_t)(sm->out - sm->acked));
	sm_resend(c);
	router_sm_ack(c, h, sm->in);
}

/*
 * The layer above's answer to the sm_resume hook for the stream whose
 * serial is s: it becomes session full (of its account) with the counts,
 * presence (borrowed, may be NULL) and the stanzas q[0..nq) (borrowed)
 * resent numbered from out_acked + 1; or <failed> with error.
 */
void
sm_resume_done(uint64_t s, const char *full, uint32_t in,
    uint32_t out_acked, const struct xnode *presence,
    const struct xnode **q, size_t nq, const char *error)
{
	struct xconn	*c;
	struct xsm	*sm;
	const char	*res, *cond = NULL;
	char		*p;
	size_t		 i, bl;

	for (c = xconn_first(); c != NULL; c = xconn_next(c))
		if (c->serial == s)
			break;
	if (c == NULL || c->closing || c->state != XS_BIND || c->sm == NULL ||
	    !c->sm->pending)
		return;
	sm = c->sm;
	xconn_release(c, XCONN_HOLD_SM);
	bl = strlen(c->bare);
	if (error == NULL && (full == NULL || strncmp(full, c->bare, bl) !=
	    0 || full[bl] != '/' || full[bl + 1] == '\0'))
		error = "item-not-found";
	if (error != NULL) {
		c->sm = NULL;
		sm_free(sm);
		log_info("sm_resume_done: %s: %s: %s", c->peer, c->bare,
		    error);
		sm_failed(c, error, full != NULL, in);
		return;
	}
	res = full + bl + 1;
	c->resource = xstrdup(res);
	if (router_bind(c, 0, &cond) == -1) {
		free(c->resource);
		c->resource = NULL;
		c->sm = NULL;
		sm_free(sm);
		sm_failed(c, "internal-server-error", 1, in);
		return;
	}
	sm->pending = 0;
	sm->resume = 1;
	if (RB_INSERT(xsms, &xsms, sm) != NULL) {
		/* The same id here already: that one is stale. */
		sm->resume = 0;
	}
	sm->ack_ev = evtimer_new(mmpd->base, sm_ack_timer, sm);
	sm->in = sm->told = in;		/* the leader's count */
	sm->out = sm->acked = sm->req = out_acked;
	c->state = XS_READY;
	c->since = time(NULL);
	if (c->timer != NULL)
		evtimer_del(c->timer);
	if (presence != NULL)
		presence_track(c, presence);
	router_session_bound(c);
	xasprintf(&p, "<resumed xmlns='" NS_SM "' previd='%s' h='%u'/>",
	    sm->id, in);
	xconn_send_raw(c, p);
	free(p);
	log_info("sm_resume_done: %s (%s) resumed here, %zu stanzas resent",
	    c->full, c->peer, nq);
	sm_nodivert = 1;
	for (i = 0; i < nq && c->sm == sm && !c->closing; i++)
		xconn_send(c, q[i]);
	sm_nodivert = 0;
}

/*
 * A stream-management element from a client (c2s): enable, resume, r, a.
 * The caller keeps n.
 */
void
sm_element(struct xconn *c, struct xnode *n)
{
	const char	*name = xnode_name(n);
	char		*s;

	if (strcmp(name, "enable") == 0)
		sm_enable(c, n);
	else if (strcmp(name, "resume") == 0)
		sm_resume(c, n);
	else if (c->sm == NULL || c->sm->pending || c->state != XS_READY)
		xconn_error(c, "unsupported-stanza-type", "stream management "
		    "is not enabled");
	else if (strcmp(name, "r") == 0) {
		xasprintf(&s, "<a xmlns='" NS_SM "' h='%u'/>", sm_tell(c));
		xconn_send_raw(c, s);
		free(s);
	} else if (strcmp(name, "a") == 0)
		sm_ack(c, n);
	else
		xconn_error(c, "unsupported-stanza-type", name);
}

/*
 * The count to tell c's client (<a h/>, <resumed h/>): what the layer
 * above has safe of its inbound count (a cluster follower's stanzas
 * still on their way to the leader are not); its copies know it first.
 */
static uint32_t
sm_tell(struct xconn *c)
{
	struct xsm	*sm = c->sm;

	sm->told = router_sm_answer(c, sm->in);
	sm->behind = sm->told != sm->in;
	return (sm->told);
}

/*
 * The layer above has more of c's stanzas safe: if the client was told
 * less than we handled, an unasked <a h/> with the new count (XEP-0198
 * section 4: either party may send <a/> at any time), so that it can
 * drop them from its queue.
 */
void
sm_answer_more(struct xconn *c)
{
	struct xsm	*sm = c->sm;
	uint32_t	 was;
	char		*s;

	if (sm == NULL || !sm->behind || sm->pending || sm->hibernating ||
	    c->state != XS_READY || c->closing)
		return;
	was = sm->told;
	if (sm_tell(c) == was)
		return;
	xasprintf(&s, "<a xmlns='" NS_SM "' h='%u'/>", sm->told);
	xconn_send_raw(c, s);
	free(s);
}

/* Whether c's session ends silently (sm_drop). */
int
sm_silent(const struct xconn *c)
{
	return (c->sm != NULL && c->sm->silent);
}

/*
 * c's session has ended (c2s_closed, after its unavailable presence and
 * router unbind): what it was sent and did not acknowledge is taken out
 * for smleft.c, then the sm_off hook; its SM state is freed.
 */
void
sm_closed(struct xconn *c)
{
	struct xsm	*sm = c->sm;

	if (sm == NULL)
		return;
	c->sm = NULL;
	if (!sm->silent && !sm->pending) {
		if (sm->out != sm->acked)
			sm_leftovers(c, sm);
		router_sm_off(c);
	}
	sm_free(sm);
}

/*
 * Take the unacknowledged stanzas (their bytes) out of ended session c
 * (its state sm) and have them dealt with at the next turn of the loop.
 */
static void
sm_leftovers(struct xconn *c, struct xsm *sm)
{
	struct xsm_item	*q, *it;
	uint32_t	 h;
	size_t		 i = 0, n = (uint32_t)(sm->out - sm->acked);

	q = xreallocarray(NULL, n, sizeof(*q));
	for (h = sm->acked + 1; h != sm->out + 1; h++) {
		it = sm_item(sm, h);
		q[i++] = *it;
		sm->qbytes -= it->len;
		sm_allbytes -= it->len;
		it->s = NULL;
		it->len = 0;
	}
	smleft_add(c->bare, c->full, q, n);
}

/* The resumption id of an SM session (borrowed), or NULL. */
const char *
sm_id(const struct xconn *c)
{
	if (c->sm == NULL || !c->sm->resume || c->sm->pending)
		return (NULL);
	return (c->sm->id);
}

/* Stanzas handled from the client of c. */
uint32_t
sm_in(const struct xconn *c)
{
	return (c->sm != NULL ? c->sm->in : 0);
}

/* Stanzas sent to the client of c. */
uint32_t
sm_out(const struct xconn *c)
{
	return (c->sm != NULL ? c->sm->out : 0);
}

/* Stanzas the client of c has acknowledged. */
uint32_t
sm_acked(const struct xconn *c)
{
	return (c->sm != NULL ? c->sm->acked : 0);
}

/* Whether c is a hibernating session. */
int
sm_hibernating(const struct xconn *c)
{
	return (c->sm != NULL && c->sm->hibernating);
}

/*
 * The daemon stops, but the layer above keeps copies of its SM sessions
 * (another node adopts them): each resumable session hibernates now
 * (its stream then gets the stream error of the stop like any) and
 * stays bound, queueing what it is sent (sm_sent runs: the copies get
 * it), until the exit, which ends it without a word. How many.
 */
size_t
sm_keep_all(void)
{
	struct xsm	*sm;
	size_t		 n = 0;

	RB_FOREACH(sm, xsms, &xsms) {
		if (!sm->resume || sm->pending || sm->c == NULL ||
		    sm->c->closing)
			continue;
		if (!sm->hibernating && !sm_hibernate(sm->c))
			continue;
		sm->silent = 1;
		sm->kept = 1;
		n++;
	}
	if (n > 0)
		log_info("sm_keep_all: %zu SM sessions hibernate until exit: "
		    "they resume elsewhere", n);
	return (n);
}

/* Whether c holds a session kept until exit (sm_keep_all). */
int
sm_kept(const struct xconn *c)
{
	return (c->sm != NULL && c->sm->kept);
}

/*
 * Kill SM session c silently (it was resumed elsewhere): no unavailable
 * presence, nothing routed on, no hook but the router unbind.
 */
void
sm_drop(struct xconn *c)
{
	if (c->sm == NULL || c->closing)
		return;
	c->sm->silent = 1;
	log_info("sm_drop: %s (%s): resumed elsewhere", c->full, c->peer);
	if (c->sm->hibernating)
		xconn_close(c);
	else
		xconn_error(c, "conflict", "the session was resumed on "
		    "another stream");
}
