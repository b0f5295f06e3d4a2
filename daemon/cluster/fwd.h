/*
 * Forwarding internals shared by cluster_fwd.c (the role, the follower
 * side, a link's stream) and cluster_lead.c (the leader side), and by no
 * other file. Include after <sys/queue.h>, <stdint.h>, "cluster.h" and
 * "xmpp.h".
 */
#ifndef CLUSTER_FWD_H
#define CLUSTER_FWD_H

#define NS_CLUSTER		"urn:mmp:cluster"
#define CFWD_HEADER		"<stream:stream xmlns='" NS_CLUSTER "' " \
				"xmlns:stream='" NS_STREAMS "'>"
#define CFWD_DMARKS		16

struct bufferevent;
struct xparser;
struct clead_pend;

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

/* A link: ours to the leader (up), or a follower's to us. */
struct cfwd_link {
	TAILQ_ENTRY(cfwd_link)	 entry;
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
	uint64_t		 dsent;		/* <d> frames written */
	uint64_t		 dacked;	/* and delivered */
	struct cfwd_dmark	 dmarks[CFWD_DMARKS]; /* undelivered */
	int			 ndmarks;
	TAILQ_HEAD(clead_pends, clead_pend) pend;
	int			 npend;

	/* ours to the leader */
	uint64_t		 drecv;		/* <d> frames read */
	uint64_t		 dsaid;		/* last <dack> sent */
};
TAILQ_HEAD(cfwd_links, cfwd_link);

/* cluster_fwd.c */
extern int		 cfwd_role_now;		/* CFWD_NONE, ... */
extern uint64_t		 cfwd_self_id;		/* while leader */
extern uint64_t		*cfwd_members;
extern int		 cfwd_nmembers;
extern struct cfwd_link	*cfwd_uplink;		/* ours to the leader */
extern size_t		 cfwd_nqueue;		/* stanzas kept for it */
extern uint64_t		 cfwd_leader_leaving;	/* a leader that said bye */
char		*cfwd_esc(const char *);
int		 cfwd_num(const char *, uint64_t *);
char		*cfwd_stanza_string(const struct xnode *, size_t *);
size_t		 cfwd_tree_bytes(const struct xnode *, size_t);
int		 cfwd_has_session(const char *);
void		 cfwd_jids_add(struct cfwd_jids *, const char *);
void		 cfwd_jids_clear(struct cfwd_jids *);
void		 cfwd_write(struct cfwd_link *, const char *, size_t);
void		 cfwd_writes(struct cfwd_link *, const char *);
struct cfwd_link *cfwd_link_new(struct bufferevent *, int,
		    const struct cnet_hello *);
void		 cfwd_read(struct bufferevent *, void *);
void		 cfwd_redial_later(void);
void		 cfwd_drain(void);

/* cluster_lead.c */
extern int		 clead_settling;	/* holding forwarded stanzas */
void		 clead_init(void);
void		 clead_events(void);
void		 clead_free(void);
void		 clead_linked(struct cfwd_link *);
void		 clead_lost(struct cfwd_link *, const char *);
void		 clead_link_close(struct cfwd_link *, int);
void		 clead_links_close(int);
void		 clead_reap_soon(void);
struct xconn	*clead_find(struct cfwd_link *, int, const char *);
void		 clead_route_from(struct cfwd_link *, int, const char *,
		    struct xnode *);
void		 clead_frame(struct cfwd_link *, struct xnode *);
void		 clead_mark(struct cfwd_link *);
void		 clead_flush(struct cfwd_link *);
void		 clead_settle_start(uint64_t, int);
void		 clead_tell(struct xconn *, int);
int		 clead_gone_presence(const char *);
void		 cfwd_orphans_gone(void);
void		 clead_settle_check(void);
void		 clead_settle_stop(void);
char		*clead_status(void);

#endif /* CLUSTER_FWD_H */
