/*
 * The SQLite store: one file, WAL mode, foreign keys on, synchronous=FULL.
 * Schema versions live in PRAGMA user_version and migrations are applied
 * in order at open. Every statement is prepared and bound, never
 * formatted; nothing outside this file sees SQL.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cmdtab.h"
#include "db.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"
#include "xmpp/sasl.h"

struct db {
	sqlite3		*sql;
};

static int	 db_exec(struct db *, const char *, char **);
static int	 db_prepare(struct db *, sqlite3_stmt **, const char *,
		    char **);
static int	 db_migrate(struct db *, char **);
static int	 db_done(struct db *, sqlite3_stmt *, char **);
static int	 db_user_version(sqlite3 *);
static int	 db_user_put_creds(struct db *, const char *,
		    const struct sasl_creds *, char **);
static void	 db_roster_row(sqlite3_stmt *, struct db_roster *);
static void	 db_callbridge_log_shadowed(struct db *);

/* Migration n takes the schema from version n to n + 1. */
static const char *migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE config ("
	"  key TEXT PRIMARY KEY NOT NULL,"
	"  value TEXT NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE listen ("
	"  pos INTEGER PRIMARY KEY,"
	"  addr TEXT NOT NULL UNIQUE CHECK (length(addr) BETWEEN 1 AND 64)"
	");"
	"CREATE TABLE callbridge ("
	"  name TEXT PRIMARY KEY NOT NULL"
	"    CHECK (length(name) BETWEEN 1 AND 64),"
	"  secret TEXT NOT NULL CHECK (length(secret) BETWEEN 8 AND 256),"
	"  created INTEGER NOT NULL DEFAULT (strftime('%s', 'now'))"
	");",
	/* 1 -> 2: accounts (SCRAM keys only) and rosters */
	"CREATE TABLE user ("
	"  localpart TEXT PRIMARY KEY NOT NULL"
	"    CHECK (length(localpart) BETWEEN 1 AND 64),"
	"  created INTEGER NOT NULL DEFAULT (strftime('%s', 'now'))"
	");"
	"CREATE TABLE user_scram ("
	"  localpart TEXT NOT NULL REFERENCES user (localpart)"
	"    ON DELETE CASCADE,"
	"  hash INTEGER NOT NULL CHECK (hash IN (1, 2)),"
	"  iterations INTEGER NOT NULL CHECK (iterations >= 4096),"
	"  salt BLOB NOT NULL CHECK (length(salt) = 16),"
	"  stored_key BLOB NOT NULL,"
	"  server_key BLOB NOT NULL,"
	"  PRIMARY KEY (localpart, hash)"
	");"
	"CREATE TABLE roster ("
	"  owner TEXT NOT NULL REFERENCES user (localpart) ON DELETE CASCADE,"
	"  jid TEXT NOT NULL CHECK (length(jid) BETWEEN 3 AND 3071),"
	"  name TEXT,"
	"  subscription TEXT NOT NULL DEFAULT 'none'"
	"    CHECK (subscription IN ('none', 'to', 'from', 'both')),"
	"  ask INTEGER NOT NULL DEFAULT 0,"
	"  pending_in INTEGER NOT NULL DEFAULT 0,"
	"  groups TEXT NOT NULL DEFAULT '',"
	"  PRIMARY KEY (owner, jid)"
	");",
	/*
	 * 2 -> 3: call-bridge names unique regardless of ASCII case. Of
	 * names that differ only in case, the component handshake always
	 * used the last in binary order, so only that one's secret ever
	 * logged in: keep it, drop the others (db_migrate names them).
	 */
	"DELETE FROM callbridge WHERE EXISTS (SELECT 1 FROM callbridge AS o"
	"  WHERE o.name = callbridge.name COLLATE NOCASE"
	"  AND o.name > callbridge.name);"
	"CREATE UNIQUE INDEX callbridge_name_nocase"
	"  ON callbridge (name COLLATE NOCASE);",
};

/* Run SQL that takes no parameters (schema, pragmas, transactions). */
static int
db_exec(struct db *db, const char *sql, char **cause)
{
	char	*err = NULL;

	if (sqlite3_exec(db->sql, sql, NULL, NULL, &err) != SQLITE_OK) {
		if (cause != NULL)
			xasprintf(cause, "database: %s",
			    err ? err : sqlite3_errmsg(db->sql));
		sqlite3_free(err);
		return (-1);
	}
	return (0);
}

/* Run a statement that returns no rows and finalize it; -1 with *cause. */
static int
db_done(struct db *db, sqlite3_stmt *st, char **cause)
{
	int	 rc;

	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		xasprintf(cause, "database: %s", sqlite3_errmsg(db->sql));
		return (-1);
	}
	return (0);
}

/* Prepare one statement; -1 with *cause on failure. */
static int
db_prepare(struct db *db, sqlite3_stmt **st, const char *sql, char **cause)
{
	if (sqlite3_prepare_v2(db->sql, sql, -1, st, NULL) != SQLITE_OK) {
		if (cause != NULL)
			xasprintf(cause, "database: %s",
			    sqlite3_errmsg(db->sql));
		*st = NULL;
		return (-1);
	}
	return (0);
}

/* The schema version stored in the file, or -1. */
static int
db_user_version(sqlite3 *sql)
{
	sqlite3_stmt	*st;
	int		 v = -1;

	if (sqlite3_prepare_v2(sql, "PRAGMA user_version", -1, &st, NULL) !=
	    SQLITE_OK)
		return (-1);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return (v);
}

/* Apply every migration the file has not seen, each in a transaction. */
static int
db_migrate(struct db *db, char **cause)
{
	char	 pragma[64];
	int	 v;

	if ((v = db_user_version(db->sql)) < 0) {
		xasprintf(cause, "database: cannot read schema version: %s",
		    sqlite3_errmsg(db->sql));
		return (-1);
	}
	if (v > DB_SCHEMA_VERSION) {
		xasprintf(cause, "database schema version %d is newer than "
		    "this mmpd understands (%d)", v, DB_SCHEMA_VERSION);
		return (-1);
	}
	for (; v < DB_SCHEMA_VERSION; v++) {
		if (db_exec(db, "BEGIN IMMEDIATE", cause) == -1)
			return (-1);
		if (v == 2)
			db_callbridge_log_shadowed(db);
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d",
		    v + 1);
		if (db_exec(db, migrations[v], cause) == -1 ||
		    db_exec(db, pragma, cause) == -1 ||
		    db_exec(db, "COMMIT", cause) == -1) {
			db_exec(db, "ROLLBACK", NULL);
			return (-1);
		}
		log_info("db_migrate: schema now at version %d", v + 1);
	}
	return (0);
}

/*
 * Open (creating if needed, mode 0600) the database at path and bring its
 * schema up to date. Returns a handle the caller closes with db_close.
 */
struct db *
db_open(const char *path, char **cause)
{
	struct db	*db;
	int		 fd;

	/* Create the file ourselves so that it is 0600 from the start. */
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return (NULL);
	}
	if (fchmod(fd, 0600) == -1) {
		xasprintf(cause, "%s: chmod: %s", path, strerror(errno));
		close(fd);
		return (NULL);
	}
	close(fd);

	db = xcalloc(1, sizeof(*db));
	if (sqlite3_open_v2(path, &db->sql, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		xasprintf(cause, "%s: %s", path, db->sql ?
		    sqlite3_errmsg(db->sql) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(db->sql, 5000);
	/* Refuse a newer schema before any pragma touches the file. */
	if (db_user_version(db->sql) > DB_SCHEMA_VERSION) {
		xasprintf(cause, "database schema version %d is newer than "
		    "this mmpd understands (%d)", db_user_version(db->sql),
		    DB_SCHEMA_VERSION);
		goto fail;
	}
	if (db_exec(db, "PRAGMA journal_mode = WAL", cause) == -1 ||
	    db_exec(db, "PRAGMA foreign_keys = ON", cause) == -1 ||
	    db_exec(db, "PRAGMA synchronous = FULL", cause) == -1 ||
	    db_migrate(db, cause) == -1)
		goto fail;
	return (db);
fail:
	db_close(db);
	return (NULL);
}

/* Close the database; NULL is fine. */
void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	sqlite3_close(db->sql);
	free(db);
}

/*
 * Check an existing database without changing it: it opens, passes
 * integrity_check and has a schema this build knows. 0 or -1 with *cause.
 */
int
db_check(const char *path, char **cause)
{
	sqlite3		*sql = NULL;
	sqlite3_stmt	*st = NULL;
	const char	*res;
	int		 v, rc = -1;

	if (sqlite3_open_v2(path, &sql, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		xasprintf(cause, "%s: %s", path, sql ? sqlite3_errmsg(sql) :
		    "cannot open");
		goto out;
	}
	if (sqlite3_prepare_v2(sql, "PRAGMA integrity_check", -1, &st,
	    NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		xasprintf(cause, "%s: %s", path, sqlite3_errmsg(sql));
		goto out;
	}
	res = (const char *)sqlite3_column_text(st, 0);
	if (res == NULL || strcmp(res, "ok") != 0) {
		xasprintf(cause, "%s: integrity check failed: %s", path,
		    res ? res : "no answer");
		goto out;
	}
	if ((v = db_user_version(sql)) < 0 || v > DB_SCHEMA_VERSION) {
		xasprintf(cause, "%s: schema version %d, this mmpd knows up "
		    "to %d", path, v, DB_SCHEMA_VERSION);
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(sql);
	return (rc);
}

/* The schema version of an open database. */
int
db_schema_version(struct db *db)
{
	return (db_user_version(db->sql));
}

/* Start a write transaction. */
int
db_begin(struct db *db, char **cause)
{
	return (db_exec(db, "BEGIN IMMEDIATE", cause));
}

/* Commit; once this returns 0 the change is on disk (synchronous=FULL). */
int
db_commit(struct db *db, char **cause)
{
	if (db_exec(db, "COMMIT", cause) == -1) {
		db_rollback(db);
		return (-1);
	}
	return (0);
}

/* Roll back the open transaction, if any. */
void
db_rollback(struct db *db)
{
	if (!sqlite3_get_autocommit(db->sql))
		db_exec(db, "ROLLBACK", NULL);
}

/* A configuration value, or NULL when unset; the caller frees. */
char *
db_config_get(struct db *db, const char *key)
{
	sqlite3_stmt	*st;
	char		*v = NULL;

	if (db_prepare(db, &st, "SELECT value FROM config WHERE key = ?",
	    NULL) == -1)
		return (NULL);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return (v);
}

/* Set a configuration value; NULL deletes it. */
int
db_config_set(struct db *db, const char *key, const char *value,
    char **cause)
{
	sqlite3_stmt	*st;

	if (db_prepare(db, &st, value != NULL ?
	    "INSERT INTO config (key, value) VALUES (?, ?) "
	    "ON CONFLICT (key) DO UPDATE SET value = excluded.value" :
	    "DELETE FROM config WHERE key = ?", cause) == -1)
		return (-1);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (value != NULL)
		sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	return (db_done(db, st, cause));
}

/* The listen list in the order it was given; free with util_free_argv. */
int
db_listen_get(struct db *db, char ***addrs, int *n)
{
	sqlite3_stmt	*st;

	*addrs = NULL;
	*n = 0;
	if (db_prepare(db, &st, "SELECT addr FROM listen ORDER BY pos",
	    NULL) == -1)
		return (-1);
	while (sqlite3_step(st) == SQLITE_ROW) {
		*addrs = xreallocarray(*addrs, *n + 2, sizeof(**addrs));
		(*addrs)[(*n)++] =
		    xstrdup((const char *)sqlite3_column_text(st, 0));
		(*addrs)[*n] = NULL;
	}
	sqlite3_finalize(st);
	return (0);
}

/* Replace the listen list; call inside a transaction. */
int
db_listen_set(struct db *db, char **addrs, int n, char **cause)
{
	sqlite3_stmt	*st;
	int		 i, ext, rc = SQLITE_DONE;

	if (db_exec(db, "DELETE FROM listen", cause) == -1)
		return (-1);
	if (db_prepare(db, &st, "INSERT INTO listen (pos, addr) "
	    "VALUES (?, ?)", cause) == -1)
		return (-1);
	for (i = 0; i < n && rc == SQLITE_DONE; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int(st, 1, i);
		sqlite3_bind_text(st, 2, addrs[i], -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
	}
	ext = sqlite3_extended_errcode(db->sql);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		if (ext == SQLITE_CONSTRAINT_CHECK)
			xasprintf(cause, "listen address %s: must be 1 to 64 "
			    "characters", addrs[i - 1]);
		else if (ext == SQLITE_CONSTRAINT_UNIQUE)
			xasprintf(cause, "listen address %s given twice",
			    addrs[i - 1]);
		else
			xasprintf(cause, "database: %s",
			    sqlite3_errmsg(db->sql));
		return (-1);
	}
	return (0);
}

/*
 * Log the call bridges migration 2 -> 3 drops: names that differ only in
 * case from another whose secret the handshake used instead.
 */
static void
db_callbridge_log_shadowed(struct db *db)
{
	sqlite3_stmt	*st;

	if (db_prepare(db, &st, "SELECT c.name, (SELECT max(o.name) FROM "
	    "callbridge AS o WHERE o.name = c.name COLLATE NOCASE) "
	    "FROM callbridge AS c WHERE EXISTS (SELECT 1 FROM callbridge AS o "
	    "WHERE o.name = c.name COLLATE NOCASE AND o.name > c.name) "
	    "ORDER BY c.name",
	    NULL) == -1)
		return;
	while (sqlite3_step(st) == SQLITE_ROW)
		log_warnx("db_callbridge_log_shadowed: dropping call bridge "
		    "%s: its name differs only in case from %s, whose secret "
		    "is the one that logged in", sqlite3_column_text(st, 0),
		    sqlite3_column_text(st, 1));
	sqlite3_finalize(st);
}

/*
 * The call bridge whose name equals name regardless of ASCII case (names
 * are unique that way). Returns 1 and sets *cb, which the caller frees
 * with db_callbridge_free(*cb, 1); 0 when there is none; -1 on a database
 * error or when more than one row matches.
 */
int
db_callbridge_get(struct db *db, const char *name, struct db_callbridge **cb)
{
	sqlite3_stmt	*st;
	int		 rc, found = 0;

	*cb = NULL;
	if (db_prepare(db, &st, "SELECT name, secret FROM callbridge "
	    "WHERE name = ? COLLATE NOCASE LIMIT 2", NULL) == -1)
		return (-1);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && found++ == 0) {
		*cb = xcalloc(1, sizeof(**cb));
		(*cb)->name = xstrdup((const char *)sqlite3_column_text(st, 0));
		(*cb)->secret =
		    xstrdup((const char *)sqlite3_column_text(st, 1));
	}
	sqlite3_finalize(st);
	if ((rc != SQLITE_DONE && rc != SQLITE_ROW) || found > 1) {
		if (found > 1)
			log_warnx("db_callbridge_get: more than one call "
			    "bridge named %s", name);
		db_callbridge_free(*cb, *cb != NULL);
		*cb = NULL;
		return (-1);
	}
	return (found);
}

/* Add a call bridge; a name that exists, in any case, is refused. */
int
db_callbridge_add(struct db *db, const char *name, const char *secret,
    char **cause)
{
	struct db_callbridge	*old;
	sqlite3_stmt		*st;
	int			 rc, ext;

	if ((rc = db_callbridge_get(db, name, &old)) == 1) {
		if (strcmp(old->name, name) == 0)
			xasprintf(cause, "call bridge %s already exists", name);
		else
			xasprintf(cause, "call bridge %s already exists as %s "
			    "(names ignore case)", name, old->name);
		db_callbridge_free(old, 1);
		return (-1);
	}
	if (rc == -1) {
		xasprintf(cause, "database: cannot look up call bridge %s",
		    name);
		return (-1);
	}
	if (db_prepare(db, &st, "INSERT INTO callbridge (name, secret) "
	    "VALUES (?, ?)", cause) == -1)
		return (-1);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, secret, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	ext = sqlite3_extended_errcode(db->sql);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return (0);
	if (ext == SQLITE_CONSTRAINT_PRIMARYKEY ||
	    ext == SQLITE_CONSTRAINT_UNIQUE)
		xasprintf(cause, "call bridge %s already exists", name);
	else if (ext == SQLITE_CONSTRAINT_CHECK)
		xasprintf(cause, "call bridge %s: name must be 1 to 64 "
		    "characters and secret 8 to 256", name);
	else
		xasprintf(cause, "database: %s", sqlite3_errmsg(db->sql));
	return (-1);
}

/* Delete a call bridge; a name that does not exist is an error. */
int
db_callbridge_del(struct db *db, const char *name, char **cause)
{
	struct db_callbridge	*old = NULL;
	sqlite3_stmt		*st;
	int			 rc;

	if (db_prepare(db, &st, "DELETE FROM callbridge WHERE name = ?",
	    cause) == -1)
		return (-1);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		xasprintf(cause, "database: %s", sqlite3_errmsg(db->sql));
		return (-1);
	}
	if (sqlite3_changes(db->sql) == 0) {
		if (db_callbridge_get(db, name, &old) == 1)
			xasprintf(cause, "no call bridge named %s (there is "
			    "%s)", name, old->name);
		else
			xasprintf(cause, "no call bridge named %s", name);
		db_callbridge_free(old, old != NULL);
		return (-1);
	}
	return (0);
}

/*
 * All call bridges ordered by name, in an array the caller frees with
 * db_callbridge_free.
 */
int
db_callbridge_list(struct db *db, struct db_callbridge **list, size_t *n)
{
	sqlite3_stmt	*st;

	*list = NULL;
	*n = 0;
	if (db_prepare(db, &st, "SELECT name, secret FROM callbridge "
	    "ORDER BY name", NULL) == -1)
		return (-1);
	while (sqlite3_step(st) == SQLITE_ROW) {
		*list = xreallocarray(*list, *n + 1, sizeof(**list));
		(*list)[*n].name =
		    xstrdup((const char *)sqlite3_column_text(st, 0));
		(*list)[*n].secret =
		    xstrdup((const char *)sqlite3_column_text(st, 1));
		(*n)++;
	}
	sqlite3_finalize(st);
	return (0);
}

/* Free a list from db_callbridge_list (or db_callbridge_get), wiping. */
void
db_callbridge_free(struct db_callbridge *list, size_t n)
{
	size_t	 i;

	if (list == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(list[i].name);
		explicit_bzero(list[i].secret, strlen(list[i].secret));
		free(list[i].secret);
	}
	free(list);
}

/* The number of call bridges, or -1. */
int
db_callbridge_count(struct db *db)
{
	sqlite3_stmt	*st;
	int		 n = -1;

	if (db_prepare(db, &st, "SELECT count(*) FROM callbridge", NULL) ==
	    -1)
		return (-1);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return (n);
}

/*
 * Clear all XMPP configuration and call bridges in one transaction of its
 * own: do not call inside db_begin.
 */
int
db_xmpp_reset(struct db *db, char **cause)
{
	if (db_begin(db, cause) == -1)
		return (-1);
	if (db_exec(db, "DELETE FROM config WHERE key LIKE 'xmpp.%'",
	    cause) == -1 ||
	    db_exec(db, "DELETE FROM listen", cause) == -1 ||
	    db_exec(db, "DELETE FROM callbridge", cause) == -1) {
		db_rollback(db);
		return (-1);
	}
	return (db_commit(db, cause));
}

/* Store one hash's SCRAM keys for an account. */
static int
db_user_put_creds(struct db *db, const char *localpart,
    const struct sasl_creds *c, char **cause)
{
	sqlite3_stmt	*st;

	if (db_prepare(db, &st, "INSERT OR REPLACE INTO user_scram "
	    "(localpart, hash, iterations, salt, stored_key, server_key) "
	    "VALUES (?, ?, ?, ?, ?, ?)", cause) == -1)
		return (-1);
	sqlite3_bind_text(st, 1, localpart, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, c->hash);
	sqlite3_bind_int(st, 3, c->iterations);
	sqlite3_bind_blob(st, 4, c->salt, sizeof(c->salt), SQLITE_STATIC);
	sqlite3_bind_blob(st, 5, c->stored_key, c->keylen, SQLITE_STATIC);
	sqlite3_bind_blob(st, 6, c->server_key, c->keylen, SQLITE_STATIC);
	return (db_done(db, st, cause));
}

/* Add an account with its SHA-1 and SHA-256 keys, in one transaction. */
int
db_user_add(struct db *db, const char *localpart,
    const struct sasl_creds *sha1, const struct sasl_creds *sha256,
    char **cause)
{
	sqlite3_stmt	*st;
	int		 rc, ext;

	if (db_begin(db, cause) == -1)
		return (-1);
	if (db_prepare(db, &st, "INSERT INTO user (localpart) VALUES (?)",
	    cause) == -1)
		goto fail;
	sqlite3_bind_text(st, 1, localpart, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	ext = sqlite3_extended_errcode(db->sql);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		if (ext == SQLITE_CONSTRAINT_PRIMARYKEY)
			xasprintf(cause, "user %s already exists", localpart);
		else
			xasprintf(cause, "database: %s",
			    sqlite3_errmsg(db->sql));
		goto fail;
	}
	if (db_user_put_creds(db, localpart, sha1, cause) == -1 ||
	    db_user_put_creds(db, localpart, sha256, cause) == -1)
		goto fail;
	return (db_commit(db, cause));
fail:
	db_rollback(db);
	return (-1);
}

/* Replace an account's keys (a new password), in one transaction. */
int
db_user_set_creds(struct db *db, const char *localpart,
    const struct sasl_creds *sha1, const struct sasl_creds *sha256,
    char **cause)
{
	if (!db_user_exists(db, localpart)) {
		xasprintf(cause, "no user named %s", localpart);
		return (-1);
	}
	if (db_begin(db, cause) == -1)
		return (-1);
	if (db_user_put_creds(db, localpart, sha1, cause) == -1 ||
	    db_user_put_creds(db, localpart, sha256, cause) == -1) {
		db_rollback(db);
		return (-1);
	}
	return (db_commit(db, cause));
}

/* Delete an account with its keys and roster. */
int
db_user_del(struct db *db, const char *localpart, char **cause)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (db_begin(db, cause) == -1)
		return (-1);
	if (db_prepare(db, &st, "DELETE FROM user WHERE localpart = ?",
	    cause) == -1) {
		db_rollback(db);
		return (-1);
	}
	sqlite3_bind_text(st, 1, localpart, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE || sqlite3_changes(db->sql) == 0) {
		if (rc != SQLITE_DONE)
			xasprintf(cause, "database: %s",
			    sqlite3_errmsg(db->sql));
		else
			xasprintf(cause, "no user named %s", localpart);
		db_rollback(db);
		return (-1);
	}
	return (db_commit(db, cause));
}

/* Whether an account exists. */
int
db_user_exists(struct db *db, const char *localpart)
{
	sqlite3_stmt	*st;
	int		 found = 0;

	if (db_prepare(db, &st, "SELECT 1 FROM user WHERE localpart = ?",
	    NULL) == -1)
		return (0);
	sqlite3_bind_text(st, 1, localpart, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return (found);
}

/* An account's keys for one hash; -1 when there is no such account. */
int
db_user_creds(struct db *db, const char *localpart, int hash,
    struct sasl_creds *c)
{
	sqlite3_stmt	*st;
	size_t		 n;
	int		 rc = -1;

	if (db_prepare(db, &st, "SELECT iterations, salt, stored_key, "
	    "server_key FROM user_scram WHERE localpart = ? AND hash = ?",
	    NULL) == -1)
		return (-1);
	sqlite3_bind_text(st, 1, localpart, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, hash);
	if (sqlite3_step(st) == SQLITE_ROW) {
		memset(c, 0, sizeof(*c));
		c->hash = hash;
		c->iterations = sqlite3_column_int(st, 0);
		n = sqlite3_column_bytes(st, 2);
		if (sqlite3_column_bytes(st, 1) == sizeof(c->salt) &&
		    n <= sizeof(c->stored_key) &&
		    (size_t)sqlite3_column_bytes(st, 3) == n) {
			memcpy(c->salt, sqlite3_column_blob(st, 1),
			    sizeof(c->salt));
			memcpy(c->stored_key, sqlite3_column_blob(st, 2), n);
			memcpy(c->server_key, sqlite3_column_blob(st, 3), n);
			c->keylen = n;
			rc = 0;
		}
	}
	sqlite3_finalize(st);
	return (rc);
}

/* Every account, sorted; free with util_free_argv. */
int
db_user_list(struct db *db, char ***names, int *n)
{
	sqlite3_stmt	*st;

	*names = NULL;
	*n = 0;
	if (db_prepare(db, &st, "SELECT localpart FROM user "
	    "ORDER BY localpart", NULL) == -1)
		return (-1);
	while (sqlite3_step(st) == SQLITE_ROW) {
		*names = xreallocarray(*names, *n + 2, sizeof(**names));
		(*names)[(*n)++] =
		    xstrdup((const char *)sqlite3_column_text(st, 0));
		(*names)[*n] = NULL;
	}
	sqlite3_finalize(st);
	return (0);
}

/* Fill a roster item from the current row (columns as in ROSTER_COLS). */
#define ROSTER_COLS "jid, name, subscription, ask, pending_in, groups"
static void
db_roster_row(sqlite3_stmt *st, struct db_roster *r)
{
	memset(r, 0, sizeof(*r));
	r->jid = xstrdup((const char *)sqlite3_column_text(st, 0));
	if (sqlite3_column_type(st, 1) != SQLITE_NULL)
		r->name = xstrdup((const char *)sqlite3_column_text(st, 1));
	r->subscription = xstrdup((const char *)sqlite3_column_text(st, 2));
	r->ask = sqlite3_column_int(st, 3);
	r->pending_in = sqlite3_column_int(st, 4);
	r->groups = xstrdup((const char *)sqlite3_column_text(st, 5));
}

/* An account's roster, ordered by JID; free with db_roster_free. */
int
db_roster_get(struct db *db, const char *owner, struct db_roster **list,
    size_t *n)
{
	sqlite3_stmt	*st;

	*list = NULL;
	*n = 0;
	if (db_prepare(db, &st, "SELECT " ROSTER_COLS " FROM roster "
	    "WHERE owner = ? ORDER BY jid", NULL) == -1)
		return (-1);
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		*list = xreallocarray(*list, *n + 1, sizeof(**list));
		db_roster_row(st, &(*list)[(*n)++]);
	}
	sqlite3_finalize(st);
	return (0);
}

/* One roster item; -1 when the owner has no item for that JID. */
int
db_roster_item(struct db *db, const char *owner, const char *jid,
    struct db_roster *r)
{
	sqlite3_stmt	*st;
	int		 rc = -1;

	if (db_prepare(db, &st, "SELECT " ROSTER_COLS " FROM roster "
	    "WHERE owner = ? AND jid = ?", NULL) == -1)
		return (-1);
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, jid, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		db_roster_row(st, r);
		rc = 0;
	}
	sqlite3_finalize(st);
	return (rc);
}

/*
 * Whether an item, alone, is within the caps: a JID of 1 to
 * DB_ROSTER_MAX_JID bytes, a name of at most DB_ROSTER_MAX_NAME, at most
 * DB_ROSTER_MAX_GROUPS groups of 1 to DB_ROSTER_MAX_GROUP bytes each, no
 * control character and no duplicate among them. 0, or -1 with *cause.
 */
int
db_roster_check(const struct db_roster *r, char **cause)
{
	const char	*g, *end, *p;
	const char	*seen[DB_ROSTER_MAX_GROUPS];
	size_t		 len, glen[DB_ROSTER_MAX_GROUPS];
	int		 n = 0, i;

	if (r->jid == NULL || *r->jid == '\0' ||
	    strlen(r->jid) > DB_ROSTER_MAX_JID) {
		xasprintf(cause, "roster item: JID empty or longer than %d "
		    "bytes", DB_ROSTER_MAX_JID);
		return (-1);
	}
	if (r->name != NULL && strlen(r->name) > DB_ROSTER_MAX_NAME) {
		xasprintf(cause, "roster item: name longer than %d bytes",
		    DB_ROSTER_MAX_NAME);
		return (-1);
	}
	if (r->groups == NULL || *r->groups == '\0')
		return (0);
	for (g = r->groups;; g = end + 1) {
		end = g + strcspn(g, "\n");
		len = end - g;
		if (n == DB_ROSTER_MAX_GROUPS) {
			xasprintf(cause, "roster item: more than %d groups",
			    DB_ROSTER_MAX_GROUPS);
			return (-1);
		}
		if (len == 0 || len > DB_ROSTER_MAX_GROUP) {
			xasprintf(cause, "roster item: a group empty or "
			    "longer than %d bytes", DB_ROSTER_MAX_GROUP);
			return (-1);
		}
		for (p = g; p < end; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				xasprintf(cause, "roster item: a control "
				    "character in a group");
				return (-1);
			}
		}
		for (i = 0; i < n; i++) {
			if (glen[i] == len && memcmp(seen[i], g, len) == 0) {
				xasprintf(cause, "roster item: a group twice");
				return (-1);
			}
		}
		seen[n] = g;
		glen[n++] = len;
		if (*end == '\0')
			return (0);
	}
}

/* The bytes an item counts for against DB_ROSTER_MAX_BYTES. */
size_t
db_roster_size(const struct db_roster *r)
{
	return ((r->jid ? strlen(r->jid) : 0) +
	    (r->name ? strlen(r->name) : 0) +
	    (r->groups ? strlen(r->groups) : 0));
}

/*
 * Whether owner's roster has room for item r (new, or replacing the item
 * of the same JID): a new item must not pass DB_ROSTER_MAX_ITEMS, and the
 * roster's bytes must not pass DB_ROSTER_MAX_BYTES unless r is no larger
 * than the item it replaces (so a roster stored before the caps can still
 * shrink). 0, or -1 with *cause (also when the database fails).
 */
int
db_roster_fits(struct db *db, const char *owner, const struct db_roster *r,
    char **cause)
{
	sqlite3_stmt	*st;
	sqlite3_int64	 others, obytes, exists, oldsize;
	size_t		 size = db_roster_size(r);

	if (db_prepare(db, &st, "SELECT sum(jid != ?2), "
	    "total(CASE WHEN jid != ?2 THEN s END), sum(jid = ?2), "
	    "total(CASE WHEN jid = ?2 THEN s END) FROM (SELECT jid, "
	    "length(CAST(jid AS BLOB)) + "
	    "ifnull(length(CAST(name AS BLOB)), 0) + "
	    "length(CAST(groups AS BLOB)) AS s "
	    "FROM roster WHERE owner = ?1)", cause) == -1)
		return (-1);
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->jid, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		xasprintf(cause, "database: %s", sqlite3_errmsg(db->sql));
		sqlite3_finalize(st);
		return (-1);
	}
	others = sqlite3_column_int64(st, 0);
	obytes = sqlite3_column_int64(st, 1);
	exists = sqlite3_column_int64(st, 2);
	oldsize = sqlite3_column_int64(st, 3);
	sqlite3_finalize(st);
	if (!exists && others >= DB_ROSTER_MAX_ITEMS) {
		xasprintf(cause, "roster full: %d items", DB_ROSTER_MAX_ITEMS);
		return (-1);
	}
	if (obytes + (sqlite3_int64)size > DB_ROSTER_MAX_BYTES &&
	    (!exists || (sqlite3_int64)size > oldsize)) {
		xasprintf(cause, "roster full: %d bytes", DB_ROSTER_MAX_BYTES);
		return (-1);
	}
	return (0);
}

/*
 * Insert or replace a roster item; committed when this returns 0. An item
 * that db_roster_check refuses, or that does not fit (db_roster_fits), is
 * not stored: -1 with *cause.
 */
int
db_roster_put(struct db *db, const char *owner, const struct db_roster *r,
    char **cause)
{
	sqlite3_stmt	*st;

	if (db_roster_check(r, cause) == -1 ||
	    db_roster_fits(db, owner, r, cause) == -1)
		return (-1);
	if (db_prepare(db, &st, "INSERT OR REPLACE INTO roster (owner, "
	    ROSTER_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?)", cause) == -1)
		return (-1);
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->jid, -1, SQLITE_STATIC);
	if (r->name != NULL)
		sqlite3_bind_text(st, 3, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, r->subscription, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, r->ask);
	sqlite3_bind_int(st, 6, r->pending_in);
	sqlite3_bind_text(st, 7, r->groups ? r->groups : "", -1,
	    SQLITE_STATIC);
	return (db_done(db, st, cause));
}

/*
 * The JIDs of owner's contacts that presence needs, sorted: which is
 * DB_ROSTER_FROM (subscription from or both: they get our presence),
 * DB_ROSTER_TO (to or both: we get theirs) or DB_ROSTER_ASKED (their
 * subscription request waits for an answer). Only JIDs are read, never
 * names or groups. -1 on a database error, with *jids NULL.
 */
int
db_roster_jids(struct db *db, const char *owner, int which, char ***jids,
    int *n)
{
	sqlite3_stmt	*st;
	const char	*sql;

	*jids = NULL;
	*n = 0;
	switch (which) {
	case DB_ROSTER_FROM:
		sql = "SELECT jid FROM roster WHERE owner = ? AND "
		    "subscription IN ('from', 'both') ORDER BY jid";
		break;
	case DB_ROSTER_TO:
		sql = "SELECT jid FROM roster WHERE owner = ? AND "
		    "subscription IN ('to', 'both') ORDER BY jid";
		break;
	case DB_ROSTER_ASKED:
		sql = "SELECT jid FROM roster WHERE owner = ? AND "
		    "pending_in != 0 ORDER BY jid";
		break;
	default:
		return (-1);
	}
	if (db_prepare(db, &st, sql, NULL) == -1)
		return (-1);
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		*jids = xreallocarray(*jids, *n + 2, sizeof(**jids));
		(*jids)[(*n)++] =
		    xstrdup((const char *)sqlite3_column_text(st, 0));
		(*jids)[*n] = NULL;
	}
	sqlite3_finalize(st);
	return (0);
}

/* Remove a roster item; removing one that is not there is fine. */
int
db_roster_del(struct db *db, const char *owner, const char *jid,
    char **cause)
{
	sqlite3_stmt	*st;

	if (db_prepare(db, &st, "DELETE FROM roster WHERE owner = ? AND "
	    "jid = ?", cause) == -1)
		return (-1);
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, jid, -1, SQLITE_STATIC);
	return (db_done(db, st, cause));
}

/* Free one roster item's strings. */
void
db_roster_clear(struct db_roster *r)
{
	free(r->jid);
	free(r->name);
	free(r->subscription);
	free(r->groups);
	memset(r, 0, sizeof(*r));
}

/* Free a roster from db_roster_get. */
void
db_roster_free(struct db_roster *list, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		db_roster_clear(&list[i]);
	free(list);
}

/*
 * Backups
 *
 * A .bak is an SQLite database of its own, so that SQLite's own checks
 * find a truncated or damaged one:
 *   meta (key, value)	format DB_BACKUP_FORMAT, created (Unix time)
 *   item (kind, name, mode, data)
 *			kind 'db': the image of mmp.db, taken with SQLite's
 *			online backup in one read transaction (consistent
 *			while writers go on: WAL lets them); kind 'file':
 *			each file of the store but dot files and .bak files.
 * These functions use connections of their own and no struct db: they run
 * in a worker thread.
 */

#define DB_BACKUP_CHUNK		(64 * 1024)
#define DB_BACKUP_IMAGE		"mmp.db"

static int	 db_bak_exec(sqlite3 *, const char *, char **);
static int	 db_bak_image(const char *, const char *, char **);
static int	 db_bak_put(sqlite3 *, const char *, const char *, int,
		    const char *, long long *, char **);
static int	 db_bak_get(sqlite3 *, sqlite3_int64, const char *, int,
		    long long, char **);
static int	 db_bak_file_ok(const char *);
static int	 db_bak_image_fix(const char *, const char *, char **);

/* Run parameterless SQL on a connection; -1 with *cause. */
static int
db_bak_exec(sqlite3 *sql, const char *text, char **cause)
{
	char	*err = NULL;

	if (sqlite3_exec(sql, text, NULL, NULL, &err) != SQLITE_OK) {
		xasprintf(cause, "%s", err != NULL ? err :
		    sqlite3_errmsg(sql));
		sqlite3_free(err);
		return (-1);
	}
	return (0);
}

/* Whether a name of the store goes into a backup: a store name, no .bak. */
static int
db_bak_file_ok(const char *name)
{
	size_t	 n = strlen(name), s = strlen(DB_BACKUP_SUFFIX);
	char	*cause;

	if (cmdtab_check_arg("file", name, &cause) == -1) {
		free(cause);
		return (0);
	}
	return (n < s || strcmp(name + n - s, DB_BACKUP_SUFFIX) != 0);
}

/*
 * Copy the live database at dbpath to a new file imgpath with SQLite's
 * online backup: all pages in one step, so one read transaction and one
 * consistent state, never a file copy of a WAL database.
 */
static int
db_bak_image(const char *dbpath, const char *imgpath, char **cause)
{
	sqlite3		*src = NULL, *dst = NULL;
	sqlite3_backup	*b;
	int		 r = SQLITE_ERROR, tries = 0, rc = -1;

	unlink(imgpath);
	if (sqlite3_open_v2(dbpath, &src, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		xasprintf(cause, "database: %s", src != NULL ?
		    sqlite3_errmsg(src) : "cannot open");
		goto out;
	}
	sqlite3_busy_timeout(src, 5000);
	if (sqlite3_open_v2(imgpath, &dst, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		xasprintf(cause, "%s: %s", imgpath, dst != NULL ?
		    sqlite3_errmsg(dst) : "cannot open");
		goto out;
	}
	if ((b = sqlite3_backup_init(dst, "main", src, "main")) == NULL) {
		xasprintf(cause, "backup: %s", sqlite3_errmsg(dst));
		goto out;
	}
	while ((r = sqlite3_backup_step(b, -1)) == SQLITE_BUSY ||
	    r == SQLITE_LOCKED) {
		if (++tries > 100)
			break;
		sqlite3_sleep(50);
	}
	sqlite3_backup_finish(b);
	if (r != SQLITE_DONE) {
		xasprintf(cause, "backup of the database: %s",
		    sqlite3_errstr(r));
		goto out;
	}
	/* The image is a file on its own: no WAL beside it. */
	if (db_bak_exec(dst, "PRAGMA journal_mode = DELETE", cause) == -1)
		goto out;
	rc = 0;
out:
	sqlite3_close(src);
	sqlite3_close(dst);
	if (rc == -1)
		unlink(imgpath);
	return (rc);
}

/*
 * Add the file at path to the backup as one item, streamed in chunks;
 * *total counts the bytes stored so far against DB_BACKUP_MAX_BYTES.
 */
static int
db_bak_put(sqlite3 *bak, const char *kind, const char *name, int mode,
    const char *path, long long *total, char **cause)
{
	sqlite3_stmt	*st = NULL;
	sqlite3_blob	*blob = NULL;
	struct stat	 sb;
	char		*buf = NULL;
	ssize_t		 r;
	long long	 off = 0;
	int		 fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1 ||
	    fstat(fd, &sb) == -1) {
		xasprintf(cause, "%s: %s", name, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		xasprintf(cause, "%s: not a regular file", name);
		goto out;
	}
	if (sb.st_size > DB_BACKUP_MAX_BYTES - *total) {
		xasprintf(cause, "more than %lld bytes to back up (at %s): "
		    "too large for a backup", DB_BACKUP_MAX_BYTES, name);
		goto out;
	}
	if (sqlite3_prepare_v2(bak, "INSERT INTO item (kind, name, mode, "
	    "data) VALUES (?, ?, ?, zeroblob(?))", -1, &st, NULL) !=
	    SQLITE_OK)
		goto sqlerr;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, mode);
	sqlite3_bind_int64(st, 4, sb.st_size);
	if (sqlite3_step(st) != SQLITE_DONE ||
	    sqlite3_blob_open(bak, "main", "item", "data",
	    sqlite3_last_insert_rowid(bak), 1, &blob) != SQLITE_OK)
		goto sqlerr;
	buf = xmalloc(DB_BACKUP_CHUNK);
	while (off < sb.st_size) {
		r = read(fd, buf, sb.st_size - off < DB_BACKUP_CHUNK ?
		    (size_t)(sb.st_size - off) : DB_BACKUP_CHUNK);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			xasprintf(cause, "%s: %s", name, r == 0 ?
			    "shrank while it was backed up" : strerror(errno));
			goto out;
		}
		if (sqlite3_blob_write(blob, buf, r, off) != SQLITE_OK)
			goto sqlerr;
		off += r;
	}
	*total += sb.st_size;
	rc = 0;
	goto out;
sqlerr:
	xasprintf(cause, "backup: %s (at %s)", sqlite3_errmsg(bak), name);
out:
	sqlite3_blob_close(blob);
	sqlite3_finalize(st);
	free(buf);
	if (fd != -1)
		close(fd);
	return (rc);
}

/*
 * Write a backup to outpath, which must not exist and appears whole or
 * not at all: the database at dbpath and every regular file of filesdir
 * but dot files and .bak files. scratch names two temporary files
 * (scratch-db, scratch-bak) on the file system of outpath. Sets how many
 * files of the store it holds and its size. -1 with *cause.
 */
int
db_backup_write(const char *dbpath, const char *filesdir,
    const char *scratch, const char *outpath, int *nfiles, long long *bytes,
    char **cause)
{
	sqlite3		*bak = NULL;
	sqlite3_stmt	*st = NULL;
	struct dirent	**names = NULL;
	struct stat	 sb;
	char		*img = NULL, *tmp = NULL, *path = NULL;
	long long	 total = 0;
	int		 i, n = -1, rc = -1, fd;

	*nfiles = 0;
	*bytes = 0;
	xasprintf(&img, "%s-db", scratch);
	xasprintf(&tmp, "%s-bak", scratch);
	unlink(tmp);
	if (db_bak_image(dbpath, img, cause) == -1)
		goto out;
	if (sqlite3_open_v2(tmp, &bak, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		xasprintf(cause, "%s: %s", tmp, bak != NULL ?
		    sqlite3_errmsg(bak) : "cannot open");
		goto out;
	}
	if (db_bak_exec(bak, "PRAGMA synchronous = FULL;"
	    "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL,"
	    "  value TEXT NOT NULL);"
	    "CREATE TABLE item (kind TEXT NOT NULL, name TEXT NOT NULL UNIQUE,"
	    "  mode INTEGER NOT NULL, data BLOB NOT NULL);"
	    "BEGIN", cause) == -1)
		goto out;
	if (sqlite3_prepare_v2(bak, "INSERT INTO meta (key, value) VALUES "
	    "('format', ?), ('created', strftime('%s', 'now'))", -1, &st,
	    NULL) != SQLITE_OK) {
		xasprintf(cause, "backup: %s", sqlite3_errmsg(bak));
		goto out;
	}
	sqlite3_bind_text(st, 1, DB_BACKUP_FORMAT, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		xasprintf(cause, "backup: %s", sqlite3_errmsg(bak));
		goto out;
	}
	if (db_bak_put(bak, "db", DB_BACKUP_IMAGE, 0600, img, &total,
	    cause) == -1)
		goto out;
	if ((n = scandir(filesdir, &names, NULL, alphasort)) == -1) {
		xasprintf(cause, "%s: %s", filesdir, strerror(errno));
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (!db_bak_file_ok(names[i]->d_name))
			continue;
		free(path);
		xasprintf(&path, "%s/%s", filesdir, names[i]->d_name);
		if (lstat(path, &sb) == -1 || !S_ISREG(sb.st_mode))
			continue;
		if (*nfiles == DB_BACKUP_MAX_FILES) {
			xasprintf(cause, "more than %d files in the file "
			    "store: too many for a backup",
			    DB_BACKUP_MAX_FILES);
			goto out;
		}
		if (db_bak_put(bak, "file", names[i]->d_name,
		    sb.st_mode & 0777, path, &total, cause) == -1)
			goto out;
		(*nfiles)++;
	}
	if (db_bak_exec(bak, "COMMIT", cause) == -1)
		goto out;
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_close(bak) != SQLITE_OK) {
		xasprintf(cause, "backup: %s", sqlite3_errmsg(bak));
		goto out;
	}
	bak = NULL;
	if (stat(tmp, &sb) == -1 || sb.st_size > DB_BACKUP_MAX_BYTES) {
		xasprintf(cause, "the backup would be larger than %lld bytes",
		    DB_BACKUP_MAX_BYTES);
		goto out;
	}
	*bytes = sb.st_size;
	/* link, not rename: a file of that name made meanwhile stays. */
	if (link(tmp, outpath) == -1) {
		xasprintf(cause, "%s: %s", outpath, errno == EEXIST ?
		    "exists already" : strerror(errno));
		goto out;
	}
	if ((fd = open(filesdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		fsync(fd);
		close(fd);
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(bak);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	unlink(img);
	unlink(tmp);
	free(img);
	free(tmp);
	free(path);
	return (rc);
}

/* Write one item of a backup to a new file path with the given mode. */
static int
db_bak_get(sqlite3 *bak, sqlite3_int64 rowid, const char *path, int mode,
    long long len, char **cause)
{
	sqlite3_blob	*blob = NULL;
	char		*buf = NULL;
	long long	 off = 0;
	ssize_t		 w;
	int		 fd, n, rc = -1;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, mode)) == -1) {
		xasprintf(cause, "%s: %s", path, errno == EEXIST ?
		    "twice in the backup" : strerror(errno));
		return (-1);
	}
	if (sqlite3_blob_open(bak, "main", "item", "data", rowid, 0,
	    &blob) != SQLITE_OK || sqlite3_blob_bytes(blob) != len) {
		xasprintf(cause, "not a usable backup: %s",
		    sqlite3_errmsg(bak));
		goto out;
	}
	buf = xmalloc(DB_BACKUP_CHUNK);
	while (off < len) {
		n = len - off < DB_BACKUP_CHUNK ? (int)(len - off) :
		    DB_BACKUP_CHUNK;
		if (sqlite3_blob_read(blob, buf, n, off) != SQLITE_OK) {
			xasprintf(cause, "not a usable backup: %s",
			    sqlite3_errmsg(bak));
			goto out;
		}
		if ((w = write(fd, buf, n)) != n) {
			xasprintf(cause, "%s: %s", path, w == -1 ?
			    strerror(errno) : "short write");
			goto out;
		}
		off += n;
	}
	if (fchmod(fd, mode) == -1 || fsync(fd) == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	sqlite3_blob_close(blob);
	free(buf);
	close(fd);
	return (rc);
}

/*
 * Check a database image from a backup as a database of ours (integrity,
 * a schema this build knows, no triggers or views of anyone's) and make
 * it a standalone node's: no cluster membership or pins, and this node's
 * id nodeid (NULL: none yet).
 */
static int
db_bak_image_fix(const char *path, const char *nodeid, char **cause)
{
	sqlite3		*sql = NULL;
	sqlite3_stmt	*st = NULL;
	const char	*res;
	int		 v, rc = -1;

	if (sqlite3_open_v2(path, &sql, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		xasprintf(cause, "database image: %s", sql != NULL ?
		    sqlite3_errmsg(sql) : "cannot open");
		goto out;
	}
	sqlite3_db_config(sql, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(sql, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	if (db_bak_exec(sql, "PRAGMA journal_mode = DELETE", cause) == -1)
		goto bad;
	if (sqlite3_prepare_v2(sql, "PRAGMA integrity_check", -1, &st,
	    NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		xasprintf(cause, "%s", sqlite3_errmsg(sql));
		goto bad;
	}
	res = (const char *)sqlite3_column_text(st, 0);
	if (res == NULL || strcmp(res, "ok") != 0) {
		xasprintf(cause, "integrity check failed: %s",
		    res != NULL ? res : "no answer");
		goto bad;
	}
	sqlite3_finalize(st);
	st = NULL;
	if ((v = db_user_version(sql)) < 1 || v > DB_SCHEMA_VERSION) {
		xasprintf(cause, "schema version %d, this mmpd knows 1 to %d",
		    v, DB_SCHEMA_VERSION);
		goto bad;
	}
	if (sqlite3_prepare_v2(sql, "SELECT count(*) FROM sqlite_schema "
	    "WHERE type IN ('trigger', 'view')", -1, &st, NULL) !=
	    SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		xasprintf(cause, "%s", sqlite3_errmsg(sql));
		goto bad;
	}
	if (sqlite3_column_int(st, 0) != 0) {
		xasprintf(cause, "it holds triggers or views mmpd never "
		    "makes");
		goto bad;
	}
	sqlite3_finalize(st);
	st = NULL;
	/* cluster.pins is cluster.c's key of the pins it keeps. */
	if (db_bak_exec(sql, "BEGIN IMMEDIATE;"
	    "DELETE FROM config WHERE key IN ('" DB_CLUSTER_MEMBER "', "
	    "'cluster.pins', '" DB_CLUSTER_ID "')", cause) == -1)
		goto bad;
	if (nodeid != NULL) {
		if (sqlite3_prepare_v2(sql, "INSERT INTO config (key, value) "
		    "VALUES ('" DB_CLUSTER_ID "', ?)", -1, &st, NULL) !=
		    SQLITE_OK)
			goto sqlerr;
		sqlite3_bind_text(st, 1, nodeid, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto sqlerr;
	}
	if (db_bak_exec(sql, "COMMIT", cause) == -1)
		goto bad;
	rc = 0;
	goto out;
sqlerr:
	xasprintf(cause, "%s", sqlite3_errmsg(sql));
bad:
	{
		char	*c = *cause;

		xasprintf(cause, "database image: %s", c);
		free(c);
	}
out:
	sqlite3_finalize(st);
	sqlite3_close(sql);
	return (rc);
}

/*
 * Check the backup at bakpath and unpack it: the database image to
 * imgpath (checked, and made this standalone node's as db_bak_image_fix
 * says) and the files of the store into the new directory stagedir.
 * Nothing else is touched, and on failure neither is left. Refused: a
 * file larger than DB_BACKUP_MAX_BYTES, more than DB_BACKUP_MAX_FILES
 * files, a name that is not a store name. -1 with *cause.
 */
int
db_backup_read(const char *bakpath, const char *imgpath,
    const char *stagedir, const char *nodeid, int *nfiles, char **cause)
{
	sqlite3		*bak = NULL;
	sqlite3_stmt	*st = NULL;
	struct stat	 sb;
	const char	*kind, *name, *res;
	char		*path = NULL;
	long long	 len, total = 0;
	int		 ndb = 0, mode, r, rc = -1;

	*nfiles = 0;
	unlink(imgpath);
	(void)util_rmdir_flat(stagedir);
	if (stat(bakpath, &sb) == -1) {
		xasprintf(cause, "%s", strerror(errno));
		return (-1);
	}
	if (!S_ISREG(sb.st_mode)) {
		xasprintf(cause, "not a regular file");
		return (-1);
	}
	if (sb.st_size > DB_BACKUP_MAX_BYTES) {
		xasprintf(cause, "larger than %lld bytes: refused",
		    DB_BACKUP_MAX_BYTES);
		return (-1);
	}
	if (sqlite3_open_v2(bakpath, &bak, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK)
		goto notbak;
	sqlite3_db_config(bak, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(bak, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	if (sqlite3_prepare_v2(bak, "PRAGMA integrity_check", -1, &st,
	    NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
		goto notbak;
	res = (const char *)sqlite3_column_text(st, 0);
	if (res == NULL || strcmp(res, "ok") != 0) {
		xasprintf(cause, "not a usable backup: damaged (%s)",
		    res != NULL ? res : "no answer");
		goto out;
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(bak, "SELECT value FROM meta WHERE key = "
	    "'format'", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW ||
	    (res = (const char *)sqlite3_column_text(st, 0)) == NULL ||
	    strcmp(res, DB_BACKUP_FORMAT) != 0) {
		xasprintf(cause, "not a backup made by mmp (no %s format)",
		    DB_BACKUP_FORMAT);
		goto out;
	}
	sqlite3_finalize(st);
	if (mkdir(stagedir, 0700) == -1) {
		xasprintf(cause, "%s: %s", stagedir, strerror(errno));
		st = NULL;
		goto out;
	}
	if (sqlite3_prepare_v2(bak, "SELECT rowid, kind, name, mode, "
	    "length(data), typeof(data) FROM item ORDER BY rowid", -1, &st,
	    NULL) != SQLITE_OK)
		goto notbak;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		kind = (const char *)sqlite3_column_text(st, 1);
		name = (const char *)sqlite3_column_text(st, 2);
		mode = sqlite3_column_int(st, 3);
		len = sqlite3_column_int64(st, 4);
		res = (const char *)sqlite3_column_text(st, 5);
		if (kind == NULL || name == NULL || res == NULL ||
		    strcmp(res, "blob") != 0 || len < 0) {
			xasprintf(cause, "not a usable backup: an item without "
			    "kind, name or data");
			goto out;
		}
		if ((total += len) > DB_BACKUP_MAX_BYTES) {
			xasprintf(cause, "holds more than %lld bytes: refused",
			    DB_BACKUP_MAX_BYTES);
			goto out;
		}
		free(path);
		path = NULL;
		if (strcmp(kind, "db") == 0) {
			if (ndb++ > 0) {
				xasprintf(cause, "not a usable backup: two "
				    "database images");
				goto out;
			}
			path = xstrdup(imgpath);
			mode = 0600;
		} else if (strcmp(kind, "file") == 0) {
			if (!db_bak_file_ok(name)) {
				xasprintf(cause, "not a usable backup: a file "
				    "name that is not a store name");
				goto out;
			}
			if (*nfiles == DB_BACKUP_MAX_FILES) {
				xasprintf(cause, "holds more than %d files: "
				    "refused", DB_BACKUP_MAX_FILES);
				goto out;
			}
			xasprintf(&path, "%s/%s", stagedir, name);
			mode = (mode & 0644) | 0600;
			(*nfiles)++;
		} else {
			xasprintf(cause, "not a usable backup: an item of an "
			    "unknown kind");
			goto out;
		}
		if (db_bak_get(bak, sqlite3_column_int64(st, 0), path, mode,
		    len, cause) == -1)
			goto out;
	}
	if (r != SQLITE_DONE)
		goto notbak;
	if (ndb != 1) {
		xasprintf(cause, "not a usable backup: no database image");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	sqlite3_close(bak);
	bak = NULL;
	if (db_bak_image_fix(imgpath, nodeid, cause) == -1)
		goto out;
	rc = 0;
	goto out;
notbak:
	xasprintf(cause, "not a usable backup: %s", bak != NULL ?
	    sqlite3_errmsg(bak) : "cannot open");
out:
	sqlite3_finalize(st);
	sqlite3_close(bak);
	free(path);
	if (rc == -1) {
		unlink(imgpath);
		(void)util_rmdir_flat(stagedir);
	}
	return (rc);
}

/* Remove what db_backup_read unpacked and nobody put in place. */
void
db_backup_discard(const char *imgpath, const char *stagedir)
{
	unlink(imgpath);
	(void)util_rmdir_flat(stagedir);
}

/*
 * Remote syslog servers: per node (never replicated), one setting that
 * holds "proto address port" entries separated by commas.
 */

/* The remote syslog servers as stored, or NULL if none; caller frees. */
char *
db_syslog_get(struct db *db)
{
	return (db_config_get(db, DB_SYSLOG_SERVERS));
}

/* Store the remote syslog servers (NULL or "" for none), committed. */
int
db_syslog_set(struct db *db, const char *value, char **cause)
{
	if (value != NULL && *value == '\0')
		value = NULL;
	if (db_begin(db, cause) == -1)
		return (-1);
	if (db_config_set(db, DB_SYSLOG_SERVERS, value, cause) == -1) {
		db_rollback(db);
		return (-1);
	}
	return (db_commit(db, cause));
}
