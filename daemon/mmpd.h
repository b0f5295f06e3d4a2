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

/* mmpd.c */
void		 mmpd_shutdown_done(void);

/* control.c */
void		 control_init(const char *);
void		 control_listen(void);
void		 control_shutdown(void);
void		 control_free(void);
int		 control_idle(void);
void		 cmdctx_out(struct cmdctx *, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));
void		 cmdctx_err(struct cmdctx *, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));
void		 cmdctx_kv(struct cmdctx *, int, const char *, const char *,
		    ...) __attribute__((__format__(printf, 4, 5)));
int		 cmdctx_prompt(struct cmdctx *, const char *, int,
		    cmdctx_input_cb);
void		 cmdctx_done(struct cmdctx *, int);
void		 cmdctx_part(struct cmdctx *, const char *);
size_t		 cmdctx_outlen(struct cmdctx *);
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
int		 cmd_dispatch(struct cmdctx *);
int		 cmd_store_path(struct cmdctx *, const char *, char **);
int		 cmd_commit_config(struct cmdctx *, const char **,
		    const char **, int);
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
void		 cmd_cluster_next(struct cmdctx *);
int		 cmd_cluster_trust(struct cmdctx *);
int		 cmd_cluster_enable(struct cmdctx *);
int		 cmd_cluster_disable(struct cmdctx *);
int		 cmd_cluster_init(struct cmdctx *);
int		 cmd_cluster_join(struct cmdctx *);
int		 cmd_cluster_remove(struct cmdctx *);
int		 cmd_cluster_timers(struct cmdctx *);

/* cmd_cluster_status.c */
const char	*cmd_cluster_state(void);
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
