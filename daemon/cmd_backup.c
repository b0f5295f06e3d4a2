/*
 * backup list|snapshot|rollback: consistent copies of the database and
 * the file store as <name>.bak in the store (downloadable by SFTP), and
 * restoring one. Writing and checking a .bak run in a worker with
 * connections of their own (db.c, Backups); putting a checked one in
 * place takes a few renames on the loop.
 *
 * A rollback never makes this node a cluster member: it is refused while
 * the node is one, and the restored database keeps this node's id and
 * carries no membership (db_backup_read).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster/cluster.h"
#include "db.h"
#include "log.h"
#include "mmpd.h"
#include "proto.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"

#define BACKUP_KV_WIDTH		8

struct backup_job {
	struct cmdctx	*ctx;		/* NULL once the shell went away */
	int		 rollback;
	char		*name;		/* <name>.bak */
	char		*bakpath;
	char		*dbpath;
	char		*filesdir;
	char		*scratch;	/* datadir/backup.tmp */
	char		*imgpath;	/* rollback: the checked image */
	char		*stagedir;	/* rollback: the checked files */
	char		*nodeid;	/* rollback: this node's id, or NULL */
	int		 nfiles;
	long long	 bytes;
	int		 rc;
	char		*cause;
};

static int	 backup_running;

static char	*cmd_backup_name(struct cmdctx *, const char *);
static struct backup_job *cmd_backup_job(struct cmdctx *, const char *,
		    int);
static void	 cmd_backup_job_free(struct backup_job *);
static int	 cmd_backup_start(struct backup_job *);
static void	 cmd_backup_work(void *);
static void	 cmd_backup_done(void *);
static void	 cmd_backup_cancel(struct cmdctx *);
static void	 cmd_backup_answer(struct cmdctx *, const char *);
static void	 cmd_backup_serve(struct cmdctx *, int);
static int	 cmd_backup_install(struct backup_job *, char **);
static int	 cmd_backup_files(struct backup_job *, char **);
static int	 cmd_backup_is_bak(const char *);
static int	 cmd_backup_refused(struct cmdctx *);

/* Whether a name of the store is a backup's. */
static int
cmd_backup_is_bak(const char *name)
{
	size_t	 n = strlen(name), s = strlen(DB_BACKUP_SUFFIX);

	return (name[0] != '.' && n > s &&
	    strcmp(name + n - s, DB_BACKUP_SUFFIX) == 0);
}

/*
 * The store name of a backup: the argument with .bak added unless it has
 * it. NULL after telling the shell if that is no store name.
 */
static char *
cmd_backup_name(struct cmdctx *ctx, const char *arg)
{
	char	*name, *cause;

	if (cmd_backup_is_bak(arg))
		name = xstrdup(arg);
	else
		xasprintf(&name, "%s%s", arg, DB_BACKUP_SUFFIX);
	if (cmdtab_check_arg("file", name, &cause) == -1) {
		cmdctx_err(ctx, "%s: %s", cmdtab_name(ctx->m.id), cause);
		free(cause);
		free(name);
		return (NULL);
	}
	return (name);
}

/* A new job for the backup name (already checked). */
static struct backup_job *
cmd_backup_job(struct cmdctx *ctx, const char *name, int rollback)
{
	struct backup_job	*job;

	job = xcalloc(1, sizeof(*job));
	job->ctx = ctx;
	job->rollback = rollback;
	job->name = xstrdup(name);
	xasprintf(&job->bakpath, "%s/%s", mmpd->filesdir, name);
	xasprintf(&job->dbpath, "%s/mmp.db", mmpd->datadir);
	job->filesdir = xstrdup(mmpd->filesdir);
	xasprintf(&job->scratch, "%s/backup.tmp", mmpd->datadir);
	xasprintf(&job->imgpath, "%s-restore.db", job->scratch);
	xasprintf(&job->stagedir, "%s-files", job->scratch);
	return (job);
}

/* Free a job; NULL is fine. */
static void
cmd_backup_job_free(struct backup_job *job)
{
	if (job == NULL)
		return;
	free(job->name);
	free(job->bakpath);
	free(job->dbpath);
	free(job->filesdir);
	free(job->scratch);
	free(job->imgpath);
	free(job->stagedir);
	free(job->nodeid);
	free(job->cause);
	free(job);
}

/* Hand the job to a worker; CMD_PENDING, or MMP_RES_FAILED after saying. */
static int
cmd_backup_start(struct backup_job *job)
{
	struct cmdctx	*ctx = job->ctx;

	if (worker_start(cmd_backup_work, cmd_backup_done, job) == -1) {
		cmdctx_err(ctx, "%s: cannot start a worker thread",
		    cmdtab_name(ctx->m.id));
		cmd_backup_job_free(job);
		return (MMP_RES_FAILED);
	}
	backup_running = 1;
	ctx->job = job;
	ctx->cancel = cmd_backup_cancel;
	return (CMD_PENDING);
}

/* In the worker: write the backup, or check and unpack it. */
static void
cmd_backup_work(void *arg)
{
	struct backup_job	*job = arg;

	if (job->rollback)
		job->rc = db_backup_read(job->bakpath, job->imgpath,
		    job->stagedir, job->nodeid, &job->nfiles, &job->cause);
	else
		job->rc = db_backup_write(job->dbpath, job->filesdir,
		    job->scratch, job->bakpath, &job->nfiles, &job->bytes,
		    &job->cause);
}

/* The shell went away: the job finishes, nobody is told. */
static void
cmd_backup_cancel(struct cmdctx *ctx)
{
	struct backup_job	*job = ctx->job;

	job->ctx = NULL;
}

/* Whether a rollback must be refused for cluster membership; says why. */
static int
cmd_backup_refused(struct cmdctx *ctx)
{
	if (!cmd_cluster_member() && !cluster_running())
		return (0);
	cmdctx_err(ctx, "backup rollback: refused while this node is a "
	    "cluster member; run xmpp cluster remove first, then roll back "
	    "and join the cluster again with xmpp cluster join");
	return (1);
}

/*
 * Replace the store's files (but dot files and .bak files) with the
 * staged ones. -1 with *cause when a rename fails half way.
 */
static int
cmd_backup_files(struct backup_job *job, char **cause)
{
	struct dirent	**names = NULL;
	struct stat	 sb;
	char		*from, *to;
	int		 i, n, rc = 0;

	if ((n = scandir(job->filesdir, &names, NULL, alphasort)) == -1) {
		xasprintf(cause, "%s: %s", job->filesdir, strerror(errno));
		return (-1);
	}
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.' &&
		    !cmd_backup_is_bak(names[i]->d_name)) {
			xasprintf(&to, "%s/%s", job->filesdir,
			    names[i]->d_name);
			if (lstat(to, &sb) == 0 && S_ISREG(sb.st_mode) &&
			    unlink(to) == -1)
				log_warn("cmd_backup_files: %s", to);
			free(to);
		}
		free(names[i]);
	}
	free(names);
	if ((n = scandir(job->stagedir, &names, NULL, alphasort)) == -1) {
		xasprintf(cause, "%s: %s", job->stagedir, strerror(errno));
		return (-1);
	}
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			xasprintf(&from, "%s/%s", job->stagedir,
			    names[i]->d_name);
			xasprintf(&to, "%s/%s", job->filesdir,
			    names[i]->d_name);
			if (rc == 0 && rename(from, to) == -1) {
				xasprintf(cause, "%s: %s", to,
				    strerror(errno));
				rc = -1;
			}
			free(from);
			free(to);
		}
		free(names[i]);
	}
	free(names);
	return (rc);
}

/*
 * Put a checked backup in place: stop XMPP, close the database, move the
 * restored image in (the old file kept until the new one opens), replace
 * the store's files, and serve XMPP again if the restored configuration
 * says so. -1 with *cause if the restored database would not open: then
 * the old one is open again and nothing changed.
 */
static int
cmd_backup_install(struct backup_job *job, char **cause)
{
	static const char	*sfx[] = { "", "-wal", "-shm" };
	char			*old[3], *cur[3], *c = NULL;
	size_t			 i;
	int			 rc = -1;

	for (i = 0; i < nitems(sfx); i++) {
		xasprintf(&cur[i], "%s%s", job->dbpath, sfx[i]);
		xasprintf(&old[i], "%s.old%s", job->dbpath, sfx[i]);
		unlink(old[i]);
	}
	xmpp_stop("system-shutdown");
	db_close(mmpd->db);
	mmpd->db = NULL;
	/* mmp.db with whatever WAL is left beside it becomes mmp.db.old. */
	for (i = 0; i < nitems(sfx); i++)
		if (rename(cur[i], old[i]) == -1 && errno != ENOENT)
			log_warn("cmd_backup_install: %s", cur[i]);
	if (rename(job->imgpath, job->dbpath) == -1) {
		xasprintf(cause, "%s: %s", job->dbpath, strerror(errno));
		goto revert;
	}
	if ((mmpd->db = db_open(job->dbpath, cause)) == NULL)
		goto revert;
	for (i = 0; i < nitems(sfx); i++)
		unlink(old[i]);
	rc = 0;
	goto out;
revert:
	unlink(job->dbpath);
	for (i = 0; i < nitems(sfx); i++)
		rename(old[i], cur[i]);
	if ((mmpd->db = db_open(job->dbpath, &c)) == NULL)
		fatalx("cmd_backup_install: cannot open the database again: "
		    "%s", c);
out:
	for (i = 0; i < nitems(sfx); i++) {
		free(cur[i]);
		free(old[i]);
	}
	if (rc == 0 && cmd_backup_files(job, &c) == -1) {
		log_warnx("cmd_backup_install: %s", c);
		if (job->ctx != NULL)
			cmdctx_err(job->ctx, "backup rollback: the database "
			    "was restored but not every file: %s", c);
	}
	free(c);
	return (rc);
}

/*
 * Serve XMPP again after cmd_backup_install stopped it, if the database
 * now open has it enabled; say so (restored: the backup's database).
 */
static void
cmd_backup_serve(struct cmdctx *ctx, int restored)
{
	char	*v, *cause = NULL;
	int	 on;

	v = db_config_get(mmpd->db, DB_XMPP_ENABLED);
	on = v != NULL && strcmp(v, "1") == 0;
	free(v);
	if (!on) {
		if (ctx != NULL && restored)
			cmdctx_out(ctx, "XMPP server disabled, as in the "
			    "backup");
	} else if (xmpp_start(&cause) == -1) {
		log_warnx("cmd_backup_serve: XMPP is enabled but cannot be "
		    "served: %s", cause);
		if (ctx != NULL)
			cmdctx_out(ctx, "XMPP server enabled but not serving: "
			    "%s", cause);
		free(cause);
	} else if (ctx != NULL)
		cmdctx_out(ctx, "XMPP server restarted with the %s "
		    "configuration", restored ? "restored" : "previous");
}

/* Back on the loop: answer the shell; a checked rollback goes in place. */
static void
cmd_backup_done(void *arg)
{
	struct backup_job	*job = arg;
	struct cmdctx		*ctx = job->ctx;
	const char		*what = job->rollback ? "backup rollback" :
				    "backup snapshot";
	char			*cause = NULL;
	int			 res = MMP_RES_FAILED;

	backup_running = 0;
	if (ctx != NULL)
		ctx->cancel = NULL;
	if (job->rc == -1) {
		log_warnx("cmd_backup_done: %s %s: %s", what, job->name,
		    job->cause);
		if (ctx != NULL)
			cmdctx_err(ctx, "%s: %s: %s%s", what, job->name,
			    job->cause, job->rollback ? "; nothing changed" :
			    "");
		goto out;
	}
	if (!job->rollback) {
		log_info("cmd_backup_done: backup %s written (%d files, "
		    "%lld bytes)", job->name, job->nfiles, job->bytes);
		if (ctx != NULL) {
			cmdctx_out(ctx, "Backup %s written: the database and "
			    "%d file%s of the store, %lld bytes", job->name,
			    job->nfiles, job->nfiles == 1 ? "" : "s",
			    job->bytes);
			cmdctx_out(ctx, "Backup file %s ready for download via "
			    "SFTP", job->name);
		}
		res = MMP_RES_OK;
		goto out;
	}
	/* A rollback, checked and unpacked: is it still fine to go on? */
	if (mmpd->shutdown)
		cause = xstrdup("mmpd is shutting down");
	else if (cmd_cluster_member() || cluster_running())
		cause = xstrdup("this node joined a cluster meanwhile");
	else if (worker_busy())
		cause = xstrdup("a key is being made; try again when it is "
		    "done");
	if (cause != NULL) {
		log_warnx("cmd_backup_done: rollback to %s: %s", job->name,
		    cause);
		if (ctx != NULL)
			cmdctx_err(ctx, "backup rollback: %s: %s; nothing "
			    "changed", job->name, cause);
		free(cause);
		goto out;
	}
	if (cmd_backup_install(job, &cause) == -1) {
		/* The old database is open again: serve it as before. */
		log_warnx("cmd_backup_done: rollback to %s: %s", job->name,
		    cause);
		if (ctx != NULL)
			cmdctx_err(ctx, "backup rollback: %s: %s; nothing "
			    "changed", job->name, cause);
		free(cause);
		cmd_backup_serve(ctx, 0);
		goto out;
	}
	log_info("cmd_backup_done: rolled back to %s (%d files)", job->name,
	    job->nfiles);
	if (ctx != NULL)
		cmdctx_out(ctx, "Rolled back to %s: the database and %d "
		    "file%s of the store restored", job->name, job->nfiles,
		    job->nfiles == 1 ? "" : "s");
	cmd_backup_serve(ctx, 1);
	res = MMP_RES_OK;
out:
	/* Whatever did not go in place goes. */
	if (job->rollback)
		db_backup_discard(job->imgpath, job->stagedir);
	if (ctx != NULL)
		cmdctx_done(ctx, res);
	cmd_backup_job_free(job);
}

/* backup list: the .bak files of the store, one status block each. */
int
cmd_backup_list(struct cmdctx *ctx)
{
	struct dirent	**names = NULL;
	struct stat	 sb;
	struct tm	 tm;
	char		*path, date[32];
	int		 i, n, shown = 0;

	if ((n = scandir(mmpd->filesdir, &names, NULL, alphasort)) == -1) {
		cmdctx_err(ctx, "backup list: %s: %s", mmpd->filesdir,
		    strerror(errno));
		return (MMP_RES_FAILED);
	}
	for (i = 0; i < n; i++) {
		xasprintf(&path, "%s/%s", mmpd->filesdir, names[i]->d_name);
		if (cmd_backup_is_bak(names[i]->d_name) &&
		    lstat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
			if (shown++ > 0)
				cmdctx_out(ctx, "%s", "");
			gmtime_r(&sb.st_mtime, &tm);
			strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC",
			    &tm);
			cmdctx_kv(ctx, BACKUP_KV_WIDTH, "Backup", "%s",
			    names[i]->d_name);
			cmdctx_kv(ctx, BACKUP_KV_WIDTH, "Size", "%lld bytes",
			    (long long)sb.st_size);
			cmdctx_kv(ctx, BACKUP_KV_WIDTH, "Written", "%s",
			    date);
		}
		free(path);
		free(names[i]);
	}
	free(names);
	if (shown == 0)
		cmdctx_out(ctx, "No backups in the file store");
	return (MMP_RES_OK);
}

/* backup snapshot <name>: write <name>.bak in a worker. */
int
cmd_backup_snapshot(struct cmdctx *ctx)
{
	struct stat	 sb;
	char		*name;
	int		 rc;

	if ((name = cmd_backup_name(ctx, ctx->m.args[0])) == NULL)
		return (MMP_RES_FAILED);
	if (backup_running) {
		cmdctx_err(ctx, "backup snapshot: another backup or rollback "
		    "is running; try again when it has finished");
		free(name);
		return (MMP_RES_FAILED);
	}
	rc = MMP_RES_FAILED;
	{
		char	*path;

		xasprintf(&path, "%s/%s", mmpd->filesdir, name);
		if (lstat(path, &sb) == 0)
			cmdctx_err(ctx, "backup snapshot: %s exists already in "
			    "the file store; choose another name", name);
		else
			rc = cmd_backup_start(cmd_backup_job(ctx, name, 0));
		free(path);
	}
	free(name);
	return (rc);
}

/* The admin's answer to the rollback confirmation. */
static void
cmd_backup_answer(struct cmdctx *ctx, const char *answer)
{
	struct backup_job	*job;
	uint64_t		 id;
	char			*v, *name, *cause;
	int			 rc;

	if (strcmp(answer, "Y") != 0) {
		cmdctx_err(ctx, "backup rollback: not confirmed (type a "
		    "capital Y); nothing changed");
		cmdctx_done(ctx, MMP_RES_FAILED);
		return;
	}
	if (cmd_backup_refused(ctx) || backup_running) {
		if (backup_running)
			cmdctx_err(ctx, "backup rollback: another backup or "
			    "rollback is running; nothing changed");
		cmdctx_done(ctx, MMP_RES_FAILED);
		return;
	}
	/* The node keeps its id whatever the backup says. */
	if (db_config_find(mmpd->db, DB_CLUSTER_ID, &v, &cause) == -1) {
		cmdctx_err(ctx, "backup rollback: %s; nothing changed", cause);
		free(cause);
		cmdctx_done(ctx, MMP_RES_FAILED);
		return;
	}
	if ((name = cmd_backup_name(ctx, ctx->m.args[0])) == NULL) {
		free(v);
		cmdctx_done(ctx, MMP_RES_FAILED);
		return;
	}
	job = cmd_backup_job(ctx, name, 1);
	free(name);
	if (v != NULL) {
		id = strtoull(v, NULL, 16);
		free(v);
		if (id != 0)
			xasprintf(&job->nodeid, "%016llx",
			    (unsigned long long)id);
	}
	if ((rc = cmd_backup_start(job)) != CMD_PENDING)
		cmdctx_done(ctx, rc);
}

/* backup rollback <name>: asks for a capital Y, then restores. */
int
cmd_backup_rollback(struct cmdctx *ctx)
{
	struct stat	 sb;
	char		*name, *path;
	int		 rc = MMP_RES_FAILED;

	if ((name = cmd_backup_name(ctx, ctx->m.args[0])) == NULL)
		return (MMP_RES_FAILED);
	if (cmd_backup_refused(ctx))
		goto out;
	if (backup_running) {
		cmdctx_err(ctx, "backup rollback: another backup or rollback "
		    "is running; try again when it has finished");
		goto out;
	}
	xasprintf(&path, "%s/%s", mmpd->filesdir, name);
	if (stat(path, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		cmdctx_err(ctx, "backup rollback: %s: no such backup in the "
		    "file store (backup list shows them)", name);
		free(path);
		goto out;
	}
	free(path);
	rc = cmdctx_prompt(ctx, "This replaces the database and every file "
	    "of the file store but the .bak files with those of the backup, "
	    "and restarts XMPP. Type Y to confirm: ", 1, cmd_backup_answer);
out:
	free(name);
	return (rc);
}
