/*
 * xmpp callbridge add|add-secret|del|list: the call bridges that may
 * connect as XEP-0114 components, each with its shared secret.
 */
#include <sys/random.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cluster/cluster.h"
#include "db.h"
#include "log.h"
#include "mmpd.h"
#include "proto.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"

#define CB_KV_WIDTH	11
#define CB_KV_WIDTH_CL	12	/* with the cluster's lines */
#define CB_SECRET_LEN	24	/* 24 of 62 symbols: 142 bits */

static int	 cmd_callbridge_secret(char *, size_t);
static char	*cmd_callbridge_domain(struct cmdctx *);
static int	 cmd_callbridge_exists(struct cmdctx *, const char *, char **);
static int	 cmd_callbridge_store(struct cmdctx *, const char *,
		    const char *, const char *);
static void	 cmd_callbridge_secret_first(struct cmdctx *, const char *);
static void	 cmd_callbridge_secret_again(struct cmdctx *, const char *);
static void	 cmd_callbridge_forget(struct cmdctx *);
static int	 cmd_callbridge_print(struct cmdctx *, const struct cview *);

/*
 * Fill buf with len random letters and digits from the kernel's CSPRNG,
 * rejecting bytes that would bias the draw, then NUL-terminate.
 */
static int
cmd_callbridge_secret(char *buf, size_t len)
{
	static const char	 sym[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char		 r[64];
	size_t			 i = 0, j;
	ssize_t			 n;

	while (i < len) {
		if ((n = getrandom(r, sizeof(r), 0)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		for (j = 0; j < (size_t)n && i < len; j++) {
			/* 248 = 4 * 62: keep the draw uniform. */
			if (r[j] < 248)
				buf[i++] = sym[r[j] % 62];
		}
	}
	buf[len] = '\0';
	explicit_bzero(r, sizeof(r));
	return (0);
}

/* The XMPP domain, or NULL after telling the admin to set it first. */
static char *
cmd_callbridge_domain(struct cmdctx *ctx)
{
	char	*domain, *cause;

	switch (db_config_find(mmpd->db, DB_XMPP_DOMAIN, &domain, &cause)) {
	case -1:
		cmdctx_err(ctx, "%s: %s", cmdtab_name(ctx->m.id), cause);
		free(cause);
		break;
	case 0:
		cmdctx_err(ctx, "%s: set the XMPP domain first (xmpp domain "
		    "<domain>)", cmdtab_name(ctx->m.id));
		break;
	}
	return (domain);
}

/*
 * Set *found to the name of the call bridge that name would clash with
 * (the same regardless of case), or NULL; the caller frees. -1 after
 * telling the admin when the database fails.
 */
static int
cmd_callbridge_exists(struct cmdctx *ctx, const char *name, char **found)
{
	struct db_callbridge	*cb;
	char			*cause;

	*found = NULL;
	switch (db_callbridge_get(mmpd->db, name, &cb, &cause)) {
	case -1:
		cmdctx_err(ctx, "%s: %s", cmdtab_name(ctx->m.id), cause);
		free(cause);
		return (-1);
	case 0:
		return (0);
	}
	*found = xstrdup(cb->name);
	db_callbridge_free(cb, 1);
	return (0);
}

/* Store a call bridge in its own transaction and print it. */
static int
cmd_callbridge_store(struct cmdctx *ctx, const char *name,
    const char *secret, const char *domain)
{
	char	*cause;

	if (db_begin(mmpd->db, &cause) == -1 ||
	    db_callbridge_add(mmpd->db, name, secret, &cause) == -1 ||
	    db_commit(mmpd->db, &cause) == -1) {
		db_rollback(mmpd->db);
		cmdctx_err(ctx, "xmpp callbridge: %s", cause);
		free(cause);
		return (MMP_RES_FAILED);
	}
	log_info("cmd_callbridge_store: added call bridge %s", name);
	cluster_callbridges_changed();
	cmdctx_out(ctx, "Successfully added callbridge.");
	cmdctx_kv(ctx, CB_KV_WIDTH, "Callbridge", "%s", name);
	cmdctx_kv(ctx, CB_KV_WIDTH, "Domain", "%s", domain);
	return (MMP_RES_OK);
}

/* xmpp callbridge add <name>: a new random secret, shown once here. */
int
cmd_callbridge_add(struct cmdctx *ctx)
{
	char	 secret[CB_SECRET_LEN + 1], *domain;
	int	 rc;

	if ((domain = cmd_callbridge_domain(ctx)) == NULL)
		return (MMP_RES_FAILED);
	if (cmd_callbridge_secret(secret, CB_SECRET_LEN) == -1) {
		log_warn("cmd_callbridge_add: getrandom");
		cmdctx_err(ctx, "xmpp callbridge add: no randomness available");
		free(domain);
		return (MMP_RES_FAILED);
	}
	rc = cmd_callbridge_store(ctx, ctx->m.args[0], secret, domain);
	if (rc == MMP_RES_OK)
		cmdctx_kv(ctx, CB_KV_WIDTH, "Secret", "%s", secret);
	explicit_bzero(secret, sizeof(secret));
	free(domain);
	return (rc);
}

/*
 * Wipe and free the first typed secret: the cancel hook when the shell
 * leaves, and called before cmdctx_done (which runs no hook).
 */
static void
cmd_callbridge_forget(struct cmdctx *ctx)
{
	char	*first = ctx->job;

	ctx->job = NULL;
	if (first != NULL) {
		explicit_bzero(first, strlen(first));
		free(first);
	}
}

/* The secret typed at the first add-secret prompt: check it, ask again. */
static void
cmd_callbridge_secret_first(struct cmdctx *ctx, const char *secret)
{
	size_t	 i, n = strlen(secret);

	for (i = 0; i < n; i++)
		if ((unsigned char)secret[i] < 0x21 ||
		    (unsigned char)secret[i] > 0x7e)
			break;
	if (n < 8 || n > 256 || i < n) {
		cmdctx_err(ctx, "xmpp callbridge add-secret: the secret must "
		    "be 8 to 256 printable characters without spaces");
		cmdctx_done(ctx, MMP_RES_FAILED);
		return;
	}
	ctx->job = xstrdup(secret);
	ctx->cancel = cmd_callbridge_forget;
	cmdctx_prompt(ctx, "Retype callbridge secret: ", 0,
	    cmd_callbridge_secret_again);
}

/*
 * The secret typed again: a secret mistyped on one node is the field's
 * second trouble, so both must agree before it is stored.
 */
static void
cmd_callbridge_secret_again(struct cmdctx *ctx, const char *secret)
{
	char	*domain;
	int	 same;

	same = strcmp(secret, ctx->job) == 0;
	cmd_callbridge_forget(ctx);
	ctx->cancel = NULL;
	if (!same) {
		cmdctx_err(ctx, "xmpp callbridge add-secret: the secrets do "
		    "not match; nothing changed");
		cmdctx_done(ctx, MMP_RES_FAILED);
		return;
	}
	if ((domain = cmd_callbridge_domain(ctx)) == NULL) {
		cmdctx_done(ctx, MMP_RES_FAILED);
		return;
	}
	cmdctx_done(ctx, cmd_callbridge_store(ctx, ctx->m.args[0], secret,
	    domain));
	free(domain);
}

/* xmpp callbridge add-secret <name>: the secret is asked for twice. */
int
cmd_callbridge_add_secret(struct cmdctx *ctx)
{
	char	*domain, *old;

	/* Refuse before the admin types a secret for nothing. */
	if ((domain = cmd_callbridge_domain(ctx)) == NULL)
		return (MMP_RES_FAILED);
	free(domain);
	if (cmd_callbridge_exists(ctx, ctx->m.args[0], &old) == -1)
		return (MMP_RES_FAILED);
	if (old != NULL) {
		if (strcmp(old, ctx->m.args[0]) == 0)
			cmdctx_err(ctx, "xmpp callbridge add-secret: call "
			    "bridge %s already exists; delete it first", old);
		else
			cmdctx_err(ctx, "xmpp callbridge add-secret: call "
			    "bridge %s already exists as %s (names ignore "
			    "case); delete it first", ctx->m.args[0], old);
		free(old);
		return (MMP_RES_FAILED);
	}
	return (cmdctx_prompt(ctx, "Enter callbridge secret: ", 0,
	    cmd_callbridge_secret_first));
}

/* xmpp callbridge del <name>. */
int
cmd_callbridge_del(struct cmdctx *ctx)
{
	char	*cause;

	if (db_begin(mmpd->db, &cause) == -1 ||
	    db_callbridge_del(mmpd->db, ctx->m.args[0], &cause) == -1 ||
	    db_commit(mmpd->db, &cause) == -1) {
		db_rollback(mmpd->db);
		cmdctx_err(ctx, "xmpp callbridge del: %s", cause);
		free(cause);
		return (MMP_RES_FAILED);
	}
	log_info("cmd_callbridge_del: deleted call bridge %s",
	    ctx->m.args[0]);
	cluster_callbridges_changed();
	cmdctx_out(ctx, "Successfully deleted callbridge %s.", ctx->m.args[0]);
	return (MMP_RES_OK);
}

/* xmpp callbridge list: each with its domain and secret, as on the MMP. */
/*
 * xmpp callbridge list. In a cluster it asks the other members first
 * (cluster_view.c): where each call bridge is connected, and its last
 * failure anywhere.
 */
int
cmd_callbridge_list(struct cmdctx *ctx)
{
	if (cluster_running())
		return (cview_run(ctx, cmd_callbridge_print));
	return (cmd_callbridge_print(ctx, NULL));
}

/* The call bridges of this node, with the cluster's view v if any. */
static int
cmd_callbridge_print(struct cmdctx *ctx, const struct cview *v)
{
	struct db_callbridge	*list;
	const struct cview_fail	*last;
	char			*domain, *state, *cause, when[40];
	size_t			 n, i, k;
	int			 width, seen, m;

	width = v != NULL ? CB_KV_WIDTH_CL : CB_KV_WIDTH;
	if (db_callbridge_list(mmpd->db, &list, &n, &cause) == -1 ||
	    db_config_find(mmpd->db, DB_XMPP_DOMAIN, &domain, &cause) == -1) {
		cmdctx_err(ctx, "xmpp callbridge list: %s", cause);
		free(cause);
		db_callbridge_free(list, n);
		return (MMP_RES_FAILED);
	}
	if (n == 0)
		cmdctx_out(ctx, "No callbridges configured");
	for (i = 0; i < n; i++) {
		if (i > 0)
			cmdctx_out(ctx, "%s", "");
		cmdctx_kv(ctx, width, "Callbridge", "%s", list[i].name);
		cmdctx_kv(ctx, width, "Domain", "%s",
		    domain ? domain : "(not set)");
		cmdctx_kv(ctx, width, "Secret", "%s", list[i].secret);
		state = xmpp_cb_state(list[i].name);
		cmdctx_kv(ctx, width, "State", "%s", state);
		free(state);
		if (v == NULL)
			continue;
		seen = 0;
		for (k = 0; k < v->ncomp; k++) {
			if (strcasecmp(v->comp[k].name, list[i].name) != 0)
				continue;
			cmdctx_kv(ctx, width, "Connected", "yes, on %s from %s "
			    "since %s", cview_addr(v, v->comp[k].node),
			    v->comp[k].peer, cview_when(v->comp[k].since,
			    when, sizeof(when)));
			seen = 1;
		}
		if (!seen)
			cmdctx_kv(ctx, width, "Connected", "no");
		last = NULL;
		for (k = 0; k < v->nfail; k++)
			if (strcasecmp(v->fail[k].name, list[i].name) == 0 &&
			    (last == NULL || v->fail[k].at > last->at))
				last = &v->fail[k];
		if (last != NULL)
			cmdctx_kv(ctx, width, "Last failure", "%s on %s from "
			    "%s at %s", last->reason, cview_addr(v, last->node),
			    last->peer, cview_when(last->at, when,
			    sizeof(when)));
	}
	for (m = 0; v != NULL && m < v->nnodes; m++)
		if (!v->nodes[m].answered)
			cmdctx_err(ctx, "xmpp callbridge list: no view of %s "
			    "(%s); its call bridges are not shown",
			    v->nodes[m].addr, v->nodes[m].err ?
			    v->nodes[m].err : "no answer");
	free(domain);
	db_callbridge_free(list, n);
	return (MMP_RES_OK);
}
