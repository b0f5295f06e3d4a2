/*
 * What the files of the replicated state machine share, and nothing else
 * includes: the state and its trees (fsm.c), the entries' text forms
 * (fsm_codec.c), snapshots (fsm_snap.c) and the secret digests
 * (fsm_secret.c). The state's strings are owned by the state; a decoded
 * entry's point into the decoder's copy of its line.
 */
#ifndef CLUSTER_FSM_INT_H
#define CLUSTER_FSM_INT_H

#include <sys/tree.h>

#include <stddef.h>
#include <stdint.h>

#include <raft.h>

#include "cluster/fsm.h"

#define CFSM_SNAP_HEADER6	"cfsm 6"	/* offline messages */
#define CFSM_SNAP_HEADER5	"cfsm 5"	/* sessions */
#define CFSM_SNAP_HEADER4	"cfsm 4"	/* revoke */
#define CFSM_SNAP_HEADER3	"cfsm 3"	/* timers, published */
#define CFSM_SNAP_HEADER	"cfsm 2"
#define CFSM_SNAP_HEADER1	"cfsm 1"	/* before member lines */
#define CFSM_IDENT_LEN		64	/* hex digits of an identity */
#define CFSM_MAX_FIELDS		4	/* type word included */
#define CFSM_DIGEST_BYTES	16	/* of the HMAC, shown as hex */

/* Entry types. */
#define CE_INIT		1
#define CE_USER_SET	2
#define CE_USER_DEL	3
#define CE_DIGEST_SET	4
#define CE_DIGEST_DEL	5
#define CE_FORGET	6
#define CE_ROSTER_SET	7
#define CE_ROSTER_DEL	8
#define CE_MEMBER	9
#define CE_TIMERS	10
#define CE_PUBLISHED	11
#define CE_REVOKE	12
#define CE_REVOKE_CLEAR	13
#define CE_SESSION	14
#define CE_OFFLINE_PUT	15
#define CE_OFFLINE_DEL	16

/* What a session's command in an envelope is (fsm_session.c). */
struct cfsm_env {
	uint64_t	 id;		/* session */
	uint64_t	 serial;
	uint64_t	 lo;		/* lowest unfinished */
};

/* The result kept for one command of a session. */
struct cfsm_served {
	uint64_t	 serial;
	int		 result;	/* CFSM_R_APPLIED or CFSM_R_BAD */
};

/* A client session: a submitting node's process (fsm_session.c). */
struct cfsm_sess {
	RB_ENTRY(cfsm_sess)	 entry;
	uint64_t		 id;
	uint64_t		 last;		/* tick of its last entry */
	uint64_t		 lo;		/* below: answered */
	struct cfsm_served	*served;	/* at or above lo */
	size_t			 nserved;
};

/* A decoded entry; the strings point into the decoder's copy. */
struct cfsm_entry {
	int		 type;
	uint64_t	 node;		/* digest-set, digest-del, forget,
					   member */
	const char	*a;		/* domain, user, cbname, owner,
					   addr or identity (revoke) */
	const char	*b;		/* keyhex, blob, digest, jid or
					   identity */
	const char	*c;		/* roster item */
	int		 hb;		/* timers */
	int		 el;
	uint64_t	 sess;		/* session-open */
	uint64_t	 id;		/* offline-del */
};

struct cfsm_user {
	RB_ENTRY(cfsm_user)	 entry;
	char			*name;
	char			*blob;
};

struct cfsm_dig {
	RB_ENTRY(cfsm_dig)	 entry;
	uint64_t		 node;
	char			*cb;
	char			*digest;
};

/* One roster item: owner's contact jid, item encoded as in the log. */
struct cfsm_ros {
	RB_ENTRY(cfsm_ros)	 entry;
	char			*owner;
	char			*jid;
	char			*item;
};

/* One offline message of owner: the stanza escaped as in the log. */
struct cfsm_off {
	RB_ENTRY(cfsm_off)	 entry;
	char			*owner;
	uint64_t		 id;
	char			*stanza;
	size_t			 len;		/* its bytes unescaped */
};

/* A member's pinned certificate identity and address. */
struct cfsm_mem {
	RB_ENTRY(cfsm_mem)	 entry;
	uint64_t		 node;
	char			*addr;
	char			*ident;
};

RB_HEAD(cfsm_user_tree, cfsm_user);
RB_HEAD(cfsm_mem_tree, cfsm_mem);
RB_HEAD(cfsm_dig_tree, cfsm_dig);
RB_HEAD(cfsm_ros_tree, cfsm_ros);
RB_HEAD(cfsm_sess_tree, cfsm_sess);
RB_HEAD(cfsm_off_tree, cfsm_off);
RB_PROTOTYPE(cfsm_off_tree, cfsm_off, entry, cfsm_off_cmp);
RB_PROTOTYPE(cfsm_sess_tree, cfsm_sess, entry, cfsm_sess_cmp);
RB_PROTOTYPE(cfsm_mem_tree, cfsm_mem, entry, cfsm_mem_cmp);
RB_PROTOTYPE(cfsm_user_tree, cfsm_user, entry, cfsm_user_cmp);
RB_PROTOTYPE(cfsm_dig_tree, cfsm_dig, entry, cfsm_dig_cmp);
RB_PROTOTYPE(cfsm_ros_tree, cfsm_ros, entry, cfsm_ros_cmp);

/* Everything replicated: what a snapshot holds. */
struct cfsm_state {
	char			*domain;
	char			*key;
	struct cfsm_user_tree	 users;
	struct cfsm_dig_tree	 digs;
	struct cfsm_ros_tree	 rosters;	/* by owner, then jid */
	struct cfsm_mem_tree	 members;
	int			 hb;		/* timers, 0 if none */
	int			 el;
	uint64_t		*pub;		/* published nodes */
	size_t			 npub;
	char			**revoked;	/* removed members' */
	size_t			 nrevoked;
	struct cfsm_sess_tree	 sessions;
	size_t			 nsessions;
	uint64_t		 tick;		/* session entries applied */
	struct cfsm_off_tree	 offline;	/* by owner, then id */
	uint64_t		 off_seq;	/* the last id given */
};

struct cfsm {
	struct raft_fsm		 fsm;
	struct cfsm_sink	 sink;
	struct cfsm_state	 st;
};

/* A growing text buffer; p (NULL until the first add) is the owner's. */
struct cfsm_buf {
	char			*p;
	size_t			 len;
	size_t			 cap;
};

/* fsm.c */
/* Make st empty (it holds nothing yet). */
void		 cfsm_state_init(struct cfsm_state *);
/* Free everything st holds and leave it empty. */
void		 cfsm_state_clear(struct cfsm_state *);
/* The account called name (borrowed), or NULL. */
struct cfsm_user *cfsm_state_user(const struct cfsm_state *, const char *);
/* owner's roster item for jid (borrowed), or NULL. */
struct cfsm_ros	*cfsm_state_ros(const struct cfsm_state *, const char *,
		    const char *);
/* The pinned member node (borrowed), or NULL. */
struct cfsm_mem	*cfsm_state_mem(const struct cfsm_state *, uint64_t);
/* Whether node has published its digests. */
int		 cfsm_state_pub(const struct cfsm_state *, uint64_t);
/* Apply a decoded entry to st (it copies what it keeps): 1 if changed. */
int		 cfsm_state_apply(struct cfsm_state *,
		    const struct cfsm_entry *);

/* fsm_codec.c */
/* Whether a string is hex: not empty, an even number of hex digits. */
int		 cfsm_hex_ok(const char *);
/* Split and check one entry in a writable line e then points into. */
int		 cfsm_decode(char *, struct cfsm_entry *, const char **);
/* raft data as an allocated string without its padding, or NULL. */
char		*cfsm_copy(const void *, size_t, const char **);
/* Append a string to a buffer. */
void		 cfsm_buf_add(struct cfsm_buf *, const char *);

/* fsm_snap.c */
/* raft's snapshot: all state in one buffer from raft_malloc. */
int		 cfsm_raft_snapshot(struct raft_fsm *, struct raft_buffer *[],
		    unsigned *);
/* raft's restore: replace all state with a snapshot's. */
int		 cfsm_raft_restore(struct raft_fsm *, struct raft_buffer *);

/* fsm_session.c */
/* Whether s is a session id (16 hex digits, not 0); 0 with *id, or -1. */
int		 cfsm_sess_id_parse(const char *, uint64_t *);
/* Free every session of st and zero its tick. */
void		 cfsm_sess_clear(struct cfsm_state *);
/* Apply session-open: a new session, or a known one kept alive. */
int		 cfsm_sess_open(struct cfsm_state *, uint64_t);
/* Split an envelope off a writable line; 0, or -1 with *cause. */
int		 cfsm_env_split(char *, struct cfsm_env *, char **,
		    const char **);
/* Whether a session's command is to be applied: CFSM_R_NEW, or why not. */
int		 cfsm_sess_admit(struct cfsm_state *, const struct cfsm_env *);
/* Record the result of a command cfsm_sess_admit let through. */
void		 cfsm_sess_record(struct cfsm_state *, const struct cfsm_env *,
		    int);
/* Append the sessions to a snapshot being written. */
void		 cfsm_sess_snap(const struct cfsm_state *, struct cfsm_buf *);
/* Load a snapshot's tick or session line: 1, 0 if another, -1 bad. */
int		 cfsm_sess_load(struct cfsm_state *, char *, const char **);

/* fsm_offline.c */
/* Whether s is an escaped stanza (not empty, only the four escapes). */
int		 cfsm_off_esc_ok(const char *);
/* The bytes of an escaped stanza once unescaped. */
size_t		 cfsm_off_len(const char *);
/* How many messages owner has in st, and their bytes. */
void		 cfsm_off_count(const struct cfsm_state *, const char *, int *,
		    size_t *);
/* Store owner's message as id, or (0) the next within the caps: the id
   taken, 0 if refused. */
uint64_t	 cfsm_off_put(struct cfsm_state *, const char *, uint64_t,
		    const char *);
/* Remove owner's messages up to and including id: 1 if any went. */
int		 cfsm_off_del(struct cfsm_state *, const char *, uint64_t);
/* Free every message of st and zero the seq. */
void		 cfsm_off_clear(struct cfsm_state *);
/* Append the seq and every message to a snapshot being written. */
void		 cfsm_off_snap(const struct cfsm_state *, struct cfsm_buf *);
/* Load a snapshot's offline line: 1, 0 if another, -1 bad (*cause). */
int		 cfsm_off_load(struct cfsm_state *, char *, const char **);
/* Every message of st (owner, id, escaped stanza) to fn, in order. */
void		 cfsm_off_each(const struct cfsm_state *,
		    void (*)(void *, const char *, uint64_t, const char *),
		    void *);

#endif /* CLUSTER_FSM_INT_H */
