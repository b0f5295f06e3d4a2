/*
 * The SQLite store: one file, WAL mode, foreign keys on, synchronous=FULL.
 * Schema versions live in PRAGMA user_version and migrations are applied
 * in order at open. Every statement is prepared and bound, never
 * formatted; nothing outside this file sees SQL.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db.h"
#include "log.h"
#include "xmalloc.h"

struct db {
	sqlite3		*sql;
};

static int	 db_exec(struct db *, const char *, char **);
static int	 db_prepare(struct db *, sqlite3_stmt **, const char *,
		    char **);
static int	 db_migrate(struct db *, char **);
static int	 db_user_version(sqlite3 *);

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
	int		 rc;

	if (db_prepare(db, &st, value != NULL ?
	    "INSERT INTO config (key, value) VALUES (?, ?) "
	    "ON CONFLICT (key) DO UPDATE SET value = excluded.value" :
	    "DELETE FROM config WHERE key = ?", cause) == -1)
		return (-1);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (value != NULL)
		sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		xasprintf(cause, "database: %s", sqlite3_errmsg(db->sql));
		return (-1);
	}
	return (0);
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

/* Add a call bridge; a name that exists is refused. */
int
db_callbridge_add(struct db *db, const char *name, const char *secret,
    char **cause)
{
	sqlite3_stmt	*st;
	int		 rc, ext;

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
	if (ext == SQLITE_CONSTRAINT_PRIMARYKEY)
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
	sqlite3_stmt	*st;
	int		 rc;

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
		xasprintf(cause, "no call bridge named %s", name);
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

/* Free a list from db_callbridge_list. */
void
db_callbridge_free(struct db_callbridge *list, size_t n)
{
	size_t	 i;

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
