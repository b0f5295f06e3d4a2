/*
 * How the cluster plugs into the XMPP core from above: the router hooks
 * (a follower's stanzas to forward, local sessions and components coming
 * and going, roster changes and offline messages to store through the
 * log) and the operations of the leader's pseudo connections (another
 * node's sessions and components).
 * Each is a small adapter onto the forwarding code (follower.c, leader.c)
 * or the replicated log (raft.c); the XMPP core calls none of those.
 */
#include <stddef.h>

#include "cluster/cluster.h"
#include "cluster/fsm.h"
#include "log.h"
#include "xmpp/xmpp.h"

static int	 chook_stanza(struct xconn *, struct xnode *);
static int	 chook_unbound(struct xconn *);
static int	 chook_deliver(struct xconn *, const struct xnode *);
static int	 chook_roster_put(const char *, const struct db_roster *,
		    void (*)(void *, const char *), void *);
static int	 chook_roster_del(const char *, const char *,
		    void (*)(void *, const char *), void *);
static int	 chook_roster_owner(const char *);
static int	 chook_offline_put(const char *, const char *,
		    void (*)(void *, const char *), void *);
static int	 chook_offline_del(const char *, long long,
		    void (*)(void *, const char *), void *);
static void	 chook_close(struct xconn *);

static const struct router_hooks chook_hooks = {
	chook_stanza,		/* stanza */
	cfwd_bound,		/* bound */
	chook_unbound,		/* unbound */
	cfwd_local_gone,	/* gone */
	cfwd_comp_added,	/* comp_up */
	cfwd_comp_removed,	/* comp_down */
	chook_deliver,		/* deliver */
	chook_roster_put,	/* roster_put */
	chook_roster_del,	/* roster_del */
	cpseudo_hold,		/* hold */
	cpseudo_release,	/* release */
	csm_on,			/* sm_on */
	csm_divert,		/* sm_divert */
	csm_sent,		/* sm_sent */
	csm_ack,		/* sm_ack */
	csm_resume_hook,	/* sm_resume */
	csm_off,		/* sm_off */
	chook_offline_put,	/* offline_put */
	chook_offline_del	/* offline_del */
};

/* A pseudo takes no raw bytes: it has no stream of its own here. */
static const struct xconn_ops chook_pseudo_ops = {
	cfwd_send,		/* send: a <d> frame to its node */
	cfwd_close,		/* error: its node closes it with that */
	chook_close,		/* close */
	NULL			/* send_raw */
};

/* Plug the cluster into the router (once, at cluster_init). */
void
chook_init(void)
{
	router_set_hooks(&chook_hooks);
}

/*
 * A pseudo connection of kind for link l (not NULL); the leader fills in
 * who it is, owns it and frees it with xconn_free.
 */
struct xconn *
chook_pseudo_new(int kind, struct cfwd_link *l)
{
	return (xconn_pseudo_new(kind, &chook_pseudo_ops, l));
}

/*
 * A stanza of one of our own connections: while forwarding (a follower,
 * or a leader still settling) it goes to cfwd_stanza and is not routed
 * here.
 */
static int
chook_stanza(struct xconn *from, struct xnode *n)
{
	if (cfwd_is_remote(from))
		return (0);
	if (!cfwd_active())
		return (cfwd_route_local(from, n));
	cfwd_stanza(from, n);
	return (1);
}

/*
 * A local session ends: while forwarding, cfwd_unbound sees to its
 * unavailable presence; otherwise the core sends it, then calls
 * cfwd_local_gone (the gone hook).
 */
static int
chook_unbound(struct xconn *c)
{
	if (!cfwd_active())
		return (0);
	cfwd_unbound(c);
	return (1);
}

/*
 * A stanza routed here for local connection c: not if it is a replay of
 * a forwarded stanza c had already (a leader died before the sender's
 * node heard it was done).
 */
static int
chook_deliver(struct xconn *c, const struct xnode *n)
{
	(void)n;
	return (cfwd_local_ok(c));
}

/*
 * Whether the replicated state has owner's account: the log ignores a
 * roster item of an account it lacks, so such a change is refused rather
 * than answered as stored.
 */
static int
chook_roster_owner(const char *owner)
{
	struct cfsm	*f = cluster_fsm();

	if (f != NULL && cfsm_user(f, owner) != NULL)
		return (1);
	log_warnx("chook_roster_owner: %s: not an account of the cluster "
	    "(yet): roster change refused", owner);
	return (0);
}

/*
 * Store a roster item: while accounts replicate, through the log (every
 * member, this one too, writes it once it is committed, then done runs);
 * otherwise the core writes it here.
 */
static int
chook_roster_put(const char *owner, const struct db_roster *r,
    void (*done)(void *, const char *), void *arg)
{
	if (!cluster_users_replicated())
		return (0);
	if (!chook_roster_owner(owner))
		return (-1);
	return (cluster_roster_put(owner, r, done, arg) == 0 ? 1 : -1);
}

/* Remove a roster item: as chook_roster_put. */
static int
chook_roster_del(const char *owner, const char *jid,
    void (*done)(void *, const char *), void *arg)
{
	if (!cluster_users_replicated())
		return (0);
	if (!chook_roster_owner(owner))
		return (-1);
	return (cluster_roster_del(owner, jid, done, arg) == 0 ? 1 : -1);
}

/*
 * Store an offline message: while accounts replicate, through the log
 * (every member writes it once committed; the state checks the caps
 * again and may refuse); a node with clustering enabled that is no
 * member (joining, left, not yet initialized) stores none (the sender
 * gets an error: a message kept here would be stranded once it joins);
 * otherwise (a single node) the core writes it here.
 */
static int
chook_offline_put(const char *owner, const char *stanza,
    void (*done)(void *, const char *), void *arg)
{
	if (!cluster_users_replicated())
		return (cluster_enabled() ? -1 : 0);
	if (!chook_roster_owner(owner))
		return (-1);
	return (cluster_offline_put(owner, stanza, done, arg) == 0 ? 1 : -1);
}

/* Remove delivered offline messages: as chook_offline_put. */
static int
chook_offline_del(const char *owner, long long id,
    void (*done)(void *, const char *), void *arg)
{
	if (!cluster_users_replicated())
		return (0);
	return (cluster_offline_del(owner, id, done, arg) == 0 ? 1 : -1);
}

/* xconn_close of a pseudo: as cfwd_close with no stream error. */
static void
chook_close(struct xconn *c)
{
	cfwd_close(c, NULL, NULL);
}
