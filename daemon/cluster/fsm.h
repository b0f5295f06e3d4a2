/*
 * The replicated state machine as the cluster's own files see it
 * (fsm*.c; the format of entries and snapshots is described there).
 * Only daemon/cluster/ and the tests include this; what the commands use
 * of it stays in cluster/cluster.h. Every char * a function returns is
 * the caller's to free, every const char * is borrowed from the state
 * and good until the next entry is applied.
 */
#ifndef CLUSTER_FSM_H
#define CLUSTER_FSM_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/cluster.h"

struct db_roster;
struct raft_configuration;
struct raft_fsm;

/*
 * What a node does with the replicated state: user_set(arg, user, blob),
 * user_del(arg, user), roster_set(arg, owner, jid, item) with item as
 * cfsm_roster_dec reads it, roster_del(arg, owner, jid), changed(arg)
 * after anything but a roster or an offline message changed;
 * offline_put(arg, owner, id, stanza) with the stanza escaped
 * (cfsm_off_unesc), offline_del(arg, owner, up to id), and
 * offline_reset(arg) before a restore puts every message anew. Any may
 * be NULL.
 */
struct cfsm_sink {
	void	(*user_set)(void *, const char *, const char *);
	void	(*user_del)(void *, const char *);
	void	(*roster_set)(void *, const char *, const char *,
		    const char *);
	void	(*roster_del)(void *, const char *, const char *);
	void	(*changed)(void *);
	void	*arg;
	void	(*offline_put)(void *, const char *, uint64_t, const char *);
	void	(*offline_del)(void *, const char *, uint64_t);
	void	(*offline_reset)(void *);
};

/*
 * Client sessions (fsm_session.c): the limits, and what became of a
 * session's command. CFSM_R_NEW is only what the state decides inside.
 */
#define CFSM_SESSIONS_MAX	64	/* open at once, cluster-wide */
#define CFSM_SESSION_IDLE	100000	/* session entries without one */
#define CFSM_SESSION_WINDOW	256	/* results kept per session */
#define CFSM_R_APPLIED		0
#define CFSM_R_BAD		1	/* applied as a bad entry: skipped */
#define CFSM_R_NOSESSION	2
#define CFSM_R_STALE		3
#define CFSM_R_PENDING		4
#define CFSM_R_NEW		5
#define CFSM_R_DUP		6
#define CFSM_R_REFUSED		7	/* offline-put: over the caps */

/* fsm.c */
/* A state machine with no state yet (sink copied, may be NULL). */
struct cfsm	*cfsm_new(const struct cfsm_sink *);
/* Free a state machine (NULL is fine); raft must be done with it. */
void		 cfsm_free(struct cfsm *);
/* The raft_fsm (version 1) bound to the state machine, owned by it. */
struct raft_fsm	*cfsm_raft(struct cfsm *);
/* The cluster's XMPP domain, NULL before the init entry. */
const char	*cfsm_domain(const struct cfsm *);
/* The cluster's digest key in hex, NULL before the init entry. */
const char	*cfsm_key(const struct cfsm *);
/* A member's pinned identity and (if asked) its address, or NULL. */
const char	*cfsm_member(const struct cfsm *, uint64_t, const char **);
/* Whether any member identity is pinned. */
int		 cfsm_member_any(const struct cfsm *);
/* Whether an identity is a removed member's that may not join. */
int		 cfsm_revoked(const struct cfsm *, const char *);
/* An account's credential blob, or NULL. */
const char	*cfsm_user(const struct cfsm *, const char *);
/* All account names, sorted; free with util_free_argv. */
char		**cfsm_users(const struct cfsm *, int *);
/* owner's roster item for a contact as the log spells it, or NULL. */
const char	*cfsm_roster(const struct cfsm *, const char *, const char *);
/* The contacts in owner's roster, sorted; free with util_free_argv. */
char		**cfsm_roster_jids(const struct cfsm *, const char *, int *);
/* The digest of a call bridge on a node, or NULL. */
const char	*cfsm_digest(const struct cfsm *, uint64_t, const char *);
/* The ids at an address other than id in a configuration; count. */
int		 cfsm_stale_ids(const struct raft_configuration *, uint64_t,
		    const char *, uint64_t *, int);

/* fsm_codec.c: each entry the caller frees, NULL if it would be bad. */
/* The entry that sets the cluster's domain and digest key. */
char		*cfsm_enc_init(const char *, const char *);
/* The entry that creates or replaces an account. */
char		*cfsm_enc_user_set(const char *, const char *);
/* The entry that removes an account. */
char		*cfsm_enc_user_del(const char *);
/* The entry that sets (digest) or drops (NULL) a call bridge's digest. */
char		*cfsm_enc_digest(uint64_t, const char *, const char *);
/* The entry that drops every digest and the pin of a node that left. */
char		*cfsm_enc_forget(uint64_t);
/* The entry that pins a member: node id, address, identity. */
char		*cfsm_enc_member(uint64_t, const char *, const char *);
/* The entry that says a node has published its digests. */
char		*cfsm_enc_published(uint64_t);
/* The entry that keeps a removed member's identity from joining. */
char		*cfsm_enc_revoke(const char *);
/* The entry that sets owner's roster item for a contact. */
char		*cfsm_enc_roster_set(const char *, const char *,
		    const char *);
/* The entry that removes owner's roster item for a contact. */
char		*cfsm_enc_roster_del(const char *, const char *);
/* A roster item (all but its jid) as the log spells it; caller frees. */
char		*cfsm_roster_enc(const struct db_roster *);
/* Decode a roster item; 0, or -1. Free with db_roster_clear. */
int		 cfsm_roster_dec(const char *, struct db_roster *);
/* Whether a member may APPLY an entry: 0, or -1 and why in buf. */
int		 cfsm_entry_allowed(const char *, uint64_t, char *, size_t);

/* The entry that stores owner's offline message (a serialised stanza). */
char		*cfsm_enc_offline_put(const char *, const char *);
/* The entry that removes owner's offline messages up to an id. */
char		*cfsm_enc_offline_del(const char *, uint64_t);

/* fsm_offline.c */
/* A stanza escaped for the log; the caller frees. */
char		*cfsm_off_esc(const char *);
/* The stanza an escaped one stands for (the caller frees), or NULL. */
char		*cfsm_off_unesc(const char *);
/* How many offline messages owner has in the replicated state. */
int		 cfsm_offline_count(const struct cfsm *, const char *);

/* fsm_snap.c */
/* Every pin as member entries, one a line; the caller frees. */
char		*cfsm_members_enc(const struct cfsm *);
/* Add the member entries of such text to the pins; how many. */
int		 cfsm_members_load(struct cfsm *, const char *);

/* fsm_session.c */
/* Whether a session is open (and not expired). */
int		 cfsm_session_known(const struct cfsm *, uint64_t);
/* What became of a session's command as far as applied here: CFSM_R_*. */
int		 cfsm_session_result(const struct cfsm *, uint64_t, uint64_t);
/* What a CFSM_R_* result means (static). */
const char	*cfsm_result_str(int);
/* The entry that opens a session; the caller frees. */
char		*cfsm_enc_session(uint64_t);
/* An entry wrapped as a session's command: id, serial, lo; or NULL. */
char		*cfsm_enc_once(uint64_t, uint64_t, uint64_t, const char *);

/* fsm_secret.c */
/* A call bridge secret's digest under a hex key; the caller frees. */
char		*cfsm_secret_digest(const char *, const char *,
		    const char *);

#endif /* CLUSTER_FSM_H */
