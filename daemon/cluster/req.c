/*
 * Requests between nodes: the request channel on the cluster port, one
 * line out and one line back. This node asks (cluster_req: APPLY for
 * submit.c, REMOVED for member.c, CHECK for raft.c, JOIN, REMOVE and VIEW
 * for the commands, LEADER redirects followed) and answers (JOIN, REMOVE,
 * CHECK and APPLY as the leader, LEADER redirects as a follower, REMOVED,
 * VIEW). Entries on
 * their way into the log are in submit.c, the leader's membership
 * changes in member.c; raft's callbacks only record what happened, and
 * cluster.c's deferred event calls creq_run on the next turn.
 */
#include <sys/queue.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <raft.h>

#include "cluster/cluster.h"
#include "cluster/cluster_int.h"
#include "cluster/fsm.h"
#include "cluster/net.h"
#include "cluster/req.h"
#include "log.h"
#include "mmpd.h"
#include "xmalloc.h"

#define CLUSTER_REQ_SECS	30	/* a request, redirects included */
#define CLUSTER_REQ_HOPS	4

/* A request to another node: one line out, one line back. */
struct creq {
	TAILQ_ENTRY(creq)	 entry;
	char			*line;
	char			 target[80];
	int			 hops;
	struct cnet_dial	*dial;
	struct bufferevent	*bev;
	struct event		*timeout;
	size_t			 max;		/* bytes of the answer */
	char			 pin[65];	/* REMOVED: the old pin */
	void			(*cb)(void *, int, const char *);
	void			*arg;
};

/* A request channel a peer opened to us. */
struct cpeer {
	TAILQ_ENTRY(cpeer)	 entry;
	struct bufferevent	*bev;
	struct cnet_hello	 hello;
	int			 busy;		/* answering a request */
	int			 closing;
	int			 viewed;	/* answered VIEW: the last */
	int			 wasmember;	/* a member since hello */
};

static TAILQ_HEAD(, creq)	 reqs = TAILQ_HEAD_INITIALIZER(reqs);
static TAILQ_HEAD(, cpeer)	 peers = TAILQ_HEAD_INITIALIZER(peers);

static void	 cluster_peer_say(struct cpeer *, const char *, const char *);
static void	 cluster_req_dialled(struct bufferevent *,
		    const struct cnet_hello *, const char *, void *);
static void	 cluster_req_read(struct bufferevent *, void *);
static void	 cluster_req_printable(char *);
static void	 cluster_req_event(struct bufferevent *, short, void *);
static void	 cluster_req_timeout(evutil_socket_t, short, void *);
static void	 cluster_req_finish(struct creq *, int, const char *);
static void	 cluster_peer_accept(struct bufferevent *,
		    const struct cnet_hello *, void *);
static void	 cluster_peer_read(struct bufferevent *, void *);
static void	 cluster_peer_event(struct bufferevent *, short, void *);
static void	 cluster_peer_free(struct cpeer *);
static void	 cluster_peer_next(struct cpeer *);
static void	 cluster_peer_answer(void *, int, const char *);
static void	 cluster_peer_applied(void *, const char *);
static int	 cluster_peer_recheck(struct cpeer *);
static int	 cluster_peer_self(struct cpeer *, char **, int);

/*
 * Whether this node may route for the cluster right now: it leads in
 * raft's own view (not the last poll's), is not handing leadership over
 * and is not shutting down. A leader on its way out holds forwarded
 * stanzas unacknowledged instead, and the followers replay them to the
 * next leader: routing them here could find their destinations already
 * gone over to the new one.
 */
int
cluster_routing_ok(void)
{
	struct raft	*r = cluster_raft();

	return (r != NULL && !mmpd->shutdown && raft_state(r) == RAFT_LEADER &&
	    raft_transferee(r) == 0);
}

/* Move submissions and membership changes along (after raft's news). */
void
creq_run(void)
{
	cluster_subs_run();
	cluster_ops_run();
}

/* Raft is stopping here: what waits on it fails. */
void
creq_stop(void)
{
	struct creq	*r;

	cluster_ops_stop();
	while ((r = TAILQ_FIRST(&reqs)) != NULL)
		cluster_req_finish(r, 0, "this node left the cluster");
	cluster_subs_stop();
}

/* Raft has closed: the changes it was running are over. */
void
creq_closed(void)
{
	cluster_ops_closed();
	cluster_subs_closed();
}

/* Answer a request channel a peer opened (cluster.c registers this). */
void
creq_accept(struct bufferevent *bev, const struct cnet_hello *h, void *arg)
{
	cluster_peer_accept(bev, h, arg);
}

/* At exit: free every request, submission and channel. */
void
creq_free(void)
{
	struct cpeer	*p;
	struct creq	*r;

	/* Submissions first: finishing one cancels its request. */
	cluster_subs_free();
	while ((r = TAILQ_FIRST(&reqs)) != NULL)
		cluster_req_cancel(r);
	while ((p = TAILQ_FIRST(&peers)) != NULL) {
		p->busy = 0;
		cluster_peer_free(p);
	}
}

/* Membership changed (or may have): close channels of former members. */
void
creq_recheck(void)
{
	struct cpeer	*p, *next;

	TAILQ_FOREACH_SAFE(p, &peers, entry, next)
		cluster_peer_recheck(p);
}

/* A peer opened a request channel. */
static void
cluster_peer_accept(struct bufferevent *bev, const struct cnet_hello *h,
    void *arg)
{
	struct cpeer	*p;

	(void)arg;
	p = xcalloc(1, sizeof(*p));
	p->bev = bev;
	p->hello = *h;
	p->wasmember = h->member;
	TAILQ_INSERT_TAIL(&peers, p, entry);
	bufferevent_setcb(bev, cluster_peer_read, NULL, cluster_peer_event,
	    p);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		cluster_peer_read(bev, p);
}

/* Free a request channel (or let its running request do it). */
static void
cluster_peer_free(struct cpeer *p)
{
	if (p->busy) {
		p->closing = 1;
		bufferevent_disable(p->bev, EV_READ);
		return;
	}
	TAILQ_REMOVE(&peers, p, entry);
	bufferevent_free(p->bev);
	free(p);
}

/* The peer went away. */
static void
cluster_peer_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	cluster_peer_free(arg);
}

/*
 * Whether a request channel may go on: its peer's membership is asked
 * again (a member removed, or its certificate's pin changed, since the
 * hello). A channel that spoke for a member that is no longer one is
 * closed (0); a non-member's stays, for JOIN only.
 */
static int
cluster_peer_recheck(struct cpeer *p)
{
	if (p->closing)
		return (0);
	p->hello.member = cluster_peer_member(p->hello.id, p->hello.addr,
	    p->hello.ident) == 1;
	if (p->hello.member) {
		p->wasmember = 1;
		return (1);
	}
	if (!p->wasmember)
		return (1);
	log_warnx("cluster: request channel of node %016llx at %s closed: "
	    "no longer a member with that certificate",
	    (unsigned long long)p->hello.id, p->hello.addr);
	cluster_peer_free(p);
	return (0);
}

/* One request line from a peer. */
static void
cluster_peer_read(struct bufferevent *bev, void *arg)
{
	struct cpeer	*p = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	char		*line, *w[5], *rest, why[400];
	const char	*err = NULL;
	int		 n;

	if (p->viewed) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	while (!p->busy && !p->closing && !p->viewed &&
	    (line = evbuffer_readln(in, NULL, EVBUFFER_EOL_LF)) != NULL) {
		/* Membership changes under an open channel: ask each time. */
		if (!cluster_peer_recheck(p)) {
			free(line);
			return;
		}
		/* APPLY's entry is the rest of the line, spaces and all. */
		memset(w, 0, sizeof(w));
		n = 0;
		if (strncmp(line, "APPLY ", 6) == 0 && line[6] != '\0') {
			w[0] = "APPLY";
			w[1] = line + 6;
			n = 2;
		} else {
			rest = line;
			for (n = 0; n < 4 && rest != NULL; n++)
				w[n] = strsep(&rest, " ");
		}
		err = NULL;
		/*
		 * A peer that is not a member, by its certificate, may only
		 * ask to join; all else would act for a member it is not.
		 */
		if (!p->hello.member && (n != 4 || strcmp(w[0], "JOIN") != 0) &&
		    !cluster_peer_self(p, w, n)) {
			cluster_peer_say(p, w[0], "ERR only a member of the "
			    "cluster may ask that; this certificate may only "
			    "join\n");
			free(line);
			continue;
		}
		if (n == 1 && strcmp(w[0], "REMOVED") == 0) {
			/* The leader took us out. */
			if (cluster_removed_by(p->hello.id, p->hello.addr) == 0)
				bufferevent_write(bev, "OK\n", 3);
			else
				cluster_peer_say(p, "REMOVED", "ERR only the "
				    "leader may say that, and only of a node "
				    "it removed\n");
			free(line);
			continue;
		}
		if (n == 1 && strcmp(w[0], "VIEW") == 0 &&
		    cluster_running()) {
			char	*v, *r;

			/*
			 * Any member answers for itself (cluster_view.c), once
			 * per channel: an answer may be CLUSTER_VIEW_BYTES, and
			 * requests queued behind it must not pile them up.
			 */
			v = cview_local();
			xasprintf(&r, "OK %s\n", v);
			bufferevent_write(bev, r, strlen(r));
			free(r);
			free(v);
			free(line);
			/*
			 * Read on and discard: the requester's close must
			 * reach cluster_peer_event, which frees the channel.
			 */
			p->viewed = 1;
			evbuffer_drain(in, evbuffer_get_length(in));
			return;
		}
		if (!cluster_running())
			err = "ERR this node is not running a cluster";
		else if (!cluster_is_leader()) {
			char	*r;

			if (cluster_remote_leader() != NULL)
				xasprintf(&r, "LEADER %s\n", cluster_remote_leader());
			else
				r = xstrdup("ERR no leader at the moment "
				    "(an election is running, or no quorum); "
				    "try again in a few seconds\n");
			bufferevent_write(bev, r, strlen(r));
			free(r);
			free(line);
			continue;
		}
		if (err == NULL && n == 2 && strcmp(w[0], "APPLY") == 0 &&
		    w[1] == line + 6 && !p->hello.member) {
			char	*r;

			/* A node removed while it was away, say. */
			r = xstrdup("ERR this node is not a member of the "
			    "cluster (any more)\n");
			bufferevent_write(bev, r, strlen(r));
			free(r);
		} else if (err == NULL && n == 2 &&
		    strcmp(w[0], "APPLY") == 0 && w[1] == line + 6 &&
		    w[1][0] != '@' && strncmp(w[1], "session-open\t", 13) != 0) {
			/* Applied once only in a session (fsm_session.c). */
			cluster_peer_say(p, "APPLY", "ERR a member's entry "
			    "comes in its session's envelope\n");
		} else if (err == NULL && n == 2 &&
		    strcmp(w[0], "APPLY") == 0 && w[1] == line + 6 &&
		    cfsm_entry_allowed(w[1], p->hello.id,
		    why, sizeof(why)) == -1) {
			char	*r;

			xasprintf(&r, "ERR %s\n", why);
			cluster_peer_say(p, "APPLY", r);
			free(r);
		} else if (err == NULL && n == 2 && strcmp(w[0], "APPLY") == 0 &&
		    w[1] == line + 6) {
			/* The member's own session and serial: as it came. */
			p->busy = 1;
			cluster_submit_raw(w[1], cluster_peer_applied, p);
		} else if (err == NULL && n == 4 &&
		    strcmp(w[0], "JOIN") == 0) {
			const char	*pin, *paddr;
			uint64_t	 jid;

			/*
			 * JOIN <id> <addr> <domain>: for the id and address
			 * of the hello (the port checked the address), and
			 * not for the id of a member at another address.
			 */
			jid = strtoull(w[1], NULL, 16);
			pin = cfsm_member(cluster_fsm(), jid, &paddr);
			if (jid == 0 || jid != p->hello.id ||
			    strcmp(w[2], p->hello.addr) != 0)
				cluster_peer_say(p, "JOIN", "ERR a node joins "
				    "with the id and address of its hello\n");
			else if (pin != NULL && strcmp(paddr, w[2]) != 0)
				cluster_peer_say(p, "JOIN", "ERR that node id "
				    "is a member's at another address\n");
			else if (cfsm_domain(cluster_fsm()) != NULL &&
			    strcmp(cfsm_domain(cluster_fsm()), w[3]) != 0) {
				char	*r;

				xasprintf(&r, "ERR domain mismatch: the cluster "
				    "serves %s, the joining node serves %s; "
				    "set xmpp domain %s on it first\n",
				    cfsm_domain(cluster_fsm()), w[3],
				    cfsm_domain(cluster_fsm()));
				log_warnx("cluster: join from %s refused: "
				    "domain %s, ours is %s", w[2], w[3],
				    cfsm_domain(cluster_fsm()));
				bufferevent_write(bev, r, strlen(r));
				free(r);
			} else if (cluster_join_conflict(jid, w[2],
			    p->hello.ident, why, sizeof(why)) == -1) {
				char	*r;

				xasprintf(&r, "ERR %s\n", why);
				cluster_peer_say(p, "JOIN", r);
				free(r);
			} else {
				p->busy = 1;
				cluster_op_join(jid, w[2], p->hello.ident,
				    cluster_peer_answer, p);
			}
		} else if (err == NULL && n == 3 &&
		    strcmp(w[0], "CHECK") == 0) {
			char	*r;

			/* A node without a leader asks if it is a member. */
			if (cluster_member_answer(p->hello.id, why,
			    sizeof(why)) == 0)
				xasprintf(&r, "OK %s\n", why);
			else
				xasprintf(&r, "ERR %s\n", why);
			bufferevent_write(bev, r, strlen(r));
			free(r);
		} else if (err == NULL && n >= 3 && !p->hello.member &&
		    strcmp(w[0], "REMOVE") == 0 &&
		    cluster_server_by_id(p->hello.id) != NULL) {
			/* Only a member takes itself out (or the leader). */
			cluster_peer_say(p, w[0], "ERR only a member of the "
			    "cluster may ask that; this certificate may only "
			    "join\n");
		} else if (err == NULL && n >= 3 &&
		    strcmp(w[0], "REMOVE") == 0) {
			uint64_t	 rid = strtoull(w[1], NULL, 16);

			/* One that leaves may come back; one removed not. */
			p->busy = 1;
			cluster_op(1, rid != p->hello.id, rid, w[2],
			    cluster_peer_answer, p);
		} else {
			char	*r;

			xasprintf(&r, "%s\n", err ? err :
			    "ERR unknown request");
			bufferevent_write(bev, r, strlen(r));
			free(r);
		}
		free(line);
	}
	if (p->busy)
		bufferevent_disable(bev, EV_READ);	/* one at a time */
	else if (evbuffer_get_length(in) > CLUSTER_LINE_MAX)
		cluster_peer_free(p);
}

/*
 * Whether a request of a peer that is not a member (any more) is about
 * itself alone: CHECK <id> <addr> (is it a member?) and REMOVE <id>
 * <addr> (take it out; answered OK if it is out already, else refused),
 * both for the id and address of its hello.
 */
static int
cluster_peer_self(struct cpeer *p, char **w, int n)
{
	if (n != 3 || (strcmp(w[0], "CHECK") != 0 &&
	    strcmp(w[0], "REMOVE") != 0))
		return (0);
	return (strtoull(w[1], NULL, 16) == p->hello.id &&
	    strcmp(w[2], p->hello.addr) == 0);
}

/*
 * Refuse a peer's request (what, its first word) with answer, a whole
 * line, and log it.
 */
static void
cluster_peer_say(struct cpeer *p, const char *what, const char *answer)
{
	char	 w[16];
	size_t	 i;

	for (i = 0; i < sizeof(w) - 1 && what[i] != '\0'; i++)
		w[i] = isprint((unsigned char)what[i]) ? what[i] : '?';
	w[i] = '\0';
	/* Once in a while per host and request: a peer may send many. */
	cnet_warn(p->hello.addr, w, "cluster: %s request from node %016llx "
	    "at %s (key %.16s...) refused: %.*s", w,
	    (unsigned long long)p->hello.id, p->hello.addr, p->hello.ident,
	    (int)strcspn(answer + 4, "\n"), answer + 4);
	bufferevent_write(p->bev, answer, strlen(answer));
}

/* The entry index a committed APPLY reached, for the requester. */
static void
cluster_peer_applied(void *arg, const char *err)
{
	struct cpeer	*p = arg;
	char		*line;

	if (p == NULL)
		return;
	p->busy = 0;
	if (p->closing) {
		cluster_peer_free(p);
		return;
	}
	if (err == NULL && cluster_raft() == NULL)
		err = "raft stopped on the leader";
	if (err != NULL)
		xasprintf(&line, "ERR %s\n", err);
	else
		xasprintf(&line, "OK %llu\n",
		    (unsigned long long)raft_last_applied(cluster_raft()));
	bufferevent_write(p->bev, line, strlen(line));
	free(line);
	cluster_peer_next(p);
}

/* A request is answered: read on, starting with what waited meanwhile. */
static void
cluster_peer_next(struct cpeer *p)
{
	bufferevent_enable(p->bev, EV_READ);
	cluster_peer_read(p->bev, p);
}

/* A membership change's result, for the requester. */
static void
cluster_peer_answer(void *arg, int ok, const char *text)
{
	struct cpeer	*p = arg;
	char		*line;

	p->busy = 0;
	if (p->closing) {
		cluster_peer_free(p);
		return;
	}
	xasprintf(&line, "%s %s\n", ok ? "OK" : "ERR", text);
	bufferevent_write(p->bev, line, strlen(line));
	free(line);
	cluster_peer_next(p);
}

/*
 * Ask a member something: one line, one answer. LEADER redirects are
 * followed; cb(arg, ok, text) gets the answer after OK or ERR.
 */
struct creq *
cluster_req(const char *target, const char *line,
    void (*cb)(void *, int, const char *), void *arg)
{
	struct creq	*r;
	struct timeval	 tv = { CLUSTER_REQ_SECS, 0 };

	r = xcalloc(1, sizeof(*r));
	xasprintf(&r->line, "%s\n", line);
	r->max = strcmp(line, "VIEW") == 0 ? CLUSTER_VIEW_BYTES :
	    CLUSTER_LINE_MAX;
	strlcpy(r->target, target, sizeof(r->target));
	r->cb = cb;
	r->arg = arg;
	r->timeout = evtimer_new(mmpd->base, cluster_req_timeout, r);
	evtimer_add(r->timeout, &tv);
	TAILQ_INSERT_TAIL(&reqs, r, entry);
	r->dial = cnet_dial(r->target, CN_REQ, cluster_req_dialled, r);
	return (r);
}

/* Public form of cluster_req, for the commands. */
void *
cluster_request(const char *target, const char *line,
    void (*cb)(void *, int, const char *), void *arg)
{
	return (cluster_req(target, line, cb, arg));
}

/* Forget a request without calling back. */
void
cluster_req_cancel(struct creq *r)
{
	TAILQ_REMOVE(&reqs, r, entry);
	if (r->dial != NULL)
		cnet_dial_cancel(r->dial);
	if (r->bev != NULL)
		bufferevent_free(r->bev);
	evtimer_del(r->timeout);
	event_free(r->timeout);
	free(r->line);
	free(r);
}

/*
 * Tell the node at addr that the leader removed it, if it still answers
 * with the certificate pin (best effort: no callback).
 */
void
cluster_req_removed(const char *addr, const char *pin)
{
	struct creq	*r;

	r = cluster_req(addr, "REMOVED", NULL, NULL);
	strlcpy(r->pin, pin, sizeof(r->pin));
}

/* Forget the callback of every request made for arg. */
void
cluster_reqs_forget(void *arg)
{
	struct creq	*r;

	TAILQ_FOREACH(r, &reqs, entry)
		if (r->arg == arg)
			r->cb = NULL;
}

/* Public form of cluster_req_cancel. */
void
cluster_request_cancel(void *r)
{
	if (r != NULL)
		cluster_req_cancel(r);
}

/* The end of a request: call back and free. */
static void
cluster_req_finish(struct creq *r, int ok, const char *text)
{
	void	(*cb)(void *, int, const char *) = r->cb;
	void	*arg = r->arg;
	char	*copy = xstrdup(text);

	cluster_req_cancel(r);
	if (cb != NULL)
		cb(arg, ok, copy);
	free(copy);
}

/* The channel to the member is up (or not). */
static void
cluster_req_dialled(struct bufferevent *bev, const struct cnet_hello *h,
    const char *cause, void *arg)
{
	struct creq	*r = arg;
	char		 text[400];

	r->dial = NULL;
	if (bev == NULL) {
		cluster_req_finish(r, 0, cause);
		return;
	}
	/*
	 * Joining, we know no member: the leader that answers sends us the
	 * log. REMOVED goes to the certificate the leader just forgot; all
	 * else only to the member at the address we dialled.
	 */
	if (strncmp(r->line, "JOIN ", 5) == 0)
		cnet_pin(h->ident);
	else if (r->pin[0] != '\0' ? strcmp(h->ident, r->pin) != 0 :
	    ((!h->member && !(r->hops > 0 &&
	    strncmp(r->line, "CHECK ", 6) == 0)) ||
	    strcmp(h->addr, r->target) != 0)) {
		cnet_tls_clear(bev);
		bufferevent_free(bev);
		snprintf(text, sizeof(text), "%s answered as node %016llx at "
		    "%s with a certificate (key %.16s...) that is not that "
		    "member's", r->target, (unsigned long long)h->id, h->addr,
		    h->ident);
		cnet_warn(r->target, "not a member", "cluster: %s", text);
		cluster_req_finish(r, 0, text);
		return;
	}
	r->bev = bev;
	bufferevent_setcb(bev, cluster_req_read, NULL, cluster_req_event, r);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	bufferevent_write(bev, r->line, strlen(r->line));
}

/* The member's answer. */
static void
cluster_req_read(struct bufferevent *bev, void *arg)
{
	struct creq	*r = arg;
	char		*line;

	if ((line = evbuffer_readln(bufferevent_get_input(bev), NULL,
	    EVBUFFER_EOL_LF)) == NULL) {
		if (evbuffer_get_length(bufferevent_get_input(bev)) > r->max)
			cluster_req_finish(r, 0, "answer too long");
		return;
	}
	if (strncmp(line, "LEADER ", 7) == 0) {
		if (++r->hops > CLUSTER_REQ_HOPS) {
			free(line);
			cluster_req_finish(r, 0, "the members disagree on who "
			    "leads; try again in a few seconds");
			return;
		}
		cluster_req_printable(line);
		log_debug("cluster_req_read: %s sends us to %s", r->target,
		    line + 7);
		strlcpy(r->target, line + 7, sizeof(r->target));
		free(line);
		bufferevent_free(r->bev);
		r->bev = NULL;
		r->dial = cnet_dial(r->target, CN_REQ, cluster_req_dialled, r);
		return;
	}
	/* The text may reach the admin: a view's answer is parsed apart. */
	if (r->max == CLUSTER_LINE_MAX || strncmp(line, "OK", 2) != 0)
		cluster_req_printable(line);
	if (strncmp(line, "OK", 2) == 0)
		cluster_req_finish(r, 1, line[2] == ' ' ? line + 3 : "");
	else if (strncmp(line, "ERR ", 4) == 0)
		cluster_req_finish(r, 0, line + 4);
	else
		cluster_req_finish(r, 0, "the member answered nonsense");
	free(line);
}

/* Replace what is not printable in a peer's line by '?'. */
static void
cluster_req_printable(char *line)
{
	for (; *line != '\0'; line++)
		if (!isprint((unsigned char)*line))
			*line = '?';
}

/* The channel closed before the answer. */
static void
cluster_req_event(struct bufferevent *bev, short what, void *arg)
{
	struct creq	*r = arg;
	char		 text[160];

	(void)bev;
	snprintf(text, sizeof(text), "%s closed the connection before "
	    "answering%s", r->target, what & BEV_EVENT_ERROR ?
	    " (error)" : "");
	cluster_req_finish(r, 0, text);
}

/* No answer in time. */
static void
cluster_req_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct creq	*r = arg;
	char		 text[160];

	(void)fd;
	(void)what;
	snprintf(text, sizeof(text), "no answer from %s in %d seconds",
	    r->target, CLUSTER_REQ_SECS);
	cluster_req_finish(r, 0, text);
}
