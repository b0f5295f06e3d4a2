/*
 * What the files of daemon/cluster/ share and nothing outside the folder
 * sees: libraft's objects, this node's stored settings and the hooks
 * raft's life calls in the replication. Nothing here may be included
 * from outside daemon/cluster/ (the commands use cluster_status()).
 *
 *   node.c	    this node's settings: id, address, what it lacks
 *   raft.c	    raft's life, roles, shutdown with handover
 *   replicate.c    accounts, rosters and secret digests through the log
 *   status.c	    raft's configuration, the snapshot for commands, quorum
 *		    contact
 *
 * Everything runs on mmpd's one libevent thread.
 */
#ifndef CLUSTER_INT_H
#define CLUSTER_INT_H

#include <stddef.h>
#include <stdint.h>

struct raft;
struct raft_configuration;
struct raft_server;

/* node.c */
/* A config value, or NULL; the caller frees. */
char		*cluster_cfg(const char *);
/* A numeric config value, or dflt when unset or not positive. */
int		 cluster_cfg_int(const char *, int);
/* Store one config value (NULL deletes); -1 with *cause. */
int		 cluster_cfg_set(const char *, const char *, char **);
/* The full path of a file named in the config; the caller frees. */
char		*cluster_file(const char *);
/* The address this node binds and dials from, into out; -1 with *cause. */
int		 cluster_bindaddr(char *, size_t, char **);
/* A new id for this node, stored (after it left a cluster). */
void		 cluster_node_renew(void);

/* raft.c */
/* This node's raft while it runs (borrowed), else NULL. */
struct raft	*cluster_raft(void);
/* raft's configuration as it stands (borrowed; empty before a start). */
const struct raft_configuration *cluster_conf(void);
/* The leader last polled (0 if none). */
uint64_t	 cluster_leader_id(void);
/* The state last polled: -1 before the first poll, else a RAFT_ state. */
int		 cluster_state(void);

/* replicate.c */
/* raft applied an account (user, credentials blob): store it here. */
void		 cluster_user_set_cb(void *, const char *, const char *);
/* raft applied an account's removal: here too, sessions closed. */
void		 cluster_user_del_cb(void *, const char *);
/* raft applied a roster item (owner, jid, encoded item): store it. */
void		 cluster_roster_set_cb(void *, const char *, const char *,
		    const char *);
/* raft applied a roster item's removal (owner, jid): here too. */
void		 cluster_roster_del_cb(void *, const char *, const char *);
/* raft applied an offline message (owner, id, escaped stanza): store. */
void		 cluster_offline_put_cb(void *, const char *, uint64_t,
		    const char *);
/* raft applied the removal of owner's offline messages up to id. */
void		 cluster_offline_del_cb(void *, const char *, uint64_t);
/* A snapshot replaces every offline message: the old ones go. */
void		 cluster_offline_reset_cb(void *);
/* The leader's own entries: the first one, its pin, the first accounts. */
void		 cluster_leader_duties(void);
/* Publish this node's digests (and after a join its accounts) if due. */
void		 cluster_reconcile(void);
/* raft closed: forget what replication was waiting for. */
void		 cluster_replicate_reset(void);

/* status.c */
/* A server of raft's configuration by address (borrowed), or NULL. */
const struct raft_server *cluster_server_by_addr(const char *);
/* A server of raft's configuration by id (borrowed), or NULL. */
const struct raft_server *cluster_server_by_id(uint64_t);
/* When this node last had quorum contact (cnet_now_ms), -1 for none. */
int64_t		 cluster_quorum_contact(void);

#endif /* CLUSTER_INT_H */
