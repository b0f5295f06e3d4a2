/*
 * The SQLite store of mmpd. All SQL lives in db*.c; callers see typed
 * functions only. Every function that fails and takes a char **cause sets
 * it to an allocated one-line message the caller prints and frees.
 */
#ifndef DB_H
#define DB_H

#include <stddef.h>

#define DB_SCHEMA_VERSION	4

/* Configuration keys. */
#define DB_HOSTNAME		"hostname"
#define DB_SYSLOG_SERVERS	"syslog.servers"
#define DB_XMPP_ENABLED		"xmpp.enabled"
#define DB_XMPP_DOMAIN		"xmpp.domain"
#define DB_XMPP_PORT_CLIENT	"xmpp.port.client"
#define DB_XMPP_PORT_COMPONENT	"xmpp.port.component"
#define DB_XMPP_KEY		"xmpp.key"
#define DB_XMPP_CRT		"xmpp.crt"
#define DB_XMPP_BUNDLE		"xmpp.bundle"
#define DB_XMPP_MAX_SESSIONS	"xmpp.max_sessions"
#define DB_XMPP_PORT_CLUSTER	"xmpp.port.cluster"
#define DB_CLUSTER_ENABLED	"cluster.enabled"
#define DB_CLUSTER_TRUST	"cluster.trust"
#define DB_CLUSTER_ID		"cluster.id"
#define DB_CLUSTER_MEMBER	"cluster.member"
#define DB_CLUSTER_HEARTBEAT	"cluster.heartbeat"
#define DB_CLUSTER_ELECTION	"cluster.election"

struct db;
struct sasl_creds;

/* A roster item (RFC 6121 section 2.1.2). */
struct db_roster {
	char	*jid;
	char	*name;			/* NULL when unset */
	char	*subscription;		/* none, to, from, both */
	int	 ask;			/* a subscribe request is pending */
	int	 pending_in;		/* the contact asked us, unanswered */
	char	*groups;		/* newline-separated, "" for none */
};

/*
 * Roster caps (man/mmpd.8, LIMITS). Bytes, not characters. A roster's
 * bytes are those of its JIDs, names and groups (newline-separated), so
 * that the largest roster get stays far below XMPP_MAX_OUTBUF even with
 * every byte escaped.
 */
#define DB_ROSTER_MAX_ITEMS	1000		/* items per roster */
#define DB_ROSTER_MAX_BYTES	(256 * 1024)	/* bytes per roster */
#define DB_ROSTER_MAX_NAME	1023		/* bytes of a name */
#define DB_ROSTER_MAX_GROUP	1023		/* bytes of a group */
#define DB_ROSTER_MAX_GROUPS	16		/* groups per item */
#define DB_ROSTER_MAX_JID	3071		/* bytes of a JID (RFC 7622) */

/* Which contacts db_roster_jids lists. */
#define DB_ROSTER_FROM		1	/* subscribed to the owner */
#define DB_ROSTER_TO		2	/* the owner is subscribed to them */
#define DB_ROSTER_ASKED		3	/* asked the owner, unanswered */

struct db_callbridge {
	char	*name;
	char	*secret;
};

/*
 * Lookups and lists answer three ways, so that a database error never
 * reads as absence: 1 found, 0 absent, -1 on a database error with *cause
 * ("database error: ..."; cause may be NULL). A list function returns 0
 * with the whole list or -1 with none, never a short list.
 */

/* Open (creating, 0600) and migrate the database; close with db_close. */
struct db	*db_open(const char *, char **);
/* Close a handle from db_open; NULL is fine. */
void		 db_close(struct db *);
/* Check a database file read-only (integrity, schema); 0 or -1, *cause. */
int		 db_check(const char *, char **);
/* The schema version of an open database, or -1. */
int		 db_schema_version(struct db *);

/* Start a write transaction; 0 or -1 with *cause. */
int		 db_begin(struct db *, char **);
/* Commit (on disk when 0); on -1 with *cause it has rolled back. */
int		 db_commit(struct db *, char **);
/* Roll back the open transaction, if any. */
void		 db_rollback(struct db *);

/* A setting: 1 with *value (caller frees), 0 unset, -1 with *cause. */
int		 db_config_find(struct db *, const char *, char **, char **);
/* A setting (caller frees), or NULL when unset or on an error (logged). */
char		*db_config_get(struct db *, const char *);
/* Set a setting, NULL deletes it; 0 or -1 with *cause. */
int		 db_config_set(struct db *, const char *, const char *,
		    char **);

/* The listen list (free with util_free_argv); 0, or -1 (logged), empty. */
int		 db_listen_get(struct db *, char ***, int *);
/* Replace the listen list, inside a transaction; 0 or -1 with *cause. */
int		 db_listen_set(struct db *, char **, int, char **);

/* Add a call bridge (name, secret); 0 or -1 with *cause. */
int		 db_callbridge_add(struct db *, const char *, const char *,
		    char **);
/* Delete a call bridge by exact name; 0 or -1 with *cause. */
int		 db_callbridge_del(struct db *, const char *, char **);
/* A call bridge by name, any case: 1 with *cb (db_callbridge_free(*cb,
   1)), 0 none, -1 with *cause. */
int		 db_callbridge_get(struct db *, const char *,
		    struct db_callbridge **, char **);
/* All call bridges by name (db_callbridge_free); 0, or -1 with *cause. */
int		 db_callbridge_list(struct db *, struct db_callbridge **,
		    size_t *, char **);
/* Free (and wipe) a call-bridge array; NULL is fine. */
void		 db_callbridge_free(struct db_callbridge *, size_t);
/* The number of call bridges, or -1 on a database error. */
int		 db_callbridge_count(struct db *);

/* Clear XMPP settings and call bridges in a transaction of its own. */
int		 db_xmpp_reset(struct db *, char **);

/* Add an account with its SHA-1 and SHA-256 keys; 0 or -1 with *cause. */
int		 db_user_add(struct db *, const char *,
		    const struct sasl_creds *, const struct sasl_creds *,
		    char **);
/* Replace an account's keys; 0 or -1 with *cause (also: no such user). */
int		 db_user_set_creds(struct db *, const char *,
		    const struct sasl_creds *, const struct sasl_creds *,
		    char **);
/* Delete an account with its keys and roster; 0 or -1 with *cause. */
int		 db_user_del(struct db *, const char *, char **);
/* Whether an account exists: 1, 0, or -1 with *cause. */
int		 db_user_exists(struct db *, const char *, char **);
/* An account's keys for one hash into the caller's struct: 1, 0, -1. */
int		 db_user_creds(struct db *, const char *, int,
		    struct sasl_creds *, char **);
/* Every account, sorted (free with util_free_argv); 0, or -1, *cause. */
int		 db_user_list(struct db *, char ***, int *, char **);

/* An account's roster by JID (db_roster_free); 0, or -1 with *cause. */
int		 db_roster_get(struct db *, const char *, struct db_roster **,
		    size_t *, char **);
/* One roster item into the caller's struct (db_roster_clear): 1, 0, -1. */
int		 db_roster_item(struct db *, const char *, const char *,
		    struct db_roster *, char **);
/* Store a roster item if it passes the caps; 0 or -1 with *cause. */
int		 db_roster_put(struct db *, const char *,
		    const struct db_roster *, char **);
/* Remove a roster item (absent is fine); 0 or -1 with *cause. */
int		 db_roster_del(struct db *, const char *, const char *,
		    char **);
/* Whether an item alone is within the caps; 0 or -1 with *cause. */
int		 db_roster_check(const struct db_roster *, char **);
/* Whether owner's roster has room: 0, 1 full (*cause), -1 (*cause). */
int		 db_roster_fits(struct db *, const char *,
		    const struct db_roster *, char **);
/* The bytes an item counts for against DB_ROSTER_MAX_BYTES. */
size_t		 db_roster_size(const struct db_roster *);
/* Contacts' JIDs of one DB_ROSTER_* kind (util_free_argv); 0, or -1. */
int		 db_roster_jids(struct db *, const char *, int, char ***,
		    int *, char **);
/* Free a roster array from db_roster_get. */
void		 db_roster_free(struct db_roster *, size_t);
/* Free one item's strings (from db_roster_item) and zero it. */
void		 db_roster_clear(struct db_roster *);

/*
 * Offline message caps per account (man/mmpd.8, LIMITS): ejabberd's
 * example configuration allows 100 (5,000 for admins), Prosody's
 * mod_offline has none; 500 keeps a week's backlog of an ordinary user
 * and, with the bytes (those of the stanzas as stored), bounds what a
 * cluster keeps of each account in every member's memory.
 */
#define DB_OFFLINE_MAX_MSGS	500
#define DB_OFFLINE_MAX_BYTES	(256 * 1024)

/* One stored offline message (XEP-0160) of an account. */
struct db_offline {
	long long	 id;		/* order of arrival, > 0 */
	char		*stanza;	/* as serialised when stored */
};

/* Store owner's message as number id (0: after the last); 0 or -1. */
int		 db_offline_put(struct db *, const char *, long long,
		    const char *, char **);
/* How many messages owner has stored and their bytes: 0, or -1. */
int		 db_offline_count(struct db *, const char *, int *, size_t *,
		    char **);
/* owner's messages by id, above after (db_offline_free); 0, or -1. */
int		 db_offline_list(struct db *, const char *, long long,
		    struct db_offline **, size_t *, char **);
/* Remove owner's messages up to and including id; 0 or -1. */
int		 db_offline_del(struct db *, const char *, long long, char **);
/* Remove every account's messages; 0 or -1 with *cause. */
int		 db_offline_clear(struct db *, char **);
/* Free a list from db_offline_list; NULL is fine. */
void		 db_offline_free(struct db_offline *, size_t);

/*
 * Backups (man/mmpd.8, LIMITS). A .bak is an SQLite file of its own
 * holding the database image and the files of the store; these functions
 * open their own connections and may run in a worker thread.
 */
#define DB_BACKUP_FORMAT	"mmp-backup 1"
#define DB_BACKUP_MAX_BYTES	(1024LL * 1024 * 1024)	/* a .bak, and all
							   it holds */
#define DB_BACKUP_MAX_FILES	4096	/* files of the store in a .bak */
#define DB_BACKUP_SUFFIX	".bak"

/* Write a backup of the database and files to a new file; -1, *cause. */
int		 db_backup_write(const char *, const char *, const char *,
		    const char *, int *, long long *, char **);
/* Check and unpack a backup to an image and a staging directory. */
int		 db_backup_read(const char *, const char *, const char *,
		    const char *, int *, char **);
/* Remove what db_backup_read unpacked. */
void		 db_backup_discard(const char *, const char *);

/* Remote syslog servers (per node): 1 with *value (caller frees), 0, -1. */
int		 db_syslog_get(struct db *, char **, char **);
/* Store the remote syslog servers (NULL or "" none), committed. */
int		 db_syslog_set(struct db *, const char *, char **);

#endif /* DB_H */
