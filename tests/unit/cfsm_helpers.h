/*
 * What the unit tests of the replicated state machine share
 * (check_cluster_fsm, check_cluster_pin, check_cluster_view,
 * check_cluster_session): a sink that records what it hears, feeding
 * entries to raft's apply as raft would, snapshots as text and restores
 * from text, the tests' main, and a simulated raft cluster of state
 * machines (libraft's raft/fixture.h).
 * Each helper fails the running test (ck_assert) if raft's callback does.
 */
#ifndef CFSM_HELPERS_H
#define CFSM_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include <check.h>
#include <raft.h>
#include <raft/fixture.h>

struct cfsm;

/* What a sink heard: counts, and "set u=b;del u;rset o/j=i;rdel o/j;". */
struct cfsm_rec {
	int	 sets;
	int	 dels;
	int	 rsets;
	int	 rdels;
	int	 changed;
	char	 log[2048];
};

/* A state machine whose sink records into r (cleared); cfsm_free it. */
struct cfsm	*cfsmt_new_rec(struct cfsm_rec *);
/* Hand len bytes (a copy) to raft's apply, which must return 0, NULL. */
void		 cfsmt_apply_raw(struct cfsm *, const void *, size_t);
/* Apply a string with its NUL, as callers that pass strlen() + 1 do. */
void		 cfsmt_apply_str(struct cfsm *, const char *);
/* Apply a string padded with NULs to 8 bytes, as the daemon does. */
void		 cfsmt_apply_padded(struct cfsm *, const char *);
/* Apply an encoded entry (not NULL) without its NUL, and free it. */
void		 cfsmt_apply_entry(struct cfsm *, char *);
/* The state machine's snapshot as a string; the caller frees. */
char		*cfsmt_snap_text(struct cfsm *);
/* Restore from text (copied): raft's status, 0 on success. */
int		 cfsmt_restore(struct cfsm *, const char *);
/* Restore b from a's snapshot buffer, as raft hands it over. */
void		 cfsmt_transfer(struct cfsm *, struct cfsm *);
/* Run a suite with logging to stderr: the exit status for main. */
int		 cfsmt_main(const char *, Suite *);

#define CFSMT_FX_MAX	5
#define CFSMT_FX_MSECS	20000	/* simulated time any wait may take */

/* The simulated cluster of a raft test. */
struct cfsmt_fx {
	struct raft_fixture	 f;
	struct cfsm		*c[CFSMT_FX_MAX];
	struct cfsm_rec		 rec[CFSMT_FX_MAX];
	int			 n;
};

/* A raft request and whether its callback ran. */
struct cfsmt_req {
	union {
		struct raft_apply	 apply;
		struct raft_change	 change;
	} u;
	int	 done;
	int	 status;
};

/* Start n servers, one state machine each, and elect a leader. */
void		 cfsmt_fx_up(struct cfsmt_fx *, int);
/* Stop the cluster and free every state machine. */
void		 cfsmt_fx_down(struct cfsmt_fx *);
/* Add a server (id n + 1, address "n + 1") that snapshots often. */
int		 cfsmt_fx_grow(struct cfsmt_fx *);
/* The leader's index. */
unsigned	 cfsmt_fx_leader(struct cfsmt_fx *);
/* raft_add, raft_assign and raft_remove's callback (data: the request). */
void		 cfsmt_fx_change_cb(struct raft_change *, int);
/* Run a request to its callback, which must report success. */
void		 cfsmt_fx_wait(struct cfsmt_fx *, struct cfsmt_req *);
/* Apply buf (raft takes it) on the leader and wait until all applied it. */
void		 cfsmt_fx_apply_buf(struct cfsmt_fx *, struct raft_buffer *);
/* Add id at addr through the leader and make it a voter. */
void		 cfsmt_fx_add_voter(struct cfsmt_fx *, uint64_t, const char *);
/* Every live server's state machine holds the same state. */
void		 cfsmt_fx_agree(struct cfsmt_fx *);

#endif /* CFSM_HELPERS_H */
