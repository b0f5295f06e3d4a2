/*
 * Command dispatch: match the words against the table (the daemon checks
 * them itself, whatever the shell did) and run the handler.
 */
#include <sys/stat.h>

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "mmpd.h"
#include "proto.h"
#include "xmalloc.h"

typedef int (*cmd_handler)(struct cmdctx *);

static void	 cmd_refuse(struct cmdctx *);

/*
 * The handler of each command, indexed by its id: the handler column of
 * cmds.def, so every command has one or the daemon does not build.
 */
static const cmd_handler handlers[CMD__COUNT] = {
#define CMD(id, pattern, flags, handler, help) [CMD_##id] = handler,
#include "cmds.def"
#undef CMD
};

/* Match and run one command; returns a MMP_RES_ code or CMD_PENDING. */
int
cmd_dispatch(struct cmdctx *ctx)
{
	char	*cause;

	if (cmdtab_match(ctx->argc, ctx->argv, &ctx->m, &cause) !=
	    CMDTAB_OK) {
		cmdctx_err(ctx, "%s", cause);
		free(cause);
		return (MMP_RES_PARSE);
	}
	ctx->matched = 1;
	if (!cmdtab_allowed(ctx->m.id, ctx->roles)) {
		cmd_refuse(ctx);
		return (MMP_RES_FAILED);
	}
	log_debug("cmd_dispatch: %s", cmdtab_name(ctx->m.id));
	return (handlers[ctx->m.id](ctx));
}

/* Tell the shell which role a command needs and which the account has. */
static void
cmd_refuse(struct cmdctx *ctx)
{
	char	*need, *have;

	need = cmdtab_roles_str(cmdtab_roles_of(ctx->m.id), " or ");
	have = cmdtab_roles_str(ctx->roles, ", ");
	log_warnx("cmd_dispatch: uid %u (role %s) may not run %s",
	    (unsigned)ctx->uid, have, cmdtab_name(ctx->m.id));
	if (ctx->roles == 0)
		cmdctx_err(ctx, "%s: needs role %s; this account has no mmp "
		    "role (groups %s, %s, %s)", cmdtab_name(ctx->m.id), need,
		    ROLE_GROUP_ADMIN, ROLE_GROUP_CRYPTO, ROLE_GROUP_AUDIT);
	else
		cmdctx_err(ctx, "%s: needs role %s; this account has role %s",
		    cmdtab_name(ctx->m.id), need, have);
	free(need);
	free(have);
}

/*
 * The path of a file in the store, which must exist as a regular file.
 * The name was checked against the table's file type already; this checks
 * again because nothing from a client is trusted twice removed. On error
 * tells the shell and returns -1.
 */
int
cmd_store_path(struct cmdctx *ctx, const char *name, char **path)
{
	struct stat	 st;
	char		*cause;

	*path = NULL;
	if (cmdtab_check_arg("file", name, &cause) == -1) {
		cmdctx_err(ctx, "%s", cause);
		free(cause);
		return (-1);
	}
	xasprintf(path, "%s/%s", mmpd->filesdir, name);
	if (stat(*path, &st) == -1 || !S_ISREG(st.st_mode)) {
		cmdctx_err(ctx, "%s: no such file in the file store (%s)",
		    name, errno == ENOENT || errno == 0 ? "upload it first" :
		    strerror(errno));
		free(*path);
		*path = NULL;
		return (-1);
	}
	return (0);
}

/*
 * Set several configuration keys in one transaction (a NULL value
 * deletes). Returns 0 once committed, or -1 after telling the shell.
 */
int
cmd_commit_config(struct cmdctx *ctx, const char **keys,
    const char **values, int n)
{
	char	*cause = NULL;
	int	 i;

	if (db_begin(mmpd->db, &cause) == -1)
		goto fail;
	for (i = 0; i < n; i++) {
		if (db_config_set(mmpd->db, keys[i], values[i], &cause) ==
		    -1) {
			db_rollback(mmpd->db);
			goto fail;
		}
	}
	if (db_commit(mmpd->db, &cause) == -1)
		goto fail;
	return (0);
fail:
	log_warnx("cmd_commit_config: %s", cause);
	cmdctx_err(ctx, "%s", cause);
	free(cause);
	return (-1);
}

/*
 * The audit trail: a command that changes state, who ran it and how it
 * ended. The words are the matched command line, which holds no secret
 * (secrets come through prompts, never the command line).
 */
void
cmd_audit(struct cmdctx *ctx, int res)
{
	struct passwd	*pw;
	char		 who[64], *line = NULL, *nl;
	int		 i;

	if (!ctx->matched || !(ctx->m.flags & CF_STATE))
		return;
	if ((pw = getpwuid(ctx->uid)) != NULL)
		strlcpy(who, pw->pw_name, sizeof(who));
	else
		snprintf(who, sizeof(who), "#%u", (unsigned)ctx->uid);
	for (i = 0; i < ctx->m.nwords; i++) {
		xasprintf(&nl, "%s%s%s", line != NULL ? line : "",
		    i > 0 ? " " : "", ctx->m.words[i]);
		free(line);
		line = nl;
	}
	if (res == MMP_RES_OK)
		log_info("audit: user %s (uid %u) ran \"%s\": ok", who,
		    (unsigned)ctx->uid, line != NULL ? line : "");
	else
		log_info("audit: user %s (uid %u) ran \"%s\": failed (%s)",
		    who, (unsigned)ctx->uid, line != NULL ? line : "",
		    proto_result_str(res));
	free(line);
}
