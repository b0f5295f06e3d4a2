/*
 * mmpd: the daemon behind the mmp shell.
 */
#ifndef MMPD_H
#define MMPD_H

#include <sys/types.h>
#include <sys/socket.h>

#include <time.h>

#include <event2/event.h>

#include "cmdtab.h"
#include "compat.h"

#define MMPD_DATADIR	"/var/lib/mmp"
#define MMPD_SOCKET	"/run/mmp/mmpd.sock"
#define MMPD_PIDFILE	"/run/mmp/mmpd.pid"
#define MMPD_RUNDIR_MODE 0750	/* a missing socket or pid file directory */

#define CMD_PENDING	(-1)	/* handler answers later via cmdctx_done */

#define SYSLOG_FOLLOW_MAX	16	/* "syslog follow" shells at once */
#define SYSLOG_FOLLOW_MAXBUF	(256 * 1024)	/* unread bytes before a cut */
#define SYSLOG_REMOTE_MAX	8	/* remote syslog servers */
#define SYSLOG_REMOTE_PORT	514
#define SYSLOG_REMOTE_UDP_MAX	2048	/* bytes of one datagram */
#define SYSLOG_REMOTE_TCP_MAXBUF (256 * 1024)	/* unsent bytes per server */
#define SYSLOG_REMOTE_BACKOFF_MAX 60	/* seconds between TCP dials */

struct db;
struct ctl_conn;

struct mmpd {
	struct event_base	*base;
	struct db		*db;
	char			*datadir;
	char			*filesdir;
	char			*sockpath;
	int			 shutdown;
};

extern struct mmpd	*mmpd;

/*
 * One command in progress on a control connection. The control code owns
 * it; a handler that returns CMD_PENDING must end it with cmdctx_done.
 */
struct cmdctx;
typedef void (*cmdctx_input_cb)(struct cmdctx *, const char *);

struct cmdctx {
	struct ctl_conn		*conn;
	uint32_t		 id;
	int			 argc;
	char			**argv;
	struct cmd_match	 m;
	int			 matched;	/* m is valid */
	cmdctx_input_cb		 input_cb;
	void			(*cancel)(struct cmdctx *);
	void			*job;		/* the cancel hook's data */
	uid_t			 uid;		/* the account that asked */
	int			 roles;		/* its ROLE_ set */
};

/* cmd_sysuser.c */
int		 cmd_sysuser_list(struct cmdctx *);

/*
 * control.c: the control socket, the layer below the commands. It calls
 * up only through these, which mmpd.c registers with control_listen.
 */
struct control_ops {
	/* Run a command: a MMP_RES_ code, or CMD_PENDING (cmdctx_done). */
	int	(*dispatch)(struct cmdctx *);
	/* A command ended with this result (before ctx is freed). */
	void	(*finished)(struct cmdctx *, int);
	/* Stopping, and the last connection has closed. */
	void	(*idle)(void);
};

/* Bind the socket at path (copied), output naming files under store. */
void		 control_init(const char *, const char *);
/* Accept on the loop, commands to the ops (both borrowed until free). */
void		 control_listen(struct event_base *,
		    const struct control_ops *);
/* Refuse new commands; close each connection once it has answered. */
void		 control_stopping(void);
/* Stop accepting; end prompts with an error, close idle connections. */
void		 control_shutdown(void);
/* Close every connection and free what control_init made, at exit. */
void		 control_free(void);
/* Whether no connection is left. */
int		 control_idle(void);
/* Send a line to the shell's stdout (store paths by their names). */
void		 cmdctx_out(struct cmdctx *, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));
/* Send a line to the shell's stderr (store paths by their names). */
void		 cmdctx_err(struct cmdctx *, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));
/* Send a "Label<padding>: value" line, the label padded to width. */
void		 cmdctx_kv(struct cmdctx *, int, const char *, const char *,
		    ...) __attribute__((__format__(printf, 4, 5)));
/* Ask the shell for a line (echo 0: a secret); returns CMD_PENDING. */
int		 cmdctx_prompt(struct cmdctx *, const char *, int,
		    cmdctx_input_cb);
/* End a command with a MMP_RES_ result; frees ctx. */
void		 cmdctx_done(struct cmdctx *, int);
/* Send text without a newline (progress). */
void		 cmdctx_part(struct cmdctx *, const char *);
/* Bytes queued for the shell and not read yet. */
size_t		 cmdctx_outlen(struct cmdctx *);
/* Close the command's connection now; frees ctx (its cancel hook runs). */
void		 cmdctx_drop(struct cmdctx *);

/* worker.c */
void		 worker_init(void);
void		 worker_free(void);
int		 worker_start(void (*)(void *), void (*)(void *), void *);
int		 worker_busy(void);

/* cmd_user.c */
int		 cmd_user_password(struct cmdctx *);
int		 cmd_user_del(struct cmdctx *);
int		 cmd_user_list(struct cmdctx *);

/* cmd_pki.c */
int		 cmd_pki_make(struct cmdctx *);
int		 cmd_pki_list(struct cmdctx *);
int		 cmd_pki_names(struct cmdctx *);
int		 cmd_pki_inspect(struct cmdctx *);
int		 cmd_pki_match(struct cmdctx *);
int		 cmd_pki_verify(struct cmdctx *);
int		 cmd_pki_unlock(struct cmdctx *);
int		 cmd_pki_p12(struct cmdctx *);
int		 cmd_pki_bundle(struct cmdctx *);
int		 cmd_pki_ca_sign(struct cmdctx *);

/* cmd.c */
/* Match a command and run its handler: MMP_RES_ code or CMD_PENDING. */
int		 cmd_dispatch(struct cmdctx *);
/* An existing store file's path in *path (caller frees); -1 tells why. */
int		 cmd_store_path(struct cmdctx *, const char *, char **);
/* Set config keys (NULL deletes) in one transaction; -1 tells why. */
int		 cmd_commit_config(struct cmdctx *, const char **,
		    const char **, int);
/* Log the audit line of a command that changes state, with its result. */
void		 cmd_audit(struct cmdctx *, int);

/* cmd_syslog.c */
void		 cmd_syslog_sink(int, const struct timespec *, const char *,
		    const char *);
void		 cmd_syslog_stop(void);
int		 cmd_syslog_show(struct cmdctx *);
int		 cmd_syslog_follow(struct cmdctx *);
int		 cmd_syslog_server_add(struct cmdctx *);
int		 cmd_syslog_server_del(struct cmdctx *);
int		 cmd_syslog_server_list(struct cmdctx *);

/* syslog_remote.c */
struct sockaddr_storage;
void		 syslog_remote_init(void);
void		 syslog_remote_free(void);
int		 syslog_remote_parse(const char *, struct sockaddr_storage *,
		    socklen_t *, char **, char **);
void		 syslog_remote_send(int, const struct timespec *,
		    const char *);
int		 syslog_remote_add(const char *, int, char **);
int		 syslog_remote_del(const char *, char **);
void		 syslog_remote_list(void (*)(void *, const char *,
		    const char *, const char *, unsigned long long,
		    unsigned long long), void *);

/* cmd_misc.c */
int		 cmd_help(struct cmdctx *);
int		 cmd_local(struct cmdctx *);
int		 cmd_version(struct cmdctx *);
int		 cmd_hostname_show(struct cmdctx *);
int		 cmd_hostname_set(struct cmdctx *);

/* cmd_xmpp.c */
int		 cmd_xmpp_status(struct cmdctx *);
int		 cmd_xmpp_domain(struct cmdctx *);
int		 cmd_xmpp_listen(struct cmdctx *);
int		 cmd_xmpp_port(struct cmdctx *);
int		 cmd_xmpp_certs(struct cmdctx *);
int		 cmd_xmpp_enable(struct cmdctx *);
int		 cmd_xmpp_disable(struct cmdctx *);
int		 cmd_xmpp_max_sessions(struct cmdctx *);
int		 cmd_xmpp_reset(struct cmdctx *);

/* cmd_dns.c */
int		 cmd_xmpp_dns(struct cmdctx *);

/* cmd_cluster.c */
int		 cmd_cluster_member(void);
const char	*cmd_cluster_state(void);
int		 cmd_cluster_trust(struct cmdctx *);
int		 cmd_cluster_enable(struct cmdctx *);
int		 cmd_cluster_disable(struct cmdctx *);
int		 cmd_cluster_init(struct cmdctx *);
int		 cmd_cluster_join(struct cmdctx *);
int		 cmd_cluster_remove(struct cmdctx *);
int		 cmd_cluster_timers(struct cmdctx *);
int		 cmd_cluster_status(struct cmdctx *);

/* cmd_backup.c */
int		 cmd_backup_list(struct cmdctx *);
int		 cmd_backup_snapshot(struct cmdctx *);
int		 cmd_backup_rollback(struct cmdctx *);

/* cmd_callbridge.c */
int		 cmd_callbridge_add(struct cmdctx *);
int		 cmd_callbridge_add_secret(struct cmdctx *);
int		 cmd_callbridge_del(struct cmdctx *);
int		 cmd_callbridge_list(struct cmdctx *);

#endif /* MMPD_H */
