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
#include "db_int.h"
#include "util.h"
#include "xmalloc.h"

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
	if (db_integrity(sql, cause) == -1)
		goto bad;
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
