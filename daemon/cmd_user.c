/*
 * xmpp user add|passwd|del|list: the local accounts clients log in with.
 * Passwords are asked twice with echo off and turned into SCRAM keys at
 * once; the password itself is never stored.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cluster/cluster.h"
#include "db.h"
#include "log.h"
#include "mmpd.h"
#include "proto.h"
#include "util.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "xmpp/sasl.h"

#define CU_KV_WIDTH	8

struct user_pw {
	struct cmdctx		*ctx;		/* NULL once the shell left */
	char			*localpart;
	char			*first;
	int			 busy;		/* keys being derived */
	int			 rc;
	struct sasl_creds	 c1;
	struct sasl_creds	 c256;
};

static char	*cmd_user_name(struct cmdctx *);
static void	 cmd_user_first(struct cmdctx *, const char *);
static void	 cmd_user_second(struct cmdctx *, const char *);
static void	 cmd_user_cancel(struct cmdctx *);
static void	 cmd_user_pw_free(struct user_pw *);
static const char *cmd_user_pw_bad(const char *);
static void	 cmd_user_done(struct cmdctx *, int);
static void	 cmd_user_derive(void *);
static void	 cmd_user_derived(void *);
static void	 cmd_user_report(struct cmdctx *, struct user_pw *);
static void	 cmd_user_replicated(void *, const char *);
static void	 cmd_user_del_replicated(void *, const char *);
static int	 cmd_user_list_print(struct cmdctx *, const struct cview *);
static int	 cmd_user_sessions_print(struct cmdctx *,
		    const struct cview *);
static int	 cmd_user_is(const char *, const char *);
static void	 cmd_user_unseen(struct cmdctx *, const struct cview *);
static void	 cmd_user_del_cancel(struct cmdctx *);

/* The localpart lower-cased; the caller frees. */
static char *
cmd_user_name(struct cmdctx *ctx)
{
	char	*s, *p;

	s = xstrdup(ctx->m.args[0]);
	for (p = s; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
	return (s);
}

/* Free a half-entered password. */
static void
cmd_user_pw_free(struct user_pw *pw)
{
	if (pw == NULL)
		return;
	if (pw->first != NULL) {
		explicit_bzero(pw->first, strlen(pw->first));
		free(pw->first);
	}
	explicit_bzero(&pw->c1, sizeof(pw->c1));
	explicit_bzero(&pw->c256, sizeof(pw->c256));
	free(pw->localpart);
	free(pw);
}

/* The shell left: free what we hold, or let a running worker do it. */
static void
cmd_user_cancel(struct cmdctx *ctx)
{
	struct user_pw	*u = ctx->job;

	ctx->job = NULL;
	if (u != NULL && u->busy)
		u->ctx = NULL;
	else
		cmd_user_pw_free(u);
}

/* In a worker: PBKDF2 twice is milliseconds the event loop must not wait. */
static void
cmd_user_derive(void *arg)
{
	struct user_pw	*u = arg;

	u->rc = sasl_creds_make(u->first, SASL_SHA1, SASL_ITERATIONS,
	    &u->c1) == -1 || sasl_creds_make(u->first, SASL_SHA256,
	    SASL_ITERATIONS, &u->c256) == -1 ? -1 : 0;
}

/* Back on the loop: store the keys and answer. */
static void
cmd_user_derived(void *arg)
{
	struct user_pw	*u = arg;
	struct cmdctx	*ctx = u->ctx;
	char		*cause = NULL, *blob;
	int		 rc;

	u->busy = 0;
	if (ctx == NULL) {
		/* Nobody waits for the answer: the command did not happen. */
		cmd_user_pw_free(u);
		return;
	}
	if (u->rc == -1) {
		cmdctx_err(ctx, "%s: cannot derive keys",
		    cmdtab_name(ctx->m.id));
		cmd_user_done(ctx, MMP_RES_FAILED);
		return;
	}
	if (cluster_users_replicated()) {
		blob = cluster_creds_encode(&u->c1, &u->c256);
		u->busy = 1;
		rc = cluster_user_set(u->localpart, blob,
		    cmd_user_replicated, u);
		explicit_bzero(blob, strlen(blob));
		free(blob);
		if (rc == 0)
			return;		/* answered once the log has it */
		u->busy = 0;
		cmdctx_err(ctx, "%s: cannot replicate %s",
		    cmdtab_name(ctx->m.id), u->localpart);
		cmd_user_done(ctx, MMP_RES_FAILED);
		return;
	}
	if (ctx->m.id == CMD_USER_ADD)
		rc = db_user_add(mmpd->db, u->localpart, &u->c1, &u->c256,
		    &cause);
	else
		rc = db_user_set_creds(mmpd->db, u->localpart, &u->c1,
		    &u->c256, &cause);
	if (rc == -1) {
		cmdctx_err(ctx, "%s: %s", cmdtab_name(ctx->m.id), cause);
		free(cause);
		cmd_user_done(ctx, MMP_RES_FAILED);
		return;
	}
	cmd_user_report(ctx, u);
	cmd_user_done(ctx, MMP_RES_OK);
}

/* What a successful add or passwd says. */
static void
cmd_user_report(struct cmdctx *ctx, struct user_pw *u)
{
	if (ctx->m.id == CMD_USER_ADD) {
		log_info("cmd_user_derived: added user %s", u->localpart);
		cmdctx_out(ctx, "Added user %s", u->localpart);
	} else {
		log_info("cmd_user_derived: new password for %s",
		    u->localpart);
		cmdctx_out(ctx, "Password of %s changed", u->localpart);
	}
	if (cluster_users_replicated())
		cmdctx_out(ctx, "Replicated to every cluster member");
}

/* The cluster's log has the account (or could not take it). */
static void
cmd_user_replicated(void *arg, const char *err)
{
	struct user_pw	*u = arg;
	struct cmdctx	*ctx = u->ctx;

	u->busy = 0;
	if (ctx == NULL) {
		cmd_user_pw_free(u);
		return;
	}
	if (err != NULL) {
		cmdctx_err(ctx, "%s: %s: %s; nothing changed",
		    cmdtab_name(ctx->m.id), u->localpart, err);
		cmd_user_done(ctx, MMP_RES_FAILED);
		return;
	}
	cmd_user_report(ctx, u);
	cmd_user_done(ctx, MMP_RES_OK);
}

/* Why a password is not acceptable, or NULL. */
static const char *
cmd_user_pw_bad(const char *pw)
{
	const unsigned char	*p;

	if (*pw == '\0')
		return ("the password is empty");
	if (strlen(pw) > 1023)
		return ("the password is longer than 1023 bytes");
	for (p = (const unsigned char *)pw; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return ("the password holds a control character");
	return (NULL);
}

/* Finish a password command, freeing what it held. */
static void
cmd_user_done(struct cmdctx *ctx, int res)
{
	cmd_user_pw_free(ctx->job);
	ctx->job = NULL;
	ctx->cancel = NULL;
	cmdctx_done(ctx, res);
}

/* The first password: check it and ask again. */
static void
cmd_user_first(struct cmdctx *ctx, const char *pw)
{
	struct user_pw	*u = ctx->job;
	const char	*why;

	if ((why = cmd_user_pw_bad(pw)) != NULL) {
		cmdctx_err(ctx, "%s: %s", cmdtab_name(ctx->m.id), why);
		cmd_user_done(ctx, MMP_RES_FAILED);
		return;
	}
	u->first = xstrdup(pw);
	cmdctx_prompt(ctx, "Retype password: ", 0, cmd_user_second);
}

/* The second password: both must agree; then derive the keys. */
static void
cmd_user_second(struct cmdctx *ctx, const char *pw)
{
	struct user_pw	*u = ctx->job;

	if (strcmp(pw, u->first) != 0) {
		cmdctx_err(ctx, "%s: the passwords do not match; nothing "
		    "changed", cmdtab_name(ctx->m.id));
		cmd_user_done(ctx, MMP_RES_FAILED);
		return;
	}
	u->ctx = ctx;
	u->busy = 1;
	if (worker_start(cmd_user_derive, cmd_user_derived, u) == -1) {
		u->busy = 0;
		cmdctx_err(ctx, "%s: cannot start a worker thread",
		    cmdtab_name(ctx->m.id));
		cmd_user_done(ctx, MMP_RES_FAILED);
	}
}

/* xmpp user add|passwd <localpart>: asks for the password twice. */
int
cmd_user_password(struct cmdctx *ctx)
{
	struct user_pw	*u;
	char		*name, *cause;
	int		 exists;

	name = cmd_user_name(ctx);
	if ((exists = db_user_exists(mmpd->db, name, &cause)) == -1) {
		cmdctx_err(ctx, "%s: %s", cmdtab_name(ctx->m.id), cause);
		free(cause);
		free(name);
		return (MMP_RES_FAILED);
	}
	if (ctx->m.id == CMD_USER_ADD && exists) {
		cmdctx_err(ctx, "xmpp user add: user %s already exists", name);
		free(name);
		return (MMP_RES_FAILED);
	}
	if (ctx->m.id == CMD_USER_PASSWD && !exists) {
		cmdctx_err(ctx, "xmpp user passwd: no user named %s", name);
		free(name);
		return (MMP_RES_FAILED);
	}
	u = xcalloc(1, sizeof(*u));
	u->localpart = name;
	ctx->job = u;
	ctx->cancel = cmd_user_cancel;
	return (cmdctx_prompt(ctx, "Enter password: ", 0, cmd_user_first));
}

/* xmpp user del <localpart>: its sessions are closed. */
int
cmd_user_del(struct cmdctx *ctx)
{
	char	*name, *cause = NULL;
	int	 n;

	name = cmd_user_name(ctx);
	if (cluster_users_replicated()) {
		if ((n = db_user_exists(mmpd->db, name, &cause)) != 1) {
			if (n == -1)
				cmdctx_err(ctx, "xmpp user del: %s", cause);
			else
				cmdctx_err(ctx, "xmpp user del: no user named "
				    "%s", name);
			free(cause);
			free(name);
			return (MMP_RES_FAILED);
		}
		ctx->job = name;
		ctx->cancel = cmd_user_del_cancel;
		if (cluster_user_del(name, cmd_user_del_replicated, ctx) ==
		    -1) {
			ctx->job = NULL;
			ctx->cancel = NULL;
			cmdctx_err(ctx, "xmpp user del: cannot replicate");
			free(name);
			return (MMP_RES_FAILED);
		}
		return (CMD_PENDING);
	}
	if (db_user_del(mmpd->db, name, &cause) == -1) {
		cmdctx_err(ctx, "xmpp user del: %s", cause);
		free(cause);
		free(name);
		return (MMP_RES_FAILED);
	}
	n = xmpp_kick_user(name);
	log_info("cmd_user_del: deleted user %s, closed %d session%s", name,
	    n, n == 1 ? "" : "s");
	cmdctx_out(ctx, "Deleted user %s%s", name, n ? "; its sessions were "
	    "closed" : "");
	free(name);
	return (MMP_RES_OK);
}

/* The shell left while a deletion was being replicated. */
static void
cmd_user_del_cancel(struct cmdctx *ctx)
{
	cluster_op_forget(ctx);
	free(ctx->job);
	ctx->job = NULL;
}

/* The cluster deleted the account everywhere (sessions closed there). */
static void
cmd_user_del_replicated(void *arg, const char *err)
{
	struct cmdctx	*ctx = arg;
	char		*name = ctx->job;

	ctx->job = NULL;
	ctx->cancel = NULL;
	if (err != NULL)
		cmdctx_err(ctx, "xmpp user del: %s: %s; nothing changed", name,
		    err);
	else {
		log_info("cmd_user_del: deleted user %s in the cluster", name);
		cmdctx_out(ctx, "Deleted user %s on every cluster member; its "
		    "sessions were closed", name);
	}
	free(name);
	cmdctx_done(ctx, err ? MMP_RES_FAILED : MMP_RES_OK);
}

/* xmpp user list: each account with its online sessions. */
/*
 * xmpp user list [<localpart>]: the accounts with their sessions, or one
 * account's sessions. A member counts them on every member
 * (cluster_view.c); alone, the sessions are this node's.
 */
int
cmd_user_list(struct cmdctx *ctx)
{
	int	(*print)(struct cmdctx *, const struct cview *);
	struct cview *v;
	char	*name, *cause;
	int	 rc;

	print = ctx->m.id == CMD_USER_LIST ? cmd_user_list_print :
	    cmd_user_sessions_print;
	if (ctx->m.id != CMD_USER_LIST) {
		name = cmd_user_name(ctx);
		rc = db_user_exists(mmpd->db, name, &cause);
		free(name);
		if (rc == -1) {
			cmdctx_err(ctx, "xmpp user list: %s", cause);
			free(cause);
			return (MMP_RES_FAILED);
		}
		if (!rc) {
			cmdctx_err(ctx, "xmpp user list: no user named %s",
			    ctx->m.args[0]);
			return (MMP_RES_FAILED);
		}
	}
	if (cluster_running())
		return (cview_run(ctx, print));
	/* Alone: this node's own sessions, the way a member reads them. */
	v = cview_here();
	rc = print(ctx, v);
	cview_free(v);
	return (rc);
}

/* Whether full JID jid is an account's (localpart user). */
static int
cmd_user_is(const char *jid, const char *user)
{
	size_t	 len = strlen(user);

	return (strncasecmp(jid, user, len) == 0 && jid[len] == '@');
}

/* Say which members' sessions are not in v. */
static void
cmd_user_unseen(struct cmdctx *ctx, const struct cview *v)
{
	int	 k;

	for (k = 0; k < v->nnodes; k++) {
		if (!v->nodes[k].answered)
			cmdctx_err(ctx, "xmpp user list: no answer from %s "
			    "(%s); its sessions are not counted",
			    v->nodes[k].addr, v->nodes[k].err ?
			    v->nodes[k].err : "no answer");
		else if (v->nodes[k].omitted > 0)
			cmdctx_err(ctx, "xmpp user list: %s left out %lld "
			    "sessions", cview_addr(v, k),
			    v->nodes[k].omitted);
	}
}

/* xmpp user list: one line per account, its sessions counted. */
static int
cmd_user_list_print(struct cmdctx *ctx, const struct cview *v)
{
	char	**names, *cause;
	int	 i, n, width = 4, count;
	size_t	 k;

	if (db_user_list(mmpd->db, &names, &n, &cause) == -1) {
		cmdctx_err(ctx, "xmpp user list: %s", cause);
		free(cause);
		return (MMP_RES_FAILED);
	}
	if (n == 0)
		cmdctx_out(ctx, "No users");
	for (i = 0; i < n; i++)
		if ((int)strlen(names[i]) > width)
			width = strlen(names[i]);
	if (n > 0)
		cmdctx_out(ctx, "%-*s  %s", width, "User", "Sessions");
	for (i = 0; i < n; i++) {
		count = 0;
		for (k = 0; k < v->nsess; k++)
			if (cmd_user_is(v->sess[k].jid, names[i]))
				count++;
		cmdctx_out(ctx, "%-*s  %d", width, names[i], count);
	}
	util_free_argv(names, n);
	cmd_user_unseen(ctx, v);
	return (MMP_RES_OK);
}

/* xmpp user list <localpart>: each session of the account. */
static int
cmd_user_sessions_print(struct cmdctx *ctx, const struct cview *v)
{
	const struct cview_sess	*s;
	const char		*res;
	char			*name, when[40];
	size_t			 k;
	int			 count = 0;

	name = cmd_user_name(ctx);
	for (k = 0; k < v->nsess; k++)
		if (cmd_user_is(v->sess[k].jid, name))
			count++;
	cmdctx_kv(ctx, CU_KV_WIDTH, "User", "%s", name);
	cmdctx_kv(ctx, CU_KV_WIDTH, "Sessions", "%d", count);
	for (k = 0; k < v->nsess; k++) {
		s = &v->sess[k];
		if (!cmd_user_is(s->jid, name))
			continue;
		res = strchr(s->jid, '/');
		cmdctx_out(ctx, "%s", "");
		cmdctx_kv(ctx, CU_KV_WIDTH, "Resource", "%s",
		    res != NULL ? res + 1 : "");
		cmdctx_kv(ctx, CU_KV_WIDTH, "Node", "%s",
		    cview_addr(v, s->node));
		cmdctx_kv(ctx, CU_KV_WIDTH, "Address", "%s", s->addr);
		cmdctx_kv(ctx, CU_KV_WIDTH, "Since", "%s",
		    cview_when(s->since, when, sizeof(when)));
	}
	free(name);
	cmd_user_unseen(ctx, v);
	return (MMP_RES_OK);
}
