/*
 * The leader's membership changes, one at a time: a join pins the
 * node's certificate in the log, removes any old id under the same
 * address, adds the node and makes it a voter once it has caught up; a
 * removal forgets the node's digests and pin, may revoke its certificate
 * and tells the node. A change runs only while this node leads; raft's
 * callbacks only record what happened (creq_run moves the queue along).
 */
#include <sys/queue.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <raft.h>

#include "cluster/cluster.h"
#include "cluster/cluster_int.h"
#include "cluster/fsm.h"
#include "cluster/req.h"
#include "log.h"
#include "xmalloc.h"

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
	int			 submitted;	/* raft took a change of ours:
					   a failure now is no proof */
	int64_t			 deadline;	/* refused (busy raft) until */
	int			 status;
	int			 tries;
	int			 revoke;	/* remove: pin may not join */
	void			(*cb)(void *, int, const char *);
	void			*arg;
};
#define COP_JOIN	1
#define COP_REMOVE	2

/* How long a change waits while raft refuses it (another one runs). */
#define CLUSTER_CHANGE_WAIT_MS	10000

static TAILQ_HEAD(, cop)	 ops = TAILQ_HEAD_INITIALIZER(ops);

static void	 cluster_change_cb(struct raft_change *, int);
static void	 cluster_op_finish(struct cop *, int, const char *);
static void	 cluster_op_fail(struct cop *, const char *);
static struct cop *cluster_op_new(int, uint64_t, const char *,
		    void (*)(void *, int, const char *), void *);
static void	 cluster_op_pinned(void *, const char *);
static int	 cluster_pin_shared(uint64_t, const char *);

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

	o = cluster_op_new(remove ? COP_REMOVE : COP_JOIN, id, addr, cb, arg);
	o->revoke = revoke;
	cluster_kick();
}

/* A change queued, not started. */
static struct cop *
cluster_op_new(int kind, uint64_t id, const char *addr,
    void (*cb)(void *, int, const char *), void *arg)
{
	struct cop	*o;

	o = xcalloc(1, sizeof(*o));
	o->kind = kind;
	o->id = id;
	strlcpy(o->addr, addr, sizeof(o->addr));
	o->deadline = cnet_now_ms() + CLUSTER_CHANGE_WAIT_MS;
	o->cb = cb;
	o->arg = arg;
	TAILQ_INSERT_TAIL(&ops, o, entry);
	return (o);
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

	o = cluster_op_new(COP_JOIN, id, addr, cb, arg);
	strlcpy(o->ident, ident, sizeof(o->ident));
	cluster_kick();
}

/* Forget a queued change's callback (the shell went away). */
void
cluster_op_forget(void *arg)
{
	struct cop	*o;

	TAILQ_FOREACH(o, &ops, entry)
		if (o->arg == arg)
			o->cb = NULL;
	cluster_subs_forget(NULL, arg);
	cluster_reqs_forget(arg);
}

/* Raft is stopping here: the changes not in raft yet fail. */
void
cluster_ops_stop(void)
{
	struct cop	*o;

	while ((o = TAILQ_FIRST(&ops)) != NULL && !o->busy)
		cluster_op_fail(o, "the leader left the cluster");
}

/* Raft has closed: every change fails. */
void
cluster_ops_closed(void)
{
	struct cop	*o;

	while ((o = TAILQ_FIRST(&ops)) != NULL)
		cluster_op_fail(o, "the leader left the cluster");
}

/*
 * A change failed: if raft took it at some point, it may still commit
 * (through the next leader, say), and the requester must hear that the
 * outcome is unknown, not that nothing happened.
 */
static void
cluster_op_fail(struct cop *o, const char *why)
{
	char	 text[400];

	if (o->submitted)
		snprintf(text, sizeof(text), "outcome unknown: %s; the change "
		    "may still be made: check xmpp cluster status", why);
	else
		snprintf(text, sizeof(text), "%s", why);
	cluster_op_finish(o, 0, text);
}

/*
 * The leader's word to node id (CHECK) on whether it is a member, into
 * buf: 0 "member" or "removed ...", -1 not known now (why in buf). Only
 * a configuration raft has committed counts: a change under way may
 * still go either way.
 */
int
cluster_member_answer(uint64_t id, char *buf, size_t len)
{
	struct raft	*r = cluster_raft();

	if (r == NULL || raft_state(r) != RAFT_LEADER) {
		snprintf(buf, len, "this node does not lead");
		return (-1);
	}
	if (r->configuration_uncommitted_index != 0) {
		snprintf(buf, len, "a membership change is under way; ask "
		    "again");
		return (-1);
	}
	if (cluster_server_by_id(id) != NULL)
		snprintf(buf, len, "member");
	else
		snprintf(buf, len, "removed: node %016llx is not in the "
		    "configuration of the leader %s", (unsigned long long)id,
		    cluster_addr());
	return (0);
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
int
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
	TAILQ_REMOVE(&ops, o, entry);
	cluster_subs_forget(cluster_op_pinned, o);
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
void
cluster_ops_run(void)
{
	struct cop		*o;
	const struct raft_server *s;
	uint64_t		 stale[CLUSTER_MAX_NODES];
	const char		*pin;
	char			 text[160], text2[400], *e;
	int			 rv, n;

	if ((o = TAILQ_FIRST(&ops)) == NULL || o->busy)
		return;
	if (!cluster_running() || !cluster_is_leader() ||
	    raft_state(cluster_raft()) != RAFT_LEADER) {
		cluster_op_fail(o, "this node stopped leading; try again");
		return;
	}
	if (o->status == RAFT_LEADERSHIPLOST || o->status == RAFT_NOTLEADER) {
		cluster_op_fail(o, "this node stopped leading; try again");
		return;
	}
	if (o->status != 0 && o->status != RAFT_CANTCHANGE) {
		snprintf(text, sizeof(text), "%s", raft_strerror(o->status));
		cluster_op_fail(o, text);
		return;
	}
	if (cnet_now_ms() > o->deadline) {
		cluster_op_fail(o, "raft kept refusing the change (another "
		    "membership change was under way); try again");
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
			 * Gone, in a configuration raft may still take back
			 * (a change of the last leader's under way): wait.
			 */
			if (cluster_raft()->configuration_uncommitted_index !=
			    0)
				return;		/* the poll looks again */
			/*
			 * Gone already: what the requester wanted. A node we
			 * removed is told, in case it still runs (best effort:
			 * a dead one hears nothing, and finds out by asking,
			 * see cluster_member_watch).
			 */
			if (o->submitted && o->ident[0] != '\0')
				cluster_req_removed(o->addr, o->ident);
			cluster_op_finish(o, 1, o->submitted ? "removed" :
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
		cluster_op_fail(o, text);
		return;
	}
	o->submitted = 1;
	cnet_uv_kick();
}
