/*
 * The leader's table of stream-management sessions anywhere in the
 * cluster (smtab.c): by resumption id and by full JID, each with its
 * counters and a mirror of the stanzas it was sent that its client has
 * not acknowledged. A unit of its own (tested alone): it keeps the
 * numbers and the copies; what the leader does with them is smlead.c's.
 * Include after <sys/queue.h>, <sys/tree.h> and <stdint.h>.
 */
#ifndef CLUSTER_SMTAB_H
#define CLUSTER_SMTAB_H

#define CSMTAB_MIRROR_MAX	5000	/* stanzas mirrored per session */
#define CSMTAB_MIRROR_BYTES	(64 * 1024 * 1024)	/* in all */

struct xnode;
struct xconn;

/* A stanza mirrored for a session: its number and a copy. */
struct csm_stanza {
	TAILQ_ENTRY(csm_stanza)	 entry;
	uint32_t		 h;
	struct xnode		*st;
	size_t			 bytes;
};
TAILQ_HEAD(csm_stanzas, csm_stanza);

/* One SM session of the cluster. */
struct csm_entry {
	RB_ENTRY(csm_entry)	 byid;
	RB_ENTRY(csm_entry)	 byfull;
	char			*id;		/* resumption id */
	char			*bare;		/* its account */
	char			*full;		/* its session */
	struct xconn		*c;		/* its pseudo, or NULL */
	int			 local;		/* a session of this node (found
						   by its full JID: the core
						   moves it between streams) */
	uint64_t		 owner;		/* node id, 0: this node */
	struct xnode		*presence;	/* of a copy: its broadcast one */
	uint64_t		 in_seq;	/* <s> up to this counted in in */
	uint32_t		 in;		/* handled from the client */
	uint32_t		 k;		/* sent to it (its outbound h) */
	uint32_t		 acked;		/* acknowledged by its client */
	int64_t			 hib_ms;	/* hibernating since, or 0 */
	uint32_t		 hib_k;		/* k when it began to */
	uint32_t		 adopt_k;	/* k when adopted from a copy */
	int			 adopted;	/* adopted from a copy */
	int64_t			 copy_hib_ms;	/* of a copy: its session
						   hibernates at the leader
						   since (our clock), or 0 */
	struct csm_stanzas	 mirror;	/* acked < h <= k */
	size_t			 nmirror;
	size_t			 mbytes;
};

/* A new entry (any other of the same id or full JID goes); counters set. */
struct csm_entry *csmtab_add(const char *, const char *, uint32_t, uint32_t);
/* An entry by resumption id, by full JID, or NULL. */
struct csm_entry *csmtab_by_id(const char *);
struct csm_entry *csmtab_by_full(const char *);
/* Remove and free an entry and its mirror. */
void		 csmtab_del(struct csm_entry *);
/* Walk the entries (delete none but the current one while walking). */
struct csm_entry *csmtab_first(void);
struct csm_entry *csmtab_next(struct csm_entry *);
/* Number stanza n (copied; len its serialised length, 0: unknown) k+1
 * and mirror it: 0, or -1 beyond the bounds (not numbered, not kept). */
int		 csmtab_push(struct csm_entry *, const struct xnode *, size_t);
/* Forget the last stanza pushed (its delivery was refused after all). */
void		 csmtab_unpush(struct csm_entry *);
/* The client acknowledged up to h: trim the mirror. -1 if h is not
 * between the last ack and k (2^32 arithmetic): nothing changes. */
int		 csmtab_ack(struct csm_entry *, uint32_t);
/* Whether h is within [acked, k] (2^32 arithmetic). */
int		 csmtab_h_ok(const struct csm_entry *, uint32_t);
/* Move e's mirror onto q (empty, initialised): e keeps no copies. */
void		 csmtab_take(struct csm_entry *, struct csm_stanzas *);
/* Stanzas mirrored in all, and their bytes. */
size_t		 csmtab_count(void);
size_t		 csmtab_bytes(void);
/* Forget every entry. */
void		 csmtab_clear(void);

#endif /* CLUSTER_SMTAB_H */
