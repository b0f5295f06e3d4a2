/*
 * Requests between nodes and changes to the replicated log: entries this
 * node submits (raft_apply here when it leads, an APPLY request to the
 * leader otherwise, then a wait until the entry is applied here), the
 * request channel on the cluster port (JOIN, REMOVE, APPLY answered by
 * the leader, LEADER redirects from followers), and the leader's
 * membership changes, one at a time. Raft's callbacks only record what
 * happened; cluster.c's deferred event calls creq_run on the next turn.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <raft.h>

#include "cluster/cluster.h"
#include "cluster/cluster_int.h"
#include "cluster/net.h"
#include "log.h"
#include "mmpd.h"
#include "xmalloc.h"

#define CLUSTER_REQ_SECS	30	/* a request, redirects included */
#define CLUSTER_REQ_HOPS	4
#define CLUSTER_SUBMIT_MS	8000	/* wait for a leader to apply */
#define CLUSTER_LINE_MAX	8192

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

/* An entry on its way into the log, from this node. */
struct csub {
	TAILQ_ENTRY(csub)	 entry;
	char			*data;
	int64_t			 deadline;
	int			 state;		/* CS_* */
	raft_index		 index;		/* applied once we reach it */
	struct raft_apply	 req;
	int			 status;
	struct creq		*creq;
	void			(*cb)(void *, const char *);
	void			*arg;
};
#define CS_WAIT		0	/* no leader yet */
#define CS_RAFT		1	/* raft_apply running here */
#define CS_REMOTE	2	/* sent to the leader */
#define CS_LOCAL	3	/* committed; waiting to apply here */
#define CS_DONE		4

/* A membership change the leader runs, one at a time. */
struct cop {
	TAILQ_ENTRY(cop)	 entry;
	int			 kind;		/* COP_* */
	uint64_t		 id;
	char			 addr[80];
	char			 ident[65];	/* join: the certificate's,
					   remove: the node's pin */
	int			 pinned;	/* join: ident is in the log */
	char			*pin_err;	/* join: pinning failed */
	struct raft_change	 change;
	int			 busy;		/* a change is in raft */
	int			 status;
	int			 tries;
	int			 revoke;	/* remove: pin may not join */
	void			(*cb)(void *, int, const char *);
	void			*arg;
};
#define COP_JOIN	1
#define COP_REMOVE	2

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


static TAILQ_HEAD(, csub)	 subs = TAILQ_HEAD_INITIALIZER(subs);
static TAILQ_HEAD(, cop)	 ops = TAILQ_HEAD_INITIALIZER(ops);
static TAILQ_HEAD(, creq)	 reqs = TAILQ_HEAD_INITIALIZER(reqs);
static TAILQ_HEAD(, cpeer)	 peers = TAILQ_HEAD_INITIALIZER(peers);

static void	 cluster_apply_cb(struct raft_apply *, int, void *);
static void	 cluster_change_cb(struct raft_change *, int);
static void	 cluster_subs_run(void);
static void	 cluster_sub_finish(struct csub *, const char *);
static void	 cluster_sub_remote_cb(void *, int, const char *);
static void	 cluster_ops_run(void);
static void	 cluster_op_finish(struct cop *, int, const char *);
static void	 cluster_op_pinned(void *, const char *);
static void	 cluster_peer_say(struct cpeer *, const char *, const char *);
static struct creq *cluster_req(const char *, const char *,
		    void (*)(void *, int, const char *), void *);
static void	 cluster_req_dialled(struct bufferevent *,
		    const struct cnet_hello *, const char *, void *);
static void	 cluster_req_read(struct bufferevent *, void *);
static void	 cluster_req_printable(char *);
static void	 cluster_req_event(struct bufferevent *, short, void *);
static void	 cluster_req_timeout(evutil_socket_t, short, void *);
static void	 cluster_req_finish(struct creq *, int, const char *);
static void	 cluster_req_cancel(struct creq *);
static void	 cluster_peer_accept(struct bufferevent *,
		    const struct cnet_hello *, void *);
static void	 cluster_peer_read(struct bufferevent *, void *);
static void	 cluster_peer_event(struct bufferevent *, short, void *);
static void	 cluster_peer_free(struct cpeer *);
static void	 cluster_peer_next(struct cpeer *);
static void	 cluster_peer_answer(void *, int, const char *);
static void	 cluster_peer_applied(void *, const char *);
static int	 cluster_peer_recheck(struct cpeer *);
static int	 cluster_join_conflict(uint64_t, const char *, const char *,
		    char *, size_t);
static int	 cluster_pin_shared(uint64_t, const char *);

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
	struct csub	*s;
	struct cop	*o;
	struct creq	*r;

	while ((o = TAILQ_FIRST(&ops)) != NULL && !o->busy)
		cluster_op_finish(o, 0, "this node left the cluster");
	while ((r = TAILQ_FIRST(&reqs)) != NULL)
		cluster_req_finish(r, 0, "this node left the cluster");
	TAILQ_FOREACH(s, &subs, entry) {
		if (s->state != CS_RAFT) {
			s->state = CS_DONE;
			s->status = -1;		/* not done: raft stopped */
		}
	}
	cluster_subs_run();
}

/* Raft has closed: the changes it was running are over. */
void
creq_closed(void)
{
	struct cop	*o;
	struct csub	*s;

	while ((o = TAILQ_FIRST(&ops)) != NULL)
		cluster_op_finish(o, 0, "this node left the cluster");
	/* What raft failed as it closed must not wait for a later cluster. */
	while ((s = TAILQ_FIRST(&subs)) != NULL)
		cluster_sub_finish(s, "raft stopped on this node");
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
	struct csub	*s;

	/* Submissions first: finishing one cancels its request. */
	while ((s = TAILQ_FIRST(&subs)) != NULL) {
		s->cb = NULL;
		cluster_sub_finish(s, "shutting down");
	}
	while ((r = TAILQ_FIRST(&reqs)) != NULL)
		cluster_req_cancel(r);
	while ((p = TAILQ_FIRST(&peers)) != NULL) {
		p->busy = 0;
		cluster_peer_free(p);
	}
}

/*
 * Put an entry into the replicated log: here when we lead, through the
 * leader otherwise. cb(arg, NULL) once it is applied on this node, or
 * cb(arg, error).
 */
void
cluster_submit(const char *data, void (*cb)(void *, const char *), void *arg)
{
	struct csub	*s;

	s = xcalloc(1, sizeof(*s));
	s->data = xstrdup(data);
	s->cb = cb;
	s->arg = arg;
	s->deadline = cnet_now_ms() + CLUSTER_SUBMIT_MS;
	s->state = cluster_running() ? CS_WAIT : CS_DONE;
	if (s->state == CS_DONE)
		s->status = -1;
	TAILQ_INSERT_TAIL(&subs, s, entry);
	cluster_kick();
}

/* raft applied (or failed) an entry of ours: note it. */
static void
cluster_apply_cb(struct raft_apply *req, int status, void *result)
{
	struct csub	*s = req->data;

	(void)result;
	s->status = status;
	s->state = CS_DONE;
	cluster_kick();
}

/* The leader's answer to an APPLY we sent. */
static void
cluster_sub_remote_cb(void *arg, int ok, const char *text)
{
	struct csub	*s = arg;

	s->creq = NULL;
	if (!ok) {
		/* The leader may have changed: try again until the deadline. */
		log_debug("cluster_sub_remote_cb: %s", text);
		s->state = CS_WAIT;
		s->status = 0;
		return;
	}
	s->index = strtoull(text, NULL, 10);
	s->state = CS_LOCAL;
	cluster_kick();
}

/* Finish a submission. */
static void
cluster_sub_finish(struct csub *s, const char *err)
{
	TAILQ_REMOVE(&subs, s, entry);
	if (s->creq != NULL)
		cluster_req_cancel(s->creq);
	if (s->cb != NULL)
		s->cb(s->arg, err);
	free(s->data);
	free(s);
}

/* Move every submission along. */
static void
cluster_subs_run(void)
{
	struct csub	*s, *next;
	struct raft_buffer buf;
	char		*line;
	int		 rv;
	int64_t		 now = cnet_now_ms();

	TAILQ_FOREACH_SAFE(s, &subs, entry, next) {
		switch (s->state) {
		case CS_WAIT:
			if (now > s->deadline) {
				cluster_sub_finish(s, "no leader could take "
				    "the change in time (no quorum?)");
				break;
			}
			if (!cluster_running() || cluster_state() == -1)
				break;
			if (cluster_is_leader()) {
				/*
				 * Only while raft itself says we lead and no
				 * handover runs: it owns the buffer only when
				 * raft_apply succeeds.
				 */
				if (raft_state(cluster_raft()) != RAFT_LEADER ||
				    raft_transferee(cluster_raft()) != 0)
					break;
				/* raft wants 8-byte multiples: pad with NULs. */
				buf.len = (strlen(s->data) + 8) & ~(size_t)7;
				buf.base = raft_calloc(1, buf.len);
				memcpy(buf.base, s->data, strlen(s->data));
				s->req.data = s;
				s->state = CS_RAFT;
				if ((rv = raft_apply(cluster_raft(), &s->req, &buf,
				    1, cluster_apply_cb)) != 0) {
					s->state = CS_WAIT;
					log_warnx("cluster_subs_run: apply: "
					    "%s: %s", raft_strerror(rv),
					    raft_errmsg(cluster_raft()));
					if (rv == RAFT_NOTLEADER)
						raft_free(buf.base);
				}
				cnet_uv_kick();
			} else if (cluster_remote_leader() != NULL) {
				xasprintf(&line, "APPLY %s", s->data);
				s->state = CS_REMOTE;
				s->creq = cluster_req(cluster_remote_leader(), line,
				    cluster_sub_remote_cb, s);
				free(line);
			}
			break;
		case CS_LOCAL:
			if (!cluster_running())
				cluster_sub_finish(s, "raft stopped");
			else if (raft_last_applied(cluster_raft()) >= s->index)
				cluster_sub_finish(s, NULL);
			else if (now > s->deadline)
				cluster_sub_finish(s, "committed by the "
				    "leader but not applied here yet");
			break;
		case CS_DONE:
			if ((s->status == RAFT_NOTLEADER ||
			    s->status == RAFT_LEADERSHIPLOST) &&
			    cluster_running()) {
				s->state = CS_WAIT;
				s->status = 0;
				break;
			}
			cluster_sub_finish(s, s->status == 0 ? NULL :
			    s->status == -1 ? "raft is not running here" :
			    raft_strerror(s->status));
			break;
		default:
			break;
		}
	}
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

/* Membership changed (or may have): close channels of former members. */
void
creq_recheck(void)
{
	struct cpeer	*p, *next;

	TAILQ_FOREACH_SAFE(p, &peers, entry, next)
		cluster_peer_recheck(p);
}

/*
 * Whether identity ident is pinned to a member other than node id (one
 * certificate shared by the nodes): removing id then revokes nothing.
 */
static int
cluster_pin_shared(uint64_t id, const char *ident)
{
	const struct raft_configuration *conf = &cluster_raft()->configuration;
	const char	*pin;
	unsigned	 i;

	for (i = 0; i < conf->n; i++)
		if (conf->servers[i].id != id &&
		    (pin = cfsm_member(cluster_fsm(), conf->servers[i].id,
		    NULL)) != NULL && strcmp(pin, ident) == 0)
			return (1);
	return (0);
}

/*
 * Whether node id at addr, with certificate identity ident, may join:
 * not if its certificate is a removed member's, nor if id is pinned to
 * another certificate, nor if another id at addr (a node reset, joining
 * under a new id) is pinned to another one. Only the admin's removal of
 * the old member makes way for a new certificate.
 * 0, or -1 and why in buf.
 */
static int
cluster_join_conflict(uint64_t id, const char *addr, const char *ident,
    char *buf, size_t len)
{
	uint64_t	 stale[CLUSTER_MAX_NODES];
	const char	*pin;
	int		 n, i;

	if (cfsm_revoked(cluster_fsm(), ident) &&
	    ((pin = cfsm_member(cluster_fsm(), id, NULL)) == NULL ||
	    strcmp(pin, ident) != 0)) {
		snprintf(buf, len, "this certificate (key %.16s...) is a "
		    "removed member's; it may join again once the admin sets "
		    "the trust bundle again on the leader (xmpp cluster "
		    "trust)", ident);
		return (-1);
	}
	if ((pin = cfsm_member(cluster_fsm(), id, NULL)) != NULL &&
	    strcmp(pin, ident) != 0) {
		snprintf(buf, len, "node %016llx is a member with another "
		    "certificate (key %.16s...); to change a member's "
		    "certificate, remove it first (xmpp cluster remove %s on "
		    "the leader), then join again", (unsigned long long)id,
		    pin, addr);
		return (-1);
	}
	n = cfsm_stale_ids(&cluster_raft()->configuration, id, addr, stale,
	    CLUSTER_MAX_NODES);
	for (i = 0; i < n; i++) {
		if ((pin = cfsm_member(cluster_fsm(), stale[i], NULL)) !=
		    NULL && strcmp(pin, ident) == 0)
			continue;
		snprintf(buf, len, "member %016llx at %s has another "
		    "certificate; a node joins there under a new id only with "
		    "the same certificate. Remove it first (xmpp cluster "
		    "remove %s on the leader), then join again",
		    (unsigned long long)stale[i], addr, addr);
		return (-1);
	}
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
		if (!p->hello.member && (n != 4 || strcmp(w[0], "JOIN") != 0)) {
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
		    cfsm_entry_allowed(w[1], p->hello.id,
		    why, sizeof(why)) == -1) {
			char	*r;

			xasprintf(&r, "ERR %s\n", why);
			cluster_peer_say(p, "APPLY", r);
			free(r);
		} else if (err == NULL && n == 2 && strcmp(w[0], "APPLY") == 0 &&
		    w[1] == line + 6) {
			p->busy = 1;
			cluster_submit(w[1], cluster_peer_applied, p);
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

/* A membership change is over (a raft callback: only note it). */
static void
cluster_change_cb(struct raft_change *req, int status)
{
	struct cop	*o = req->data;

	o->busy = 0;
	o->status = status == 0 ? 0 : status;
	if (status != 0)
		o->tries++;
	cluster_kick();
}

/* Tell the requester and forget the change. */
static void
cluster_op_finish(struct cop *o, int ok, const char *text)
{
	struct csub	*s;

	TAILQ_REMOVE(&ops, o, entry);
	TAILQ_FOREACH(s, &subs, entry)
		if (s->cb == cluster_op_pinned && s->arg == o)
			s->cb = NULL;
	if (ok)
		log_info("cluster: %s %s (%016" PRIx64 "): %s",
		    o->kind == COP_JOIN ? "join of" : "removal of", o->addr,
		    o->id, text);
	else
		log_warnx("cluster: %s %s failed: %s",
		    o->kind == COP_JOIN ? "join of" : "removal of", o->addr,
		    text);
	if (o->cb != NULL)
		o->cb(o->arg, ok, text);
	free(o->pin_err);
	free(o);
}

/* A joining node's identity is in the log (or not). */
static void
cluster_op_pinned(void *arg, const char *err)
{
	struct cop	*o = arg;

	o->busy = 0;
	if (err != NULL)
		o->pin_err = xstrdup(err);
	else
		o->pinned = 1;
	cluster_kick();
}

/*
 * The leader's membership changes, one step at a time: a join removes any
 * old id under the same address first, adds the node, then makes it a
 * voter once it has caught up; a removal drops the id and its digests.
 */
static void
cluster_ops_run(void)
{
	struct cop		*o;
	const struct raft_server *s;
	uint64_t		 stale[CLUSTER_MAX_NODES];
	struct creq		*r;
	const char		*pin;
	char			 text[160], text2[400], *e;
	int			 rv, n;

	if ((o = TAILQ_FIRST(&ops)) == NULL || o->busy)
		return;
	if (!cluster_running() || !cluster_is_leader() ||
	    raft_state(cluster_raft()) != RAFT_LEADER) {
		cluster_op_finish(o, 0, "this node stopped leading; try "
		    "again");
		return;
	}
	if (o->status == RAFT_LEADERSHIPLOST || o->status == RAFT_NOTLEADER) {
		cluster_op_finish(o, 0, "this node stopped leading; try again");
		return;
	}
	if (o->status != 0 && o->status != RAFT_CANTCHANGE) {
		snprintf(text, sizeof(text), "%s", raft_strerror(o->status));
		cluster_op_finish(o, 0, text);
		return;
	}
	if (o->tries > 50) {
		cluster_op_finish(o, 0, "raft kept refusing the change");
		return;
	}
	o->status = 0;
	o->change.data = o;
	rv = 0;
	if (o->kind == COP_JOIN && o->pin_err != NULL) {
		snprintf(text, sizeof(text), "pinning its certificate: %s",
		    o->pin_err);
		cluster_op_finish(o, 0, text);
		return;
	}
	if (o->kind == COP_JOIN && !o->pinned) {
		const char	*paddr;

		/* First the node's certificate, then its membership. */
		paddr = NULL;
		pin = cfsm_member(cluster_fsm(), o->id, &paddr);
		if (cluster_join_conflict(o->id, o->addr, o->ident, text2,
		    sizeof(text2)) == -1) {
			cluster_op_finish(o, 0, text2);
			return;
		}
		if (pin != NULL && strcmp(pin, o->ident) == 0 &&
		    strcmp(paddr, o->addr) == 0) {
			o->pinned = 1;
		} else {
			if ((e = cfsm_enc_member(o->id, o->addr,
			    o->ident)) == NULL) {
				cluster_op_finish(o, 0, "cannot record its "
				    "certificate");
				return;
			}
			o->busy = 1;
			cluster_submit(e, cluster_op_pinned, o);
			free(e);
			return;
		}
	}
	if (o->kind == COP_JOIN) {
		n = cfsm_stale_ids(&cluster_raft()->configuration, o->id, o->addr,
		    stale, CLUSTER_MAX_NODES);
		if (n > 0) {
			log_info("cluster: %s rejoins as %016" PRIx64
			    "; removing its old id %016" PRIx64, o->addr,
			    o->id, stale[0]);
			if ((e = cfsm_enc_forget(stale[0])) != NULL)
				cluster_submit(e, cluster_ignore, NULL);
			free(e);
			o->busy = 1;
			rv = raft_remove(cluster_raft(), &o->change, stale[0],
			    cluster_change_cb);
		} else if ((s = cluster_server_by_id(o->id)) == NULL) {
			o->busy = 1;
			rv = raft_add(cluster_raft(), &o->change, o->id, o->addr,
			    cluster_change_cb);
		} else if (s->role != RAFT_VOTER) {
			o->busy = 1;
			rv = raft_assign(cluster_raft(), &o->change, o->id,
			    RAFT_VOTER, cluster_change_cb);
		} else {
			snprintf(text, sizeof(text), "%llu",
			    (unsigned long long)raft_commit_index(cluster_raft()));
			cluster_op_finish(o, 1, text);
			cluster_kick();
			return;
		}
	} else {
		s = o->id ? cluster_server_by_id(o->id) :
		    cluster_server_by_addr(o->addr);
		if (s == NULL) {
			/*
			 * Gone already: what the requester wanted. A node we
			 * removed is told, in case it still runs (best effort:
			 * a dead one hears nothing).
			 */
			if (o->tries > 0 && o->ident[0] != '\0') {
				r = cluster_req(o->addr, "REMOVED", NULL,
				    NULL);
				strlcpy(r->pin, o->ident, sizeof(r->pin));
			}
			cluster_op_finish(o, 1, o->tries > 0 ? "removed" :
			    "not a member (removed already)");
			cluster_kick();
			return;
		}
		if (s->id == cluster_id()) {
			cluster_op_finish(o, 0, "the leader cannot remove "
			    "itself this way; run xmpp cluster remove on it");
			return;
		}
		o->id = s->id;
		/* REMOVED goes to the certificate we forget here only. */
		if (o->ident[0] == '\0' && (pin = cfsm_member(cluster_fsm(),
		    s->id, NULL)) != NULL)
			strlcpy(o->ident, pin, sizeof(o->ident));
		if ((e = cfsm_enc_forget(s->id)) != NULL)
			cluster_submit(e, cluster_ignore, NULL);
		free(e);
		if (o->revoke && o->ident[0] != '\0' &&
		    !cluster_pin_shared(s->id, o->ident) &&
		    (e = cfsm_enc_revoke(o->ident)) != NULL) {
			log_info("cluster: the certificate of %s (key "
			    "%.16s...) may not join again until the trust "
			    "bundle is set again on the leader", s->address,
			    o->ident);
			cluster_submit(e, cluster_ignore, NULL);
			free(e);
		}
		o->busy = 1;
		o->tries++;
		rv = raft_remove(cluster_raft(), &o->change, s->id,
		    cluster_change_cb);
	}
	if (rv != 0) {
		o->busy = 0;
		if (rv == RAFT_CANTCHANGE) {
			o->tries++;
			return;		/* the poll timer tries again */
		}
		if (rv == RAFT_NOTLEADER || rv == RAFT_LEADERSHIPLOST)
			snprintf(text, sizeof(text), "this node stopped "
			    "leading; try again");
		else
			snprintf(text, sizeof(text), "%s", raft_strerror(rv));
		cluster_op_finish(o, 0, text);
		return;
	}
	cnet_uv_kick();
}

/*
 * Ask a member something: one line, one answer. LEADER redirects are
 * followed; cb(arg, ok, text) gets the answer after OK or ERR.
 */
static struct creq *
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
static void
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
	    (!h->member || strcmp(h->addr, r->target) != 0)) {
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

/* Account changes through the log. */
int
cluster_user_set(const char *user, const char *blob,
    void (*cb)(void *, const char *), void *arg)
{
	char	*e;

	if ((e = cfsm_enc_user_set(user, blob)) == NULL)
		return (-1);
	cluster_submit(e, cb, arg);
	free(e);
	return (0);
}

/* Deleting an account through the log. */
int
cluster_user_del(const char *user, void (*cb)(void *, const char *),
    void *arg)
{
	char	*e;

	if ((e = cfsm_enc_user_del(user)) == NULL)
		return (-1);
	cluster_submit(e, cb, arg);
	free(e);
	return (0);
}

/*
 * Membership changes queued here as leader (remove <addr>); revoke: the
 * removed member's certificate may not join again until the trust bundle
 * is set again on the leader.
 */
void
cluster_op(int remove, int revoke, uint64_t id, const char *addr,
    void (*cb)(void *, int, const char *), void *arg)
{
	struct cop	*o;

	o = xcalloc(1, sizeof(*o));
	o->kind = remove ? COP_REMOVE : COP_JOIN;
	o->revoke = revoke;
	o->id = id;
	strlcpy(o->addr, addr, sizeof(o->addr));
	o->cb = cb;
	o->arg = arg;
	TAILQ_INSERT_TAIL(&ops, o, entry);
	cluster_kick();
}

/*
 * A join queued here as leader: pin ident (the certificate's identity)
 * for id at addr, then add the node.
 */
void
cluster_op_join(uint64_t id, const char *addr, const char *ident,
    void (*cb)(void *, int, const char *), void *arg)
{
	struct cop	*o;

	o = xcalloc(1, sizeof(*o));
	o->kind = COP_JOIN;
	o->id = id;
	strlcpy(o->addr, addr, sizeof(o->addr));
	strlcpy(o->ident, ident, sizeof(o->ident));
	o->cb = cb;
	o->arg = arg;
	TAILQ_INSERT_TAIL(&ops, o, entry);
	cluster_kick();
}

/* Forget a queued change's callback (the shell went away). */
void
cluster_op_forget(void *arg)
{
	struct cop	*o;
	struct csub	*s;
	struct creq	*r;

	TAILQ_FOREACH(o, &ops, entry)
		if (o->arg == arg)
			o->cb = NULL;
	TAILQ_FOREACH(s, &subs, entry)
		if (s->arg == arg)
			s->cb = NULL;
	TAILQ_FOREACH(r, &reqs, entry)
		if (r->arg == arg)
			r->cb = NULL;
}
