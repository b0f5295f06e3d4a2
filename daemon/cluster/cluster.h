/*
 * XMPP resiliency: the cluster (DESIGN.md section 7). Shared by the
 * files of daemon/cluster/ and the daemon's commands; the XMPP core never
 * includes it: the cluster plugs into it from above (hooks.c).
 *
 *   cluster.h	     this header; cluster_int.h (libraft's objects),
 *		     fsm.h, fsm_int.h, fwd.h, net.h, req.h are private
 *   node.c	     this node's settings: id, address, what it lacks
 *   raft.c	     raft's life, roles, membership as raft has it,
 *		     shutdown with handover
 *   replicate.c     accounts, rosters and secret digests through the
 *		     log; the leader's first entries
 *   status.c	     raft's configuration, the snapshot the commands
 *		     print (cluster_status)
 *   req.c	     the request channel: requests between nodes (join,
 *		     remove, apply, view, leader redirects)
 *   submit.c	     entries on their way into the log, retried across
 *		     leader changes
 *   member.c	     the leader's membership changes, one at a time
 *   net.c	     the cluster port: listener, per-address limits, the
 *		     hello of accepted channels, hand-off by kind
 *   dial.c	     channels in their handshake, and dialling
 *   trust.c	     TLS on the port, a peer's identity, the trust bundle
 *   hello.c	     the hello line parsed alone (a fuzz target links it)
 *   uv.c	     libuv inside libevent, raft's transport over the port
 *   fsm.c	     the replicated state machine: state, applying entries
 *   fsm_codec.c     its entries as text
 *   fsm_snap.c	     its snapshots, and the pins kept for a restart
 *   fsm_secret.c    its call-bridge secret digests and their report
 *   fwd.c	     forwarding: the role switch and the entry points
 *   link.c	     the forwarding link both ends share
 *   follower.c	     the follower's side: stanzas kept until acknowledged
 *   leader.c	     the leader's side: follower links, pseudo
 *		     connections, routing and acknowledging
 *   settle.c	     the leader settling after an election
 *   hooks.c	     the router hooks and pseudo connection operations
 *		     by which the cluster plugs into the XMPP core
 *   view.c	     the cluster seen from any node, for status and lists
 *
 * Everything runs on mmpd's one libevent thread.
 */
#ifndef CLUSTER_H
#define CLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CLUSTER_PORT		5270	/* default of xmpp port cluster */
#define CLUSTER_HEARTBEAT_MS	100	/* default heartbeat */
#define CLUSTER_ELECTION_MS	500	/* default election timeout */
#define CLUSTER_MAX_NODES	16
#define CFSM_HB_MIN		10	/* xmpp cluster timers' bounds, ms */
#define CFSM_HB_MAX		10000
#define CFSM_EL_MAX		60000
#define CLUSTER_VIEW_MS		1000	/* a view waits for the members */
#define CLUSTER_VIEW_BYTES	(256 * 1024)	/* one member's view answer */
#define CLUSTER_QUORUM_GRACE_MS	3000	/* no quorum contact for two
						   election timeouts and this:
						   clients are sent away */

struct bufferevent;
struct raft_uv_transport;
struct raft_configuration;
struct raft_fsm;
struct uv_loop_s;
struct xconn;
struct xnode;

/* Channels on the cluster port, named in the hello line. */
#define CN_RAFT		1	/* raft's own messages */
#define CN_FWD		2	/* a follower's ordered link to the leader */
#define CN_REQ		3	/* requests: join, remove, apply */

/*
 * What the two ends of a channel say of themselves in the hello, and who
 * the port found the peer to be: the identity of its certificate, and
 * whether that is the pinned identity of a member with the id and address
 * it claims (cluster_peer_member).
 */
struct cnet_hello {
	int		 kind;
	uint64_t	 id;		/* raft node id, 0 if none yet */
	char		 addr[80];	/* its cluster address, ip:port */
	char		 domain[256];	/* its XMPP domain */
	char		 ident[65];	/* its certificate key's SHA-256 */
	int		 member;	/* ident is id's pin, id a member */
};

/*
 * An accepted channel after TLS and hello (CN_FWD, CN_REQ): the callee
 * owns bev (a TLS bufferevent, any bytes after the hello still in its
 * input) and must set its callbacks.
 */
typedef void (*cnet_accept_cb)(struct bufferevent *,
    const struct cnet_hello *, void *);
/*
 * A dialled channel: bev and the peer's hello on success, or bev NULL and
 * a one-line cause (borrowed) on failure.
 */
typedef void (*cnet_dial_cb)(struct bufferevent *, const struct cnet_hello *,
    const char *, void *);

/* net.c: the cluster port */
/* Listen on addr:port with key, certificate, trust bundle and domain;
   -1 with *cause (the caller's to free), nothing left open. */
int		 cnet_start(const char *, int, uint64_t, const char *,
		    const char *, const char *, const char *, char **);
/* Close the port and every channel in its handshake; dials fail later. */
void		 cnet_stop(void);
/* Whether the cluster port is open. */
int		 cnet_running(void);
/* Set the node id our hellos carry. */
void		 cnet_set_id(uint64_t);
/* Who takes accepted channels of a kind (CN_FWD, CN_REQ); NULL: nobody. */
void		 cnet_set_accept(int, cnet_accept_cb, void *);
/* Monotonic milliseconds. */
int64_t		 cnet_now_ms(void);
/* Our cluster address, ip:port (borrowed; "" when not running). */
const char	*cnet_local_addr(void);
/* Trust a peer identity for raft channels until members are known. */
void		 cnet_pin(const char *);

/* dial.c: channels dialled from the port */
/* Open a channel of a kind to ip:port; cb runs later, once, with the
   bev (then the callee's) or a cause (borrowed). The handle is the
   port's and gone after cb. */
struct cnet_dial *cnet_dial(const char *, int, cnet_dial_cb, void *);
/* Forget a dial: its callback will not run. NULL does nothing. */
void		 cnet_dial_cancel(struct cnet_dial *);

/* trust.c: the port's TLS and the identity of nodes */
/* Whether key and certificate load and chain to the trust bundle as
   peers check it; -1 with *cause (the caller's to free). */
int		 cnet_check_identity(const char *, const char *, const char *,
		    char **);
/* A new trust bundle for the running port; untrusted links dropped; -1
   with *cause (the caller's), the old bundle kept. */
int		 cnet_reload(const char *, const char *, const char *,
		    char **);
/* Our own identity (the SHA-256 of our key, hex; borrowed, "" if none). */
const char	*cnet_ident(void);

/* uv.c: libuv in libevent, raft's transport on the port */
/* Create the libuv loop, watched from mmpd's event base; -1 if not. */
int		 cnet_uv_init(void);
/* The libuv loop (the module's; NULL before cnet_uv_init). */
struct uv_loop_s *cnet_uv_loop(void);
/* Run the libuv loop on the next turn (after calls into raft). */
void		 cnet_uv_kick(void);
/* Stop the port and free the loop; raft closed before, not from libuv. */
void		 cnet_uv_free(void);
/* raft's transport on the cluster port (static, the module's). */
struct raft_uv_transport *cnet_transport(void);
/* When bytes last came from node id on a raft channel, -1 if never. */
int64_t		 cnet_last_heard(uint64_t);
/* Close the raft channels of peers that are no longer those members. */
void		 cnet_uv_recheck(void);

/*
 * fsm*.c: the replicated state machine, what the commands use of it (the
 * rest, for daemon/cluster/ only, is in cluster/fsm.h). An entry or text
 * returned as char * is the caller's to free, NULL if bad.
 */
struct cfsm;
struct db_roster;
/* The entry that sets every member's raft timers (hb, el in ms). */
char		*cfsm_enc_timers(int, int);
/* The entry that lets every removed identity join again. */
char		*cfsm_enc_revoke_clear(void);
/* The cluster's raft timers: 0 with hb and el, -1 if it has none. */
int		 cfsm_timers(const struct cfsm *, int *, int *);
/* Whether a node has published the digests of all its call bridges. */
int		 cfsm_published(const struct cfsm *, uint64_t);
/* Call bridges with a digest on a node, sorted; free with util_free_argv. */
char		**cfsm_digest_names(const struct cfsm *, uint64_t, int *);
/* "consistent", or one line per call bridge the members disagree on. */
char		*cfsm_secret_report(const struct cfsm *, const uint64_t *,
		    const char **, int);

/* fwd.c, follower.c: forwarding, the role switch and the follower */
#define CFWD_NONE	0	/* not a cluster member: route locally */
#define CFWD_FOLLOWER	1	/* forward to the leader (or queue) */
#define CFWD_LEADER	2	/* route for everyone */
/* Set up forwarding (nothing runs until cfwd_role); once a process. */
void		 cfwd_init(void);
/* Free everything at exit: links, pseudos, kept stanzas, events. */
void		 cfwd_free(void);
/* Our role (CFWD_*), the leader's id and address, the member ids. */
void		 cfwd_role(int, uint64_t, const char *, const uint64_t *, int);
/* Whether the router must hand the stanzas of our connections to us. */
int		 cfwd_active(void);
/* Whether c is a pseudo connection (another node's). */
int		 cfwd_is_remote(const struct xconn *);
/* Keep and forward a stanza of a local stream; it stays the caller's. */
void		 cfwd_stanza(struct xconn *, struct xnode *);
/* A local session is bound: a follower registers it, a leader tells. */
void		 cfwd_bound(struct xconn *);
/* A local session ends while cfwd_active: its unavailable presence. */
void		 cfwd_unbound(struct xconn *);
/* A session of the leader itself ends: its followers hear of it. */
void		 cfwd_local_gone(struct xconn *);
/* A local call bridge authenticated: a follower registers it. */
void		 cfwd_comp_added(struct xconn *);
/* A local call bridge went: a follower tells the leader. */
void		 cfwd_comp_removed(struct xconn *);
/* Lines (label, value, borrowed for the call) for xmpp cluster status. */
void		 cfwd_status_lines(void (*)(void *, const char *, const char *),
		    void *);
/* follower.c: the node lost its quorum: answer the stanzas kept for the
   leader whose senders are still here with an error; how many. */
size_t		 cfwd_answer_kept(void);

/* hooks.c: the cluster plugged into the XMPP core's router and connections */
struct cfwd_link;
/* Register the router hooks (once, at cluster_init). */
void		 chook_init(void);
/* A ready pseudo connection of a kind for a link (the caller frees). */
struct xconn	*chook_pseudo_new(int, struct cfwd_link *);

/* leader.c, fwd.c: forwarding, the leader's side */
/* A follower's link accepted on the port (the link takes bev). */
void		 cfwd_accept(struct bufferevent *, const struct cnet_hello *,
		    void *);
/* Leader shutting down: tell every follower not to wait for us. */
void		 cfwd_leaving(void);
/* xconn_send to a pseudo: a <d> frame to its node (n stays caller's). */
void		 cfwd_send(struct xconn *, const struct xnode *);
/* xconn_error or xconn_close of a pseudo: its node closes the session. */
void		 cfwd_close(struct xconn *, const char *, const char *);
/* Whether local connection c may have the stanza being routed: 0 if a
   replay of one it had already (pseudo.c). */
int		 cfwd_local_ok(struct xconn *);
/* The hold hook: the forwarded stanza routed now from pseudo c is done
   later; a handle for cpseudo_release, or 0 (pseudo.c). */
uint64_t	 cpseudo_hold(struct xconn *);
/* The release hook: a held stanza is done; its <ack> may go. */
void		 cpseudo_release(uint64_t);
/* A leader routes a stanza of its own connection from (the stanza stays
   the caller's) under an origin of ours: 1 if routed, 0 if the router
   must route it itself (pseudo.c). */
int		 cfwd_route_local(struct xconn *, struct xnode *);
/* Close the links of peers no longer the members they were. */
void		 cfwd_recheck(void);

/* smup.c: the core's stream-management hooks (struct router_hooks) */
/* Local session c enabled SM with resume: a follower tells the leader. */
void		 csm_on(struct xconn *);
/* A follower takes what its core would send SM session c itself (1). */
int		 csm_divert(struct xconn *, const struct xnode *);
/* Stanza n (borrowed) went to our SM session c as number h: mirrored. */
void		 csm_sent(struct xconn *, const struct xnode *, uint32_t);
/* The client of c acknowledged h (in: c's inbound count). */
void		 csm_ack(struct xconn *, uint32_t, uint32_t);
/* New stream c resumes an id (borrowed) not held here, at h: 1 if the
   leader looks for it (sm_resume_done later), 0 to fail now. */
int		 csm_resume_hook(struct xconn *, const char *, uint32_t);
/* SM session c ended for good. */
void		 csm_off(struct xconn *);
/* The server is about to tell c's client it handled in stanzas. */
uint32_t	 csm_answer_hook(struct xconn *, uint32_t);

/* smlead.c */
/* The daemon stops: a linked member keeps its SM sessions resumable
   elsewhere (a leader's on the next leader; before xmpp_stop). */
void		 csm_shutdown(void);

/* req.c: requests between nodes (submit.c, member.c: cluster/req.h) */
/* Move submissions and membership changes along (after raft's news). */
void		 creq_run(void);
/* Raft is stopping here: what waits on it fails. */
void		 creq_stop(void);
/* Raft has closed: the changes and submissions it ran fail. */
void		 creq_closed(void);
/* Take a request channel a peer opened (the callee owns bev). */
void		 creq_accept(struct bufferevent *, const struct cnet_hello *,
		    void *);
/* At exit: free every request, submission and channel. */
void		 creq_free(void);
/* Membership changed: close the channels of former members. */
void		 creq_recheck(void);
/* Whether this node may route for the cluster right now (leads). */
int		 cluster_routing_ok(void);
/* member.c: as leader, pin ident for id at addr, then add the node. */
void		 cluster_op_join(uint64_t, const char *, const char *,
		    void (*)(void *, int, const char *), void *);

/* view.c: the cluster seen from this node, for commands. */
struct cmdctx;
struct cview_node {
	uint64_t	 id;
	char		 addr[80];
	int		 role;		/* CLUSTER_VOTER, ... */
	int		 self;
	int		 answered;
	char		*err;		/* why it did not */
	int64_t		 heard_ms;	/* ms since anyone heard it, -1 */
	long long	 omitted;	/* sessions left out of its answer */
};
struct cview_sess {
	char		*jid;		/* full JID */
	char		*addr;		/* the client's address:port */
	time_t		 since;
	int		 node;		/* index in nodes */
};
struct cview_comp {
	char		*name;		/* call bridge */
	char		*peer;
	time_t		 since;
	int		 node;
};
struct cview_fail {
	char		*name;
	char		*peer;
	time_t		 at;
	char		*reason;
	int		 node;
};
struct cview {
	struct cview_node	 nodes[CLUSTER_MAX_NODES];
	int			 nnodes;
	struct cview_sess	*sess;
	size_t			 nsess;
	struct cview_comp	*comp;
	size_t			 ncomp;
	struct cview_fail	*fail;
	size_t			 nfail;
};
/* This node's answer to VIEW, without "OK " (the caller frees). */
char		*cview_local(void);
/* This node's view alone (not a member, or raft not running); cview_free. */
struct cview	*cview_here(void);
/* Free a view and everything in it. */
void		 cview_free(struct cview *);
/* Gather the view, then print(ctx, view) (view borrowed); CMD_PENDING. */
int		 cview_run(struct cmdctx *, int (*)(struct cmdctx *,
		    const struct cview *));
/* Member k unreachable for el_ms: ms since heard, INT64_MAX never, -1 no. */
int64_t		 cview_unreachable(const struct cview *, int, int64_t);
/* The address of member k (borrowed), or "this node" when unnamed. */
const char	*cview_addr(const struct cview *, int);
/* A time for humans, UTC, written into buf (returned). */
const char	*cview_when(time_t, char *, size_t);

/* node.c: this node's cluster settings. */
struct sasl_creds;
/* Whether xmpp cluster enable is in effect. */
int		 cluster_enabled(void);
/* Whether this node is a cluster member (initialized or joined). */
int		 cluster_member(void);
/* This node's raft id, made and stored on first use. */
uint64_t	 cluster_node_id(void);
/* This node's cluster address (ip:port) into out; -1 with *cause. */
int		 cluster_local_addr(char *, size_t, char **);
/* The cluster address (ip:port) with another first xmpp listen entry. */
int		 cluster_addr_for(const char *, char *, size_t, char **);
/* What this node lacks to cluster, one line, or NULL; the caller frees. */
char		*cluster_missing(void);
/* Check this node's certificate as its cluster identity; -1 with *cause. */
int		 cluster_check_identity(char **);

/* raft.c: raft's life on this node, its role, shutdown with handover. */
/* Set up the cluster for the daemon's life; rejoin if a member. */
int		 cluster_init(char **);
/* Free what the cluster holds, at exit once raft is closed. */
void		 cluster_free(void);
/* Hand leadership over, then close raft; done runs when it is over. */
void		 cluster_shutdown(void (*)(void));
/* Whether the shutdown is over (raft closed). */
int		 cluster_down(void);
/* Whether raft runs here (started and not closing). */
int		 cluster_running(void);
/* Whether this node leads (as last polled). */
int		 cluster_is_leader(void);
/* Every poll: without quorum too long, send clients away (and back). */
void		 cluster_quorum_watch(void);
/* Raft stops here: accept streams again if they were refused. */
void		 cluster_quorum_reset(void);
/* Whether accounts and rosters go through the replicated log. */
int		 cluster_users_replicated(void);
/* Start raft (with 1: bootstrap a new cluster of one); -1 with *cause. */
int		 cluster_start(int, char **);
/* Stop raft; done (may be NULL) runs once it closed. */
void		 cluster_stop(void (*)(void));
/* Remove raft's files and the kept pins (after leaving). */
void		 cluster_wipe(void);
/* After leaving: cluster_wipe, and the cluster's offline messages go. */
void		 cluster_wipe_left(void);
/* Our leader (id at addr) says it removed us: leave; -1 if not ours. */
int		 cluster_removed_by(uint64_t, const char *);
/* Hand leadership to another voter; 0 started, -1 with *cause. */
int		 cluster_handover(char **);
/* Run the deferred cluster work on the next turn of the loop. */
void		 cluster_kick(void);
/* The leader's address when another node leads, else NULL (borrowed). */
const char	*cluster_remote_leader(void);
/* Whether a channel's peer (id, addr, ident) is that member; -1 unknown. */
int		 cluster_peer_member(uint64_t, const char *, const char *);
/* Whether node id has a pinned identity other than ident. */
int		 cluster_pin_differs(uint64_t, const char *);
/* The replicated state machine (borrowed), NULL when raft is stopped. */
struct cfsm	*cluster_fsm(void);
/* This node's raft id (0 before the first start). */
uint64_t	 cluster_id(void);
/* When this node entered the state last polled. */
time_t		 cluster_since(void);
/* The leader's address as last polled (borrowed), or NULL. */
const char	*cluster_leader_addr(void);
/* This node's cluster address (borrowed; empty before the first start). */
const char	*cluster_addr(void);

/* replicate.c: accounts, rosters and secret digests through the log. */
/* Two credentials as one log-safe string; the caller frees. */
char		*cluster_creds_encode(const struct sasl_creds *,
		    const struct sasl_creds *);
/* The reverse of cluster_creds_encode; -1 if the blob is bad. */
int		 cluster_creds_decode(const char *, struct sasl_creds *,
		    struct sasl_creds *);
/* Call bridges changed here: publish their digests soon. */
void		 cluster_callbridges_changed(void);
/* After initialize: this node's accounts become the cluster's. */
void		 cluster_publish_users(void);
/* Owner's roster item through the log; cb(arg, NULL) once stored here,
   or cb(arg, error); -1 (no cb) if it cannot go in the log. */
int		 cluster_roster_put(const char *, const struct db_roster *,
		    void (*)(void *, const char *), void *);
/* Removing owner's roster item jid through the log: as put. */
int		 cluster_roster_del(const char *, const char *,
		    void (*)(void *, const char *), void *);
/* Owner's offline message (serialised) through the log: as the roster
   put; the error if the state refused it (over the caps). */
int		 cluster_offline_put(const char *, const char *,
		    void (*)(void *, const char *), void *);
/* Before a join: this node's offline messages wait out of its table. */
void		 cluster_offline_stash(void);
/* A join refused: they go back to the table. */
void		 cluster_offline_unstash(void);
/* Removing owner's offline messages up to an id through the log. */
int		 cluster_offline_del(const char *, long long,
		    void (*)(void *, const char *), void *);
/* After a join at commit index idx: our accounts, then their roster
   items the cluster lacks, go in once caught up. */
void		 cluster_merge_users(unsigned long long);
/* A submission callback nobody waits for; arg, if set, is a busy flag. */
void		 cluster_ignore(void *, const char *);

/* req.c: what the commands and replicate.c ask of the log and leader. */
/* Put an entry (copied) in the log; cb(arg, NULL) once applied here. */
void		 cluster_submit(const char *, void (*)(void *, const char *),
		    void *);
/* Set an account (user, credentials blob) through the log; -1 if bad. */
int		 cluster_user_set(const char *, const char *,
		    void (*)(void *, const char *), void *);
/* Delete an account through the log; -1 if the name is bad. */
int		 cluster_user_del(const char *,
		    void (*)(void *, const char *), void *);
/* Ask a member one line; cb(arg, ok, text); a handle to cancel. */
void		*cluster_request(const char *, const char *,
		    void (*)(void *, int, const char *), void *);
/* Cancel a request from cluster_request; NULL does nothing. */
void		 cluster_request_cancel(void *);
/* As leader, queue removing (1) or adding id at addr; cb when done. */
void		 cluster_op(int, int, uint64_t, const char *,
		    void (*)(void *, int, const char *), void *);
/* Forget every callback (changes, submissions, requests) for arg. */
void		 cluster_op_forget(void *);

/*
 * status.c: the cluster as raft has it now, in our own words, for the
 * commands (nothing outside daemon/cluster/ reads libraft).
 */
#define CLUSTER_UNAVAILABLE	0	/* raft's state */
#define CLUSTER_FOLLOWER	1
#define CLUSTER_CANDIDATE	2
#define CLUSTER_LEADER		3
#define CLUSTER_VOTER		1	/* a member's role */
#define CLUSTER_STANDBY		2
#define CLUSTER_SPARE		3
struct cluster_node {
	uint64_t	 id;
	char		*addr;		/* its cluster address, ip:port */
	int		 role;		/* CLUSTER_VOTER, ... */
	int		 self;		/* this node */
	int		 leader;	/* the leader raft knows */
	int		 published;	/* its digests are in (1: no fsm) */
	int64_t		 heard_ms;	/* since heard in raft, -1 never */
};
struct cluster_status {
	int		 state;		/* CLUSTER_LEADER, ... */
	unsigned long long term;
	uint64_t	 id;		/* this node */
	char		 addr[80];
	uint64_t	 leader;	/* 0 if raft knows none */
	char		 leader_addr[80];
	int64_t		 leader_heard_ms;	/* -1 never */
	unsigned	 heartbeat_ms;	/* raft's timers in use here */
	unsigned	 election_ms;
	time_t		 since;		/* in the state last polled since */
	struct cluster_node *nodes;	/* raft's configuration, in order */
	size_t		 nnodes;
};
/*
 * A snapshot the caller owns (nodes and their addresses too), or NULL if
 * raft does not run here; free it with cluster_status_free.
 */
struct cluster_status *cluster_status(void);
/* Free a snapshot and its nodes; NULL does nothing. */
void		 cluster_status_free(struct cluster_status *);
/* raft's state now (CLUSTER_LEADER, ...), -1 if raft does not run. */
int		 cluster_state_now(void);
/* Give this node's raft timers hb and el (ms) now, if it runs. */
void		 cluster_set_timers(int, int);
/* Whether host (numeric, no port) is a member's address. */
int		 cluster_addr_member(const char *);
/* The address raft's configuration has for this node into out; -1 if
   raft does not run here or has none. */
int		 cluster_member_addr(char *, size_t);

#endif /* CLUSTER_H */
