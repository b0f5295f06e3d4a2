/*
 * Forwarding internals shared by fwd.c (the role switch and the entry
 * points the XMPP code calls), link.c (the link both ends share),
 * follower.c, leader.c, pseudo.c, relay.c and settle.c (the two roles),
 * and by no other file. Each file's state is its own (static); what
 * another file needs of it goes through the functions below. Include
 * after <sys/queue.h>, <stdint.h>, "cluster/cluster.h" and
 * "xmpp/xmpp.h".
 */
#ifndef CLUSTER_FWD_H
#define CLUSTER_FWD_H

#define NS_CLUSTER		"urn:mmp:cluster"
#define CFWD_DMARKS		16
#define CFWD_ORIGINS_MAX	64	/* sending processes remembered */
#define CFWD_ORIGIN_TO_MAX	64	/* recipients of the last stanza of
					   each, here */

struct bufferevent;
struct xparser;
struct clead_pend;
struct cfwd_link;
struct crelay_frame;
struct csm_entry;
struct csm_stanzas;

/* A full JID in a list. */
struct cfwd_jid {
	TAILQ_ENTRY(cfwd_jid)	 entry;
	char			*jid;
};
TAILQ_HEAD(cfwd_jids, cfwd_jid);

/* By ms, the <d> frames of a link up to n had been written. */
struct cfwd_dmark {
	uint64_t		 n;
	int64_t			 ms;
};

/*
 * Where a stanza being routed comes from: the follower process that
 * forwarded it (its epoch; 0: none) and its <s> number, which a replay
 * keeps; and the routing pass (one router_route of it on one leader)
 * that sends it now. A stanza of this node's own (a leader's client or
 * call bridge) also names its sender (kind, from) and the stanza as it
 * is routed (st), all borrowed, so that what is not delivered when we
 * step down goes to the next leader (from is NULL for forwarded ones).
 */
struct cfwd_origin {
	uint64_t		 epoch;
	uint64_t		 seq;
	uint64_t		 pass;
	int			 kind;
	const char		*from;
	const struct xnode	*st;
};

/* What a link's role does with what the link reads (link.c calls it). */
struct clink_ops {
	/* the peer's stream header, in urn:mmp:cluster; attrs borrowed */
	void	(*start)(struct cfwd_link *, const char **);
	/* one frame in urn:mmp:cluster, the callee's to free */
	void	(*frame)(struct cfwd_link *, struct xnode *);
	/* a read's frames are parsed and the link is still up */
	void	(*read)(struct cfwd_link *);
	/* the link failed or ended: the role closes it */
	void	(*lost)(struct cfwd_link *, const char *);
};

/* A link: ours to the leader (up), or a follower's to us. */
struct cfwd_link {
	TAILQ_ENTRY(cfwd_link)	 entry;		/* the leader's links, dead */
	TAILQ_ENTRY(cfwd_link)	 lentry;	/* link.c: every live link */
	const struct clink_ops	*ops;
	uint64_t		 serial;
	int			 up;
	struct bufferevent	*bev;
	struct xparser		*parser;
	int			 busy;		/* in its read callback */
	int			 dead;		/* closed, for the reaper */
	int			 broken;	/* to be closed by the reaper */
	uint64_t		 id;		/* the peer's node id */
	char			 addr[80];	/* and cluster address */
	char			 ident[65];	/* and certificate's */

	/* a follower's link, at the leader */
	int			 synced;
	int			 relinked;	/* resumed: <d> wait for <synced/> */
	struct xconn_list	 pseudos;
	int			 nsess;
	int			 ncomp;
	struct cfwd_jids	 carried;	/* of the link it replaced */
	uint64_t		 epoch;		/* the follower's process */
	uint64_t		 floor;		/* <s> its last link routed */
	uint64_t		 rseq;		/* last <s> read */
	uint64_t		 pseq;		/* last <s> routed */
	uint64_t		 marked;	/* last with an <ack> owed */
	uint64_t		 acked;		/* last <ack> sent */
	uint64_t		 dbox;		/* <d> numbering, per process */
	uint64_t		 dsent;		/* last <d> numbered */
	uint64_t		 dacked;	/* and delivered */
	TAILQ_HEAD(crelay_frames, crelay_frame) kept; /* undelivered */
	size_t			 nkept;
	size_t			 keptbytes;
	uint64_t		 refused;	/* stanzas, since it had room */
	struct cfwd_dmark	 dmarks[CFWD_DMARKS]; /* undelivered */
	int			 ndmarks;
	TAILQ_HEAD(clead_pends, clead_pend) pend;
	int			 npend;
	int64_t			 since_ms;	/* linked (at the leader) */
	int			 holder;	/* stands in for a lost link */
	int64_t			 lost_ms;	/* since */
	int			 announce;	/* its sessions said gone */

	/* ours to the leader */
	uint64_t		 dsaid;		/* last <dack> sent */
};
TAILQ_HEAD(cfwd_links, cfwd_link);

/* fwd.c */
/* Our role now: CFWD_NONE, CFWD_FOLLOWER or CFWD_LEADER. */
int		 cfwd_role_get(void);

/* link.c */
/* A link over bev (which it now owns) whose role is ops; addr names the
 * peer when the hello does not. The caller puts it on its role's list. */
struct cfwd_link *clink_new(struct bufferevent *, int,
		    const struct cnet_hello *, const struct clink_ops *,
		    const char *);
/* Write our stream header; epoch != 0 (a follower's) is carried in it. */
void		 clink_header(struct cfwd_link *, uint64_t);
/* Queue bytes on a link; a peer that stops reading is lost soon. */
void		 clink_write(struct cfwd_link *, const char *, size_t);
/* Serialise a frame tree onto a link and free the tree. */
void		 clink_send(struct cfwd_link *, struct xnode *);
/* A frame tree serialised, allocated; the tree is freed. */
char		*clink_frame_string(struct xnode *, size_t *);
/* A new frame <name> with one attribute (if attr is not NULL). */
struct xnode	*clink_frame(const char *, const char *, const char *);
/* Set a decimal attribute on a frame. */
void		 clink_set_num(struct xnode *, const char *, uint64_t);
/* Append a copy of a stanza to a frame (an inherited namespace is made
 * jabber:client, not to inherit ours); the stanza stays the caller's. */
void		 clink_add_stanza(struct xnode *, const struct xnode *);
/* A stand-in for link l that was lost: l's peer, no traffic, on no
 * role's list; the role moves what it keeps of l onto it. */
struct cfwd_link *clink_holder(struct cfwd_link *);
/* Read what already waits on a link's input (after dial or accept). */
void		 clink_pending(struct cfwd_link *);
/* Stop a link's traffic and hand it to the reaper (the role has taken
 * it off its own list first). */
void		 clink_cut(struct cfwd_link *);
/* Have the reaper run soon: broken links lost, dead ones freed. */
void		 clink_reap_soon(void);
/* Make the reaper's event (once the loop exists). */
void		 clink_events(void);
/* At exit: reap now and free the reaper's event. */
void		 clink_free(void);
/* The connection id names (full JID or component domain) if it is on
 * link l (NULL: a local one) and not closing, else NULL; borrowed. */
struct xconn	*clink_find(struct cfwd_link *, int, const char *);
/* Whether the router has a session of a full JID, here or elsewhere. */
int		 clink_has_session(const char *);
/* A decimal attribute value into *v; -1 if it is not one. */
int		 clink_num(const char *, uint64_t *);
/* Roughly what a tree takes in memory, len its serialised length. */
size_t		 clink_tree_bytes(const struct xnode *, size_t);
/* Whether a stanza of origin o for recipient to (a full JID or domain)
 * is new here (1, and noted as delivered) or was delivered already (0). */
int		 clink_origin_new(const struct cfwd_origin *, const char *);
/* Forget every origin (at exit). */
void		 clink_origin_free(void);
/* Add a copy of a JID to a list; empty a list (freeing its JIDs). */
void		 clink_jids_add(struct cfwd_jids *, const char *);
void		 clink_jids_clear(struct cfwd_jids *);

/* relay.c */
/* A new numbering of <d> frames for the follower process of link l. */
void		 crelay_new(struct cfwd_link *);
/* Frames up to n delivered (<dack>): forget them; 0 if n was news. */
int		 crelay_ack(struct cfwd_link *, uint64_t);
/* Link l takes over o's numbering and the frames o kept. */
void		 crelay_move(struct cfwd_link *, struct cfwd_link *);
/* Write every kept frame on l again (a new link of the same process). */
void		 crelay_resend(struct cfwd_link *);
/* Forget the frames kept for l (its process is gone). */
void		 crelay_clear(struct cfwd_link *);
/* The recipient to (kind) registered again elsewhere: answer what l
 * keeps for it to the senders and empty those frames; how many. */
size_t		 crelay_moved(struct cfwd_link *, int, const char *);
/* l's follower is gone for good: answer what it kept to the senders. */
void		 crelay_answer_all(struct cfwd_link *);
/* A copy for l's node of stanza h of our SM session to (<d m>). */
void		 crelay_copy(struct cfwd_link *, const char *, uint32_t,
		    const struct xnode *);
/* We step down: this node's own stanzas kept for l go to our queue for
 * the next leader; the others' are forgotten (their nodes send them
 * again). How many went to the queue. */
size_t		 crelay_requeue(struct cfwd_link *);
/* Session jid of l's node enabled SM after our frame k: mirror in e
 * what l keeps for it after k. */
void		 crelay_mirror(struct cfwd_link *, const char *, uint64_t,
		    struct csm_entry *);

/* follower.c */
/* Our epoch (once a process) and the follower's events. */
void		 cfwd_follower_init(void);
/* Follow the leader lid at laddr (NULL: unknown); dial if need be. */
void		 cfwd_follow(int, uint64_t, const char *);
/* Stop following: no uplink, dial or leader; returns the leader we
 * followed if following (else 0), its sessions moved to orphans unless
 * it said bye, and *left whether it did. */
uint64_t	 cfwd_unfollow(int, struct cfwd_jids *, int *);
/* Not clustered: no uplink, no dial, no leader. */
void		 cfwd_follow_stop(void);
/* Follower hooks: register a session (or unbind it), a component. */
void		 cfwd_up_bind(struct xconn *);
void		 cfwd_up_unbind(struct xconn *);
void		 cfwd_up_comp(struct xconn *, int);
/* Close our uplink if its peer is no longer the member it was. */
void		 cfwd_up_recheck(void);
/* The number of stanzas kept for the leader. */
size_t		 cfwd_queued(void);
/* The inbound count of SM session c safe to tell its client (of in). */
uint32_t	 cfwd_sm_safe(struct xconn *, uint32_t);
/* Our epoch (this process), and the next number of one of our stanzas. */
uint64_t	 cfwd_epoch(void);
uint64_t	 cfwd_seq_next(void);
/* Keep stanza st (copied) of ours, from id (kind), numbered seq, for
 * the next leader, in order; sent: a leader may have delivered it. */
void		 cfwd_requeue(int, const char *, uint64_t, const struct xnode *,
		    int);
/* Route what we kept locally (no longer forwarding), in order. */
void		 cfwd_drain(void);
/* The follower's line for xmpp cluster status, allocated. */
char		*cfwd_follower_status(void);
/* At exit: the queue, the lists and the events. */
void		 cfwd_follower_free(void);
/* Our link to the leader (NULL: none), and the last <d> delivered. */
struct cfwd_link *cfwd_uplink(void);
uint64_t	 cfwd_dlast(void);
/* A stanza (borrowed) our core would send SM session c itself: kept and
 * sent to the leader (<s l='1'>), which sends it back numbered. */
void		 cfwd_local(struct xconn *, const struct xnode *);

/* pseudo.c */
/* Set up the stand-in link of origins that went. */
void		 cpseudo_init(void);
/* The reaper of dropped pseudos, once the loop exists; and at exit. */
void		 cpseudo_events(void);
void		 cpseudo_free(void);
/* A follower's session (<bind>) or call bridge (<comp>) registers. */
void		 cpseudo_bind(struct cfwd_link *, struct xnode *);
void		 cpseudo_comp(struct cfwd_link *, struct xnode *);
/* A pseudo leaves the router and its link (gone: unavailable to its
 * contacts); freed later. */
void		 cpseudo_drop(struct xconn *, int);
/* Of the sessions and call bridges l's node had on the link l replaced
 * or took over, those it did not register again are gone. */
void		 cpseudo_carried_gone(struct cfwd_link *);
void		 cpseudo_carried_unsent(struct cfwd_link *);
/* Route a stanza (the caller's) from id of link l (NULL: this node),
 * forwarded by the follower process epoch as its <s> seq (epoch 0: no
 * origin, as for the leader's own answers). */
void		 cpseudo_route_from(struct cfwd_link *, int, const char *,
		    uint64_t, uint64_t, struct xnode *);
/* Route link l's <s> frame (the caller's) of seq from id (kind): its
 * stanza, or one that came back (cpseudo_back). */
void		 cpseudo_route_s(struct cfwd_link *, int, const char *,
		    uint64_t, struct xnode *);
/* A stanza (the caller's) for gone, of link l's node (NULL: ours), came
 * back: route it again from its sender, under the origin of the node
 * that sent it back (its epoch, and its number for it). */
void		 cpseudo_back(struct cfwd_link *, int, const char *, uint64_t,
		    uint64_t, struct xnode *);
/* The origin of the stanza being routed now, or NULL (borrowed). */
const struct cfwd_origin *cpseudo_origin(void);
/* The last <s> of a link that may be acknowledged, of those up to seq. */
uint64_t	 cpseudo_held_upto(const struct cfwd_link *, uint64_t);
/* Unavailable presence of a session that died with the leader before
 * us, to its contacts: 0 if sent, -1 if jid is no session. */
int		 cpseudo_gone_presence(const char *);
/* SM session full resumed on link l's node: its pseudo there, bound,
 * with its presence (may be NULL) noted; NULL if it cannot be. */
struct xconn	*cpseudo_resumed(struct cfwd_link *, const char *,
		    const struct xnode *);
/* A new leader: the SM session full of the last one hibernates here. */
struct xconn	*cpseudo_hib(const char *, const struct xnode *);

/* leader.c */
/* Frame f (freed) to every follower linked; an SM copy to each. */
void		 clead_send_all(struct xnode *);
void		 clead_copy_all(const char *, uint32_t, const struct xnode *);
/* Whether a follower is linked to us. */
int		 clead_linked(void);
/* The leader's events, made once the loop exists. */
void		 clead_events(void);
/* At exit, once every link is closed: pseudos, events, memory. */
void		 clead_free(void);
/* Close every follower link (gone: their sessions are unavailable). */
void		 clead_links_close(int);
/* Stepping down: our own stanzas no follower acknowledged to our queue. */
void		 clead_links_requeue(void);
/* Close the links of followers no longer the members they were. */
void		 clead_recheck(void);
/* A live follower link by its serial, or NULL. */
struct cfwd_link *clead_link_by_serial(uint64_t);
/* Every link is owed the <ack> of what it routed; send what is due. */
void		 clead_ack_all(void);
/* Whether the link of member id has registered its sessions. */
int		 clead_synced(uint64_t);
/* Note that a <d> frame went out on l, for the stall check. */
void		 clead_dmark(struct cfwd_link *);
/* Forget the marks of l's <d> frames that are acknowledged. */
void		 clead_dmarks_pop(struct cfwd_link *);
/* Recipient id (kind) registered on link at (NULL: here): what other
 * links keep for it is answered to the senders (crelay_moved). */
void		 clead_moved(struct cfwd_link *, int, const char *);
/* Tell every follower one of our sessions is here (1) or gone (0). */
void		 clead_tell(struct xconn *, int);
/* The leader's line for xmpp cluster status, allocated. */
char		*clead_status(void);

/* settle.c */
/* The settling timer, made once the loop exists. */
void		 csettle_events(void);
/* At exit: what is held, the timer, the members and orphans. */
void		 csettle_free(void);
/* The member ids (ours among them) and ours, for settling; copied. */
void		 csettle_members(uint64_t, const uint64_t *, int);
/* Take the sessions of the leader before us (the list is emptied). */
void		 csettle_orphans_set(struct cfwd_jids *);
/* Whether we hold forwarded stanzas (new in office, or stepping down). */
int		 csettle_active(void);
/* Whether we lead and know it: a majority heard within the election
 * timeout, our loop not just resumed after standing still. */
int		 csettle_leads(void);
/* New in office (prev the leader before us, left: it said bye): hold. */
void		 csettle_start(uint64_t, int);
/* Stop settling if every member that is up has registered. */
void		 csettle_check(void);
/* Forget settling and what was held. */
void		 csettle_stop(void);
/* Hold link l's <s> frame (ours now) with seq, kind and origin. */
void		 csettle_hold(struct cfwd_link *, uint64_t, int, const char *,
		    struct xnode *);
/* Forget what is held of a link (by serial) that closed. */
void		 csettle_drop(uint64_t);

/* smlead.c: stream management, the leader's side */
/* The timers, once the loop exists; at exit, everything. */
void		 csm_events(void);
void		 csm_free(void);
/* Whether pseudo c hibernates (its node is gone); their stand-in link. */
int		 csm_hibernating(const struct xconn *);
struct cfwd_link *csm_hib_link(void);
/* Whether pseudo c is an SM session (1: *k the number of its next). */
int		 csm_lead_next(const struct xconn *, uint32_t *);
/* Number and mirror stanza n (len: serialised, 0 unknown) for pseudo c:
 * 1 (*k its number), 0 c is no SM session, -1 no room. */
int		 csm_lead_send(struct xconn *, const struct xnode *, size_t,
		    uint32_t *);
/* Whether what is kept for recipient to (kind) is mirrored. */
int		 csm_covers(int, const char *);
/* A forwarded stanza (<s> seq) of session from on link l was routed. */
void		 csm_lead_in(struct cfwd_link *, const char *, uint64_t);
/* Entry e's pseudo hibernates from now on. */
void		 csm_hib_start(struct csm_entry *);
/* Entry e's pseudo no longer hibernates (its node is back). */
void		 csm_hib_stop(struct csm_entry *);
/* Our session c broadcast its presence. */
void		 csm_lead_presence(struct xconn *);
/* Pseudo c's link is gone for good: 1 if c hibernates, else 0. */
int		 csm_hibernate(struct xconn *);
/* The SM sessions of link l hibernate. */
void		 csm_hibernate_link(struct cfwd_link *);
/* Session c (pseudo or local) leaves: its entry goes. */
void		 csm_dropped(struct xconn *);
/* Resume id of account bare at h on stream rid of link l's node (NULL:
 * ours); soon: on the next turn, or once settled (link: its serial, 0
 * for one of ours). */
void		 csm_lead_resume(struct cfwd_link *, uint64_t, const char *,
		    const char *, uint32_t);
void		 csm_resume_soon(uint64_t, uint64_t, const char *,
		    const char *, uint32_t);
/* A follower's SM frame: 1 if n was one (the caller frees it). */
int		 csm_lead_frame(struct cfwd_link *, struct xnode *);
/* The leader's own SM sessions: enabled, sent h, acknowledged. */
void		 csm_lead_on(struct xconn *);
void		 csm_lead_sent(struct xconn *, const struct xnode *, uint32_t);
void		 csm_lead_ack(struct xconn *, uint32_t, uint32_t);
/* We are about to tell our SM session c's client we handled in. */
void		 csm_lead_answer(struct xconn *, uint32_t);
/* We step down: forget every entry and hibernating session. */
void		 csm_lead_stop(void);

/* smcopy.c: what of stream management survives a change of leader */
void		 csm_copy_on(struct csm_entry *);
void		 csm_copy_snapshot(struct cfwd_link *);
void		 csm_copy_ack(struct csm_entry *);
void		 csm_copy_off(const char *);
/* Follower: the leader lid's frames about its SM sessions; a <d m>. */
int		 csm_copy_frame(uint64_t, struct xnode *);
void		 csm_copy_d(const char *, struct xnode *);
/* Follower: a new uplink: the copies of the last leader go. */
void		 csm_copy_clear(void);
/* New leader: the copies hibernate, and are no orphans. */
void		 csm_promote(struct cfwd_jids *);
/* <bind> of an SM session: its state (seq: our last <s>); seeding it. */
void		 csm_bind_attrs(struct xnode *, struct xconn *, uint64_t);
void		 csm_seed(struct cfwd_link *, struct xconn *, struct xnode *);
/* A session adopted here registers from its live node: hibernating
   pseudo hc goes, what we sent it since moves onto q (csm_resend). */
void		 csm_readopt(struct xconn *, struct xnode *,
		    struct csm_stanzas *);
void		 csm_resend(struct xconn *, struct csm_stanzas *);

/* smwake.c: a hibernating SM session whose node comes back with it */
/* <bind> n of session jid on link l: it wakes there if it hibernates. */
void		 csm_wake(struct cfwd_link *, const char *, struct xnode *);

/* smup.c: stream management, the follower's side */
/* Stanza st of a <d> goes to c now (NULL, NULL: done). */
void		 csm_up_delivering(const struct xconn *, const struct xnode *);
/* An SM frame from the leader: 1 if n was one (the caller frees it). */
int		 csm_up_frame(struct xnode *);
/* A new link to the leader l: send the resumptions that wait. */
void		 csm_up_linked(struct cfwd_link *);
/* The link to the leader is lost (pending resumptions wait on). */
void		 csm_up_lost(void);
/* Stanzas of SM session id of our session full left the queue. */
void		 csm_up_safe(const char *, const char *);
/* We lead now: the pending resumptions are answered here. */
void		 csm_up_leads(void);
/* At exit: the pending resumptions and their timer. */
void		 csm_up_free(void);

#endif /* CLUSTER_FWD_H */
