/*
 * The SQLite store of mmpd. All SQL lives in db.c; callers see typed
 * functions only. Every function that fails and takes a char **cause sets
 * it to an allocated one-line message the caller prints and frees.
 */
#ifndef DB_H
#define DB_H

#include <stddef.h>

#define DB_SCHEMA_VERSION	3

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

struct db	*db_open(const char *, char **);
void		 db_close(struct db *);
int		 db_check(const char *, char **);
int		 db_schema_version(struct db *);

int		 db_begin(struct db *, char **);
int		 db_commit(struct db *, char **);
void		 db_rollback(struct db *);

char		*db_config_get(struct db *, const char *);
int		 db_config_set(struct db *, const char *, const char *, char **);

/* db_listen_get's list is freed with util_free_argv. */
int		 db_listen_get(struct db *, char ***, int *);
int		 db_listen_set(struct db *, char **, int, char **);

int		 db_callbridge_add(struct db *, const char *, const char *,
		    char **);
int		 db_callbridge_del(struct db *, const char *, char **);
int		 db_callbridge_get(struct db *, const char *,
		    struct db_callbridge **);
int		 db_callbridge_list(struct db *, struct db_callbridge **,
		    size_t *);
void		 db_callbridge_free(struct db_callbridge *, size_t);
int		 db_callbridge_count(struct db *);

int		 db_xmpp_reset(struct db *, char **);

int		 db_user_add(struct db *, const char *,
		    const struct sasl_creds *, const struct sasl_creds *,
		    char **);
int		 db_user_set_creds(struct db *, const char *,
		    const struct sasl_creds *, const struct sasl_creds *,
		    char **);
int		 db_user_del(struct db *, const char *, char **);
int		 db_user_exists(struct db *, const char *);
int		 db_user_creds(struct db *, const char *, int,
		    struct sasl_creds *);
int		 db_user_list(struct db *, char ***, int *);

int		 db_roster_get(struct db *, const char *, struct db_roster **,
		    size_t *);
int		 db_roster_item(struct db *, const char *, const char *,
		    struct db_roster *);
int		 db_roster_put(struct db *, const char *,
		    const struct db_roster *, char **);
int		 db_roster_del(struct db *, const char *, const char *,
		    char **);
int		 db_roster_check(const struct db_roster *, char **);
int		 db_roster_fits(struct db *, const char *,
		    const struct db_roster *, char **);
size_t		 db_roster_size(const struct db_roster *);
/* db_roster_jids's list is freed with util_free_argv. */
int		 db_roster_jids(struct db *, const char *, int, char ***,
		    int *);
void		 db_roster_free(struct db_roster *, size_t);
void		 db_roster_clear(struct db_roster *);

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

int		 db_backup_write(const char *, const char *, const char *,
		    const char *, int *, long long *, char **);
int		 db_backup_read(const char *, const char *, const char *,
		    const char *, int *, char **);
void		 db_backup_discard(const char *, const char *);
/* remote syslog servers, per node */
char		*db_syslog_get(struct db *);
int		 db_syslog_set(struct db *, const char *, char **);

#endif /* DB_H */
