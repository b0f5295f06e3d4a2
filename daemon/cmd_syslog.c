/*
 * syslog commands: the recent lines of the log (kept in log.c's ring),
 * following it live, and the remote syslog servers. Also the log's sink,
 * which hands every new line to the followers and the remote servers.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"
#include "mmpd.h"
#include "proto.h"
#include "xmalloc.h"

struct follower {
	TAILQ_ENTRY(follower)	 entry;
	struct cmdctx		*ctx;
	int			 cut;		/* read too little: drop it */
};

static TAILQ_HEAD(, follower) followers =
    TAILQ_HEAD_INITIALIZER(followers);
static struct event	*cut_ev;

static void	 cmd_syslog_unfollow(struct cmdctx *);
static void	 cmd_syslog_cut(evutil_socket_t, short, void *);
static void	 cmd_syslog_server_line(void *, const char *, const char *,
		    const char *, unsigned long long, unsigned long long);

/*
 * The log's sink: send a new line to each follower and each remote
 * server. Nothing here may log (log.c would not pass it on anyway).
 */
void
cmd_syslog_sink(int pri, const struct timespec *ts, const char *msg,
    const char *line)
{
	struct follower	*f;

	TAILQ_FOREACH(f, &followers, entry) {
		if (f->cut)
			continue;
		if (cmdctx_outlen(f->ctx) > SYSLOG_FOLLOW_MAXBUF) {
			/* Not here: the caller may be this connection's. */
			f->cut = 1;
			if (cut_ev == NULL)
				cut_ev = evtimer_new(mmpd->base,
				    cmd_syslog_cut, NULL);
			if (cut_ev != NULL)
				event_active(cut_ev, EV_TIMEOUT, 0);
			continue;
		}
		cmdctx_out(f->ctx, "%s", line);
	}
	syslog_remote_send(pri, ts, msg);
}

/* Drop the followers that stopped reading, on a turn of the loop. */
static void
cmd_syslog_cut(evutil_socket_t fd, short what, void *arg)
{
	struct follower	*f, *next;
	uid_t		 uid;

	(void)fd;
	(void)what;
	(void)arg;
	TAILQ_FOREACH_SAFE(f, &followers, entry, next) {
		if (!f->cut)
			continue;
		uid = f->ctx->uid;
		cmdctx_drop(f->ctx);	/* runs cmd_syslog_unfollow */
		log_warnx("cmd_syslog_cut: syslog follow of uid %u cut off: "
		    "it left more than %d KiB unread", (unsigned)uid,
		    SYSLOG_FOLLOW_MAXBUF / 1024);
	}
}

/* syslog: the recent lines, oldest first. */
int
cmd_syslog_show(struct cmdctx *ctx)
{
	size_t	 i, n = log_ring_count();

	for (i = 0; i < n; i++)
		cmdctx_out(ctx, "%s", log_ring_line(i));
	return (MMP_RES_OK);
}

/* syslog follow: send each new line until the shell goes away. */
int
cmd_syslog_follow(struct cmdctx *ctx)
{
	struct follower	*f;
	int		 n = 0;

	TAILQ_FOREACH(f, &followers, entry)
		n++;
	if (n >= SYSLOG_FOLLOW_MAX) {
		cmdctx_err(ctx, "syslog follow: already %d followers; try "
		    "again later", SYSLOG_FOLLOW_MAX);
		return (MMP_RES_FAILED);
	}
	f = xcalloc(1, sizeof(*f));
	f->ctx = ctx;
	ctx->job = f;
	ctx->cancel = cmd_syslog_unfollow;
	TAILQ_INSERT_TAIL(&followers, f, entry);
	return (CMD_PENDING);
}

/* The follower's shell left (or it was cut): forget it. */
static void
cmd_syslog_unfollow(struct cmdctx *ctx)
{
	struct follower	*f = ctx->job;

	TAILQ_REMOVE(&followers, f, entry);
	free(f);
	ctx->job = NULL;
	ctx->cancel = NULL;
	log_info("cmd_syslog_unfollow: syslog follow of uid %u ended",
	    (unsigned)ctx->uid);
}

/* End every follow with success, at shutdown. */
void
cmd_syslog_stop(void)
{
	struct follower	*f;
	struct cmdctx	*ctx;

	while ((f = TAILQ_FIRST(&followers)) != NULL) {
		ctx = f->ctx;
		cmd_syslog_unfollow(ctx);
		cmdctx_done(ctx, MMP_RES_OK);
	}
	if (cut_ev != NULL) {
		event_free(cut_ev);
		cut_ev = NULL;
	}
}

/* syslog server add <address>[:<port>] [tcp] */
int
cmd_syslog_server_add(struct cmdctx *ctx)
{
	const char	*spec = ctx->m.args[0];
	char		*cause;
	int		 tcp = ctx->m.id == CMD_SYSLOG_SERVER_ADD_TCP;

	if (syslog_remote_add(spec, tcp, &cause) == -1) {
		cmdctx_err(ctx, "%s", cause);
		free(cause);
		return (MMP_RES_FAILED);
	}
	cmdctx_out(ctx, "Sending the log to %s over %s", spec,
	    tcp ? "TCP" : "UDP");
	return (MMP_RES_OK);
}

/* syslog server del <address>[:<port>] */
int
cmd_syslog_server_del(struct cmdctx *ctx)
{
	char	*cause;

	if (syslog_remote_del(ctx->m.args[0], &cause) == -1) {
		cmdctx_err(ctx, "%s", cause);
		free(cause);
		return (MMP_RES_FAILED);
	}
	cmdctx_out(ctx, "No longer sending the log to %s", ctx->m.args[0]);
	return (MMP_RES_OK);
}

/* One server's status block. */
static void
cmd_syslog_server_line(void *arg, const char *name, const char *proto,
    const char *state, unsigned long long sent, unsigned long long dropped)
{
	struct cmdctx	*ctx = arg;
	int		*first = ctx->job;

	if (!*first)
		cmdctx_out(ctx, "%s", "");
	*first = 0;
	cmdctx_kv(ctx, 14, "Server", "%s", name);
	cmdctx_kv(ctx, 14, "Protocol", "%s", proto);
	cmdctx_kv(ctx, 14, "State", "%s", state);
	cmdctx_kv(ctx, 14, "Lines sent", "%llu", sent);
	cmdctx_kv(ctx, 14, "Lines dropped", "%llu", dropped);
}

/* syslog server list */
int
cmd_syslog_server_list(struct cmdctx *ctx)
{
	int	 first = 1;

	ctx->job = &first;
	syslog_remote_list(cmd_syslog_server_line, ctx);
	ctx->job = NULL;
	if (first)
		cmdctx_out(ctx, "No syslog servers");
	return (MMP_RES_OK);
}
