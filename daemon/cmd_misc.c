/*
 * help, version and hostname.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "mmpd.h"
#include "proto.h"
#include "xmalloc.h"

static void	 cmd_help_line(void *, const char *);

/* Send one help line to the shell. */
static void
cmd_help_line(void *arg, const char *line)
{
	cmdctx_out(arg, "%s", line);
}

/* help [words]: usage and one-line help from the table. */
int
cmd_help(struct cmdctx *ctx)
{
	char	*cause;

	if (cmdtab_help(ctx->m.nargs, (char **)(uintptr_t)ctx->m.args,
	    cmd_help_line, ctx, &cause) == -1) {
		cmdctx_err(ctx, "help: %s", cause);
		free(cause);
		return (MMP_RES_PARSE);
	}
	return (MMP_RES_OK);
}

/* exit and quit mean something to the shell only. */
int
cmd_local(struct cmdctx *ctx)
{
	cmdctx_err(ctx, "%s: only the interactive shell can do that",
	    ctx->m.words[0]);
	return (MMP_RES_FAILED);
}

/* version: software and protocol versions. */
int
cmd_version(struct cmdctx *ctx)
{
	cmdctx_kv(ctx, 17, "Software version", "%s", MMP_VERSION);
	cmdctx_kv(ctx, 17, "Protocol version", "%d", MMP_PROTO_VERSION);
	return (MMP_RES_OK);
}

/* hostname: the stored name, else the machine's. */
int
cmd_hostname_show(struct cmdctx *ctx)
{
	char	*name, *cause, buf[HOST_NAME_MAX + 1];
	int	 rc;

	if ((rc = db_config_find(mmpd->db, DB_HOSTNAME, &name, &cause)) ==
	    -1) {
		cmdctx_err(ctx, "hostname: %s", cause);
		free(cause);
		return (MMP_RES_FAILED);
	}
	if (rc == 0) {
		if (gethostname(buf, sizeof(buf)) == -1)
			strlcpy(buf, "mmp", sizeof(buf));
		buf[sizeof(buf) - 1] = '\0';
		name = xstrdup(buf);
	}
	cmdctx_out(ctx, "%s", name);
	free(name);
	return (MMP_RES_OK);
}

/* hostname <name>: store the name shown in the prompt. */
int
cmd_hostname_set(struct cmdctx *ctx)
{
	const char	*key = DB_HOSTNAME, *value = ctx->m.args[0];

	if (strlen(value) > HOST_NAME_MAX) {
		cmdctx_err(ctx, "hostname: at most %d characters",
		    HOST_NAME_MAX);
		return (MMP_RES_FAILED);
	}
	if (cmd_commit_config(ctx, &key, &value, 1) == -1)
		return (MMP_RES_FAILED);
	cmdctx_out(ctx, "Host name set to %s", value);
	return (MMP_RES_OK);
}
