/*
 * user list: the system accounts that may use mmp, and the role each one
 * has, read from the role groups (mmp-admin, mmp-crypto, mmp-audit).
 * Creating accounts stays the system's job (adduser NAME mmp-admin).
 *
 * The group and password databases go through NSS, which may be a network
 * service: the lookups run in a worker thread, never on the event loop.
 */
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mmpd.h"
#include "proto.h"
#include "xmalloc.h"

#define SYSUSER_MAX	4096		/* accounts shown at most */
#define SYSUSER_BUFLEN	(1024 * 1024)	/* NSS buffer ceiling */

struct sysuser {
	char	*name;
	int	 roles;
};

struct sysuser_job {
	struct cmdctx	*ctx;		/* NULL once the shell left */
	struct sysuser	*users;
	int		 n;
	int		 truncated;
	int		 err;		/* errno of a failed lookup, or 0 */
};

/* getpwent_r walks one process-wide cursor: one walker at a time. */
static pthread_mutex_t	 sysuser_pwlock = PTHREAD_MUTEX_INITIALIZER;

static void	 cmd_sysuser_add(struct sysuser_job *, const char *, int);
static int	 cmd_sysuser_group(struct sysuser_job *, int, gid_t *);
static void	 cmd_sysuser_work(void *);
static void	 cmd_sysuser_done(void *);
static void	 cmd_sysuser_cancel(struct cmdctx *);
static void	 cmd_sysuser_free(struct sysuser_job *);
static int	 cmd_sysuser_cmp(const void *, const void *);

/* Give an account a role, adding the account on first sight. */
static void
cmd_sysuser_add(struct sysuser_job *j, const char *name, int role)
{
	int	 i;

	for (i = 0; i < j->n; i++) {
		if (strcmp(j->users[i].name, name) == 0) {
			j->users[i].roles |= role;
			return;
		}
	}
	if (j->n >= SYSUSER_MAX) {
		j->truncated = 1;
		return;
	}
	j->users = xreallocarray(j->users, j->n + 1, sizeof(*j->users));
	j->users[j->n].name = xstrdup(name);
	j->users[j->n].roles = role;
	j->n++;
}

/*
 * Add the supplementary members of the i-th role's group and return its
 * gid in *gid. 0 if the group does not exist, 1 if it does, -1 on error.
 */
static int
cmd_sysuser_group(struct sysuser_job *j, int i, gid_t *gid)
{
	struct group	 gr, *res = NULL;
	char		*buf = NULL, **mem;
	size_t		 len = 4096;
	int		 rc;

	for (;;) {
		buf = xreallocarray(buf, 1, len);
		rc = getgrnam_r(cmdtab_role_group(i), &gr, buf, len, &res);
		if (rc != ERANGE || len >= SYSUSER_BUFLEN)
			break;
		len *= 2;
	}
	if (rc != 0 || res == NULL) {
		free(buf);
		if (rc != 0 && rc != ENOENT && rc != ESRCH) {
			j->err = rc;
			return (-1);
		}
		return (0);
	}
	*gid = gr.gr_gid;
	for (mem = gr.gr_mem; *mem != NULL; mem++)
		cmd_sysuser_add(j, *mem, cmdtab_role_bit(i));
	free(buf);
	return (1);
}

/*
 * In a worker: read the role groups, then the accounts whose primary
 * group is one of them.
 */
static void
cmd_sysuser_work(void *arg)
{
	struct sysuser_job	*j = arg;
	struct passwd		 pw, *res;
	gid_t			 gids[ROLE_COUNT];
	int			 have[ROLE_COUNT];
	char			*buf;
	int			 i, any = 0;

	cmd_sysuser_add(j, "root", ROLE_ADMIN);
	for (i = 0; i < ROLE_COUNT; i++) {
		have[i] = cmd_sysuser_group(j, i, &gids[i]) == 1;
		any |= have[i];
	}
	if (!any)
		goto out;
	buf = xmalloc(16384);
	pthread_mutex_lock(&sysuser_pwlock);
	setpwent();
	while (getpwent_r(&pw, buf, 16384, &res) == 0 && res != NULL) {
		for (i = 0; i < ROLE_COUNT; i++)
			if (have[i] && pw.pw_gid == gids[i])
				cmd_sysuser_add(j, pw.pw_name,
				    cmdtab_role_bit(i));
	}
	endpwent();
	pthread_mutex_unlock(&sysuser_pwlock);
	free(buf);
out:
	qsort(j->users, j->n, sizeof(*j->users), cmd_sysuser_cmp);
}

/* root first, then by name. */
static int
cmd_sysuser_cmp(const void *a, const void *b)
{
	const struct sysuser	*ua = a, *ub = b;

	if (strcmp(ua->name, "root") == 0)
		return (-1);
	if (strcmp(ub->name, "root") == 0)
		return (1);
	return (strcmp(ua->name, ub->name));
}

/* Back on the loop: print the table. */
static void
cmd_sysuser_done(void *arg)
{
	struct sysuser_job	*j = arg;
	struct cmdctx		*ctx = j->ctx;
	char			*roles;
	int			 i, width = 7;

	if (ctx == NULL) {
		cmd_sysuser_free(j);
		return;
	}
	ctx->job = NULL;
	ctx->cancel = NULL;
	if (j->err != 0) {
		cmdctx_err(ctx, "user list: cannot read the group database: "
		    "%s", strerror(j->err));
		cmd_sysuser_free(j);
		cmdctx_done(ctx, MMP_RES_FAILED);
		return;
	}
	for (i = 0; i < j->n; i++)
		if ((int)strlen(j->users[i].name) > width)
			width = strlen(j->users[i].name);
	cmdctx_out(ctx, "%-*s  %s", width, "Account", "Roles");
	for (i = 0; i < j->n; i++) {
		roles = cmdtab_roles_str(j->users[i].roles, ", ");
		cmdctx_out(ctx, "%-*s  %s", width, j->users[i].name, roles);
		free(roles);
	}
	if (j->truncated)
		cmdctx_out(ctx, "(only the first %d accounts are shown)",
		    SYSUSER_MAX);
	cmd_sysuser_free(j);
	cmdctx_done(ctx, MMP_RES_OK);
}

/* The shell left while the worker runs: the worker's answer is dropped. */
static void
cmd_sysuser_cancel(struct cmdctx *ctx)
{
	struct sysuser_job	*j = ctx->job;

	ctx->job = NULL;
	if (j != NULL)
		j->ctx = NULL;
}

/* Free a job and its list; NULL does nothing. */
static void
cmd_sysuser_free(struct sysuser_job *j)
{
	int	 i;

	if (j == NULL)
		return;
	for (i = 0; i < j->n; i++)
		free(j->users[i].name);
	free(j->users);
	free(j);
}

/* user list: the accounts of the role groups, root first. */
int
cmd_sysuser_list(struct cmdctx *ctx)
{
	struct sysuser_job	*j;

	j = xcalloc(1, sizeof(*j));
	j->ctx = ctx;
	ctx->job = j;
	ctx->cancel = cmd_sysuser_cancel;
	if (worker_start(cmd_sysuser_work, cmd_sysuser_done, j) == -1) {
		ctx->job = NULL;
		ctx->cancel = NULL;
		cmd_sysuser_free(j);
		cmdctx_err(ctx, "user list: cannot start a worker thread");
		return (MMP_RES_FAILED);
	}
	return (CMD_PENDING);
}
