/*
 * The control socket: accepts mmp connections, checks the peer's
 * credentials, reads framed CMD and INPUT messages and sends OUT, ERR,
 * PROMPT and DONE back. A bad frame closes that connection and nothing
 * else. A descriptor is kept in reserve so that an admin gets in even
 * when the rest of the daemon has run out of them.
 *
 * This is the layer below the commands: it runs them, reports their end
 * and its own going idle through the control_ops mmpd.c registers with
 * control_listen, and calls nothing above it.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "log.h"
#include "mmpd.h"
#include "msg.h"
#include "util.h"
#include "xmalloc.h"

#define CTL_MAXCONNS	64
#define CTL_ACCEPT_PAUSE	1	/* seconds the listener rests on EMFILE */
#define CTL_MAXGROUPS	1024	/* groups of one account looked at */

struct ctl_conn {
	TAILQ_ENTRY(ctl_conn)	 entry;
	struct bufferevent	*bev;
	int			 fd;		/* ours to close, not bev's */
	uid_t			 uid;
	pid_t			 pid;
	int			 roles;		/* ROLE_ set, fixed at accept */
	struct cmdctx		*ctx;		/* command in progress */
	int			 closing;	/* close once output is sent */
};

static TAILQ_HEAD(, ctl_conn) conns = TAILQ_HEAD_INITIALIZER(conns);
static struct evconnlistener	*listener;
static int			 listen_fd = -1;
static int			 reserve_fd = -1;	/* /dev/null, for an admin */
static struct event		*resume;
static struct log_limit		 log_pause;
static int			 nconns;
static gid_t			 role_gid[ROLE_COUNT];	/* as last looked up */
static int			 role_known[ROLE_COUNT];
static struct event_base	*base;
static const struct control_ops	*ops;
static char			*sockpath;	/* ours, from control_init */
static char			*filesdir;	/* the file store, or NULL */
static int			 stopping;	/* since control_stopping */

static void	 control_accept(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	 control_accept_error(struct evconnlistener *, void *);
static void	 control_accept_resume(evutil_socket_t, short, void *);
static void	 control_reserve(void);
static void	 control_group(const char *);
static int	 control_allowed(int, uid_t *, pid_t *, int *);
static void	 control_roles_lookup(void);
static int	 control_peer_groups(int, uid_t, gid_t, gid_t **);
static void	 control_read(struct bufferevent *, void *);
static void	 control_write(struct bufferevent *, void *);
static void	 control_event(struct bufferevent *, short, void *);
static void	 control_close(struct ctl_conn *);
static void	 control_close_after(struct ctl_conn *);
static void	 control_send(struct ctl_conn *, struct msg *);
static void	 control_send_done(struct ctl_conn *, uint32_t, int);
static void	 control_line(struct ctl_conn *, uint32_t, uint16_t,
		    const char *);
static int	 control_cmd(struct ctl_conn *, const struct msg_hdr *,
		    const uint8_t *);
static int	 control_input(struct ctl_conn *, const struct msg_hdr *,
		    const uint8_t *);
static void	 cmdctx_free(struct cmdctx *);
static void	 control_store_names(char *);

/*
 * Create the control socket at path, mode 0660. A stale socket (nobody
 * answers) is replaced; a live one means another mmpd: refuse to start.
 * Output names files under store (may be NULL) by their store names.
 */
void
control_init(const char *path, const char *store)
{
	struct sockaddr_un	 sun;
	mode_t			 old;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		fatalx("control_init: socket path too long: %s", path);

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("control_init: socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		fatalx("control_init: another mmpd is running on %s", path);
	if (errno != ECONNREFUSED && errno != ENOENT)
		fatal("control_init: connect %s", path);
	if (errno == ECONNREFUSED) {
		log_info("control_init: replacing stale socket %s", path);
		if (unlink(path) == -1 && errno != ENOENT)
			fatal("control_init: unlink %s", path);
	}

	old = umask(S_IXUSR | S_IXGRP | S_IRWXO);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("control_init: bind %s", path);
	umask(old);
	if (chmod(path, S_IRUSR | S_IWUSR | S_IRGRP | S_IWGRP) == -1)
		fatal("control_init: chmod %s", path);
	control_group(path);
	control_roles_lookup();
	if (listen(fd, 16) == -1)
		fatal("control_init: listen %s", path);
	evutil_make_socket_nonblocking(fd);
	listen_fd = fd;
	sockpath = xstrdup(path);
	filesdir = store != NULL ? xstrdup(store) : NULL;
}

/*
 * The socket takes the group of its directory (as a file made in a
 * set-group-ID directory would): whoever may use mmp is in that group.
 * Failing to change it is not fatal; the socket keeps our group.
 */
static void
control_group(const char *path)
{
	struct stat	 st;
	char		*dir, *slash;

	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) == NULL)
		strlcpy(dir, ".", strlen(dir) + 1);
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) == -1)
		log_warn("control_group: %s", dir);
	else if (st.st_gid != getegid() && chown(path, (uid_t)-1,
	    st.st_gid) == -1)
		log_warn("control_group: cannot give %s the group of %s",
		    path, dir);
	free(dir);
}

/* Start accepting connections on the loop; commands go to the ops. */
void
control_listen(struct event_base *evbase, const struct control_ops *cops)
{
	base = evbase;
	ops = cops;
	listener = evconnlistener_new(base, control_accept, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, listen_fd);
	if (listener == NULL)
		fatalx("control_listen: evconnlistener_new failed");
	evconnlistener_set_error_cb(listener, control_accept_error);
	if ((resume = evtimer_new(base, control_accept_resume,
	    NULL)) == NULL)
		fatalx("control_listen: evtimer_new failed");
	control_reserve();
	if (reserve_fd == -1)
		fatal("control_listen: open /dev/null");
}

/* Hold the reserve descriptor again if it was spent (and one is free). */
static void
control_reserve(void)
{
	if (reserve_fd == -1)
		reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/*
 * accept() failed for another reason than a connection that went away:
 * the daemon is out of descriptors (EMFILE, ENFILE) or kernel memory.
 * Spend the reserve descriptor on the admin who is knocking; without one,
 * rest the listener instead of failing again at once, for ever.
 */
static void
control_accept_error(struct evconnlistener *l, void *arg)
{
	struct timeval	 tv = { CTL_ACCEPT_PAUSE, 0 };
	unsigned long	 held;
	int		 fd, err = EVUTIL_SOCKET_ERROR();

	(void)arg;
	if (reserve_fd != -1 && (err == EMFILE || err == ENFILE)) {
		close(reserve_fd);
		reserve_fd = -1;
		fd = accept4(evconnlistener_get_fd(l), NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd != -1) {
			control_accept(l, fd, NULL, 0, NULL);
			return;
		}
		err = errno;
		control_reserve();
		if (err == EAGAIN || err == EINTR || err == ECONNABORTED)
			return;
	}
	evconnlistener_disable(l);
	evtimer_add(resume, &tv);
	if (log_limit(&log_pause, &held))
		log_warnx("control_accept_error: %s: not accepting for %d "
		    "second%s (%lu more pauses since the last message)",
		    strerror(err), CTL_ACCEPT_PAUSE, CTL_ACCEPT_PAUSE == 1 ?
		    "" : "s", held);
}

/* The paused listener accepts again, with the reserve back if it can. */
static void
control_accept_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	control_reserve();
	if (listener != NULL)
		evconnlistener_enable(listener);
}

/*
 * The daemon is stopping: from now on a new command is answered
 * MMP_RES_SHUTDOWN, a connection closes once its command has answered,
 * and the last one to close calls the idle op.
 */
void
control_stopping(void)
{
	stopping = 1;
}

/*
 * Stop accepting; tell a connection with a command waiting for input that
 * the daemon is going away, and close the others. Implies
 * control_stopping: work in flight answers, then its connection closes.
 */
void
control_shutdown(void)
{
	struct ctl_conn	*c, *next;

	stopping = 1;

	if (listener != NULL) {
		evconnlistener_free(listener);
		listener = NULL;
		unlink(sockpath);
	}
	TAILQ_FOREACH_SAFE(c, &conns, entry, next) {
		/* Work in flight finishes and answers; cmdctx_done closes. */
		if (c->ctx != NULL && c->ctx->cancel != NULL &&
		    c->ctx->input_cb == NULL)
			continue;
		if (c->ctx != NULL) {
			control_line(c, c->ctx->id, MSG_ERR,
			    "mmpd is shutting down; the command was not "
			    "completed");
			control_send_done(c, c->ctx->id, MMP_RES_SHUTDOWN);
			cmdctx_free(c->ctx);
			c->ctx = NULL;
			control_close_after(c);
		} else
			control_close(c);
	}
}

/* Whether no connection has output left to send. */
int
control_idle(void)
{
	return (TAILQ_EMPTY(&conns));
}

/*
 * Look up the gids of the role groups (at start and for every admin who
 * connects). A lookup that fails for want of descriptors or memory keeps
 * the gid found last: an admin must get in while the daemon is out of
 * descriptors. A group that is gone grants nothing.
 */
static void
control_roles_lookup(void)
{
	struct group	*gr;
	int		 j;

	for (j = 0; j < ROLE_COUNT; j++) {
		errno = 0;
		if ((gr = getgrnam(cmdtab_role_group(j))) != NULL) {
			role_gid[j] = gr->gr_gid;
			role_known[j] = 1;
		} else if (errno == 0 || errno == ENOENT || errno == ESRCH)
			role_known[j] = 0;
	}
}

/*
 * The peer's supplementary groups into *groupsp (allocated; the caller
 * frees), their number returned. SO_PEERGROUPS (Linux 4.13) needs no
 * descriptor; without it, the account's groups from the group database
 * (getgrouplist, which needs files or nscd), the first CTL_MAXGROUPS.
 */
static int
control_peer_groups(int fd, uid_t uid, gid_t gid, gid_t **groupsp)
{
	struct passwd	*pw;
	gid_t		*groups;
	socklen_t	 len;
	int		 n = CTL_MAXGROUPS;

	groups = xreallocarray(NULL, CTL_MAXGROUPS, sizeof(*groups));
	*groupsp = groups;
#ifdef SO_PEERGROUPS
	len = CTL_MAXGROUPS * sizeof(*groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0)
		return (len / sizeof(*groups));
	if (errno == ERANGE && len > 0) {
		groups = xreallocarray(groups, 1, len);
		*groupsp = groups;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups,
		    &len) == 0)
			return (len / sizeof(*groups));
	}
	if (errno != ENOPROTOOPT)
		log_warn("control_peer_groups: SO_PEERGROUPS");
#else
	(void)fd;
	(void)len;
#endif
	if ((pw = getpwuid(uid)) == NULL)
		return (0);
	/* More groups than fit: the first CTL_MAXGROUPS count. */
	if (getgrouplist(pw->pw_name, gid, groups, &n) == -1)
		n = CTL_MAXGROUPS;
	return (n);
}

/*
 * Who is on the other end of fd: its uid and pid, and its roles from the
 * groups it is in (the peer's own groups, as the kernel has them; root
 * and our own uid are admins). Returns whether it may use the socket at
 * all: root, our own uid, or a member of the socket's group. Groups are
 * looked up here, once per connection: commands never look them up
 * again, so a slow directory service (LDAP, sssd) costs one lookup.
 */
static int
control_allowed(int fd, uid_t *uidp, pid_t *pidp, int *rolesp)
{
	struct ucred	 cred;
	struct stat	 st;
	gid_t		*groups = NULL, sockgid = (gid_t)-1, g;
	socklen_t	 len = sizeof(cred);
	int		 i, j, ok = 0, ngroups;

	*rolesp = 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("control_allowed: SO_PEERCRED");
		return (0);
	}
	*uidp = cred.uid;
	*pidp = cred.pid;
	if (cred.uid == 0 || cred.uid == geteuid()) {
		*rolesp = ROLE_ALL;
		return (1);
	}
	if (stat(sockpath, &st) == 0)
		sockgid = st.st_gid;
	control_roles_lookup();
	ngroups = control_peer_groups(fd, cred.uid, cred.gid, &groups);
	/* i = -1: the primary group, which SO_PEERGROUPS may leave out. */
	for (i = -1; i < ngroups; i++) {
		g = i < 0 ? cred.gid : groups[i];
		if (g == sockgid)
			ok = 1;
		for (j = 0; j < ROLE_COUNT; j++)
			if (role_known[j] && g == role_gid[j])
				*rolesp |= cmdtab_role_bit(j);
	}
	free(groups);
	return (ok);
}

/* A new connection: check who it is and set up its buffers. */
static void
control_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct ctl_conn	*c;
	char		 line[128];
	int		 ok;

	(void)l;
	(void)sa;
	(void)salen;
	(void)arg;

	c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	ok = control_allowed(fd, &c->uid, &c->pid, &c->roles);
	/*
	 * A bufferevent closes its socket only when its finalizer runs, a
	 * turn of the loop later: we close it ourselves, so that the reserve
	 * descriptor can take its place at once.
	 */
	c->bev = bufferevent_socket_new(base, fd, 0);
	if (c->bev == NULL) {
		log_warnx("control_accept: bufferevent_socket_new failed");
		close(fd);
		free(c);
		return;
	}
	bufferevent_setcb(c->bev, control_read, control_write,
	    control_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, 4 * MSG_MAXPAYLOAD);
	TAILQ_INSERT_TAIL(&conns, c, entry);
	nconns++;

	if (!ok) {
		log_warnx("control_accept: refused uid %u (pid %d): not root, "
		    "not mmpd's user, not in the socket's group",
		    (unsigned)c->uid, (int)c->pid);
		snprintf(line, sizeof(line), "mmpd: uid %u may not use this "
		    "socket", (unsigned)c->uid);
		control_line(c, 0, MSG_ERR, line);
		control_send_done(c, 0, MMP_RES_DENIED);
		control_close_after(c);
		return;
	}
	if (nconns > CTL_MAXCONNS) {
		log_warnx("control_accept: too many connections");
		control_line(c, 0, MSG_ERR, "mmpd: too many control "
		    "connections, try again");
		control_send_done(c, 0, MMP_RES_FAILED);
		control_close_after(c);
		return;
	}
	log_debug("control_accept: uid %u pid %d roles %#x", (unsigned)c->uid,
	    (int)c->pid, c->roles);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* Close a connection now, abandoning any command in progress. */
static void
control_close(struct ctl_conn *c)
{
	TAILQ_REMOVE(&conns, c, entry);
	nconns--;
	if (c->ctx != NULL)
		cmdctx_free(c->ctx);
	bufferevent_free(c->bev);
	close(c->fd);
	free(c);
	control_reserve();
	if (stopping && control_idle())
		ops->idle();
}

/* Stop reading and close once everything queued has been written. */
static void
control_close_after(struct ctl_conn *c)
{
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_enable(c->bev, EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		control_close(c);
}

/* Queue a finished message and free it. */
static void
control_send(struct ctl_conn *c, struct msg *m)
{
	if (msg_finish(m) == -1)
		fatalx("control_send: message over the payload limit");
	bufferevent_write(c->bev, m->buf, m->len);
	msg_free(m);
}

/* Queue a DONE with a result code. */
static void
control_send_done(struct ctl_conn *c, uint32_t id, int res)
{
	struct msg	*m;

	m = msg_new(MSG_DONE, id);
	msg_put_u32(m, (uint32_t)res);
	control_send(c, m);
}

/* Queue one OUT or ERR line, cut to fit the payload limit. */
static void
control_line(struct ctl_conn *c, uint32_t id, uint16_t type,
    const char *line)
{
	struct msg	*m;
	char		*cut = NULL;

	if (strlen(line) >= MSG_MAXPAYLOAD) {
		cut = xstrndup(line, MSG_MAXPAYLOAD - 1);
		line = cut;
	}
	m = msg_new(type, id);
	msg_put_str(m, line);
	control_send(c, m);
	free(cut);
}

/* Read every complete frame that has arrived. */
static void
control_read(struct bufferevent *bev, void *arg)
{
	struct ctl_conn	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct msg_hdr	 hdr;
	const uint8_t	*p;
	struct msg	*m;
	int		 rc;

	while (!c->closing) {
		if ((p = evbuffer_pullup(in, MSG_HDRLEN)) == NULL)
			return;
		rc = msg_parse_hdr(p, evbuffer_get_length(in), &hdr);
		if (rc == MSG_PARSE_VERSION) {
			log_warnx("control_read: uid %u speaks protocol "
			    "version %u, we speak %u", (unsigned)c->uid,
			    hdr.version, MMP_PROTO_VERSION);
			/* Answer in our version so the shell can say why. */
			m = msg_new(MSG_DONE, hdr.id);
			msg_put_u32(m, MMP_RES_VERSION);
			control_send(c, m);
			control_close_after(c);
			return;
		}
		if (rc != MSG_PARSE_OK) {
			log_warnx("control_read: uid %u sent a bad frame "
			    "(%s), closing", (unsigned)c->uid,
			    rc == MSG_PARSE_TOOBIG ? "too big" : "bad type");
			control_close(c);
			return;
		}
		if (evbuffer_get_length(in) < MSG_HDRLEN + hdr.len)
			return;
		p = evbuffer_pullup(in, MSG_HDRLEN + hdr.len);
		if (hdr.type == MSG_CMD && c->ctx == NULL)
			rc = control_cmd(c, &hdr, p + MSG_HDRLEN);
		else if (hdr.type == MSG_INPUT && c->ctx != NULL &&
		    c->ctx->input_cb != NULL && hdr.id == c->ctx->id)
			rc = control_input(c, &hdr, p + MSG_HDRLEN);
		else {
			log_warnx("control_read: uid %u sent message type %u "
			    "out of turn, closing", (unsigned)c->uid,
			    hdr.type);
			rc = -1;
		}
		if (rc == -1) {
			control_close(c);
			return;
		}
		evbuffer_drain(in, MSG_HDRLEN + hdr.len);
	}
}

/* Output drained: finish a pending close. */
static void
control_write(struct bufferevent *bev, void *arg)
{
	struct ctl_conn	*c = arg;

	if (c->closing &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		control_close(c);
}

/* EOF or error on the connection. */
static void
control_event(struct bufferevent *bev, short what, void *arg)
{
	struct ctl_conn	*c = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (c->ctx != NULL)
			log_debug("control_event: uid %u left during a "
			    "command", (unsigned)c->uid);
		control_close(c);
	}
}

/* Decode a CMD and run it. -1 closes the connection. */
static int
control_cmd(struct ctl_conn *c, const struct msg_hdr *hdr,
    const uint8_t *payload)
{
	struct msg	 r;
	struct cmdctx	*ctx;
	const char	*s;
	uint32_t	 argc, i;
	int		 res;

	msg_reader(&r, hdr, payload);
	if (msg_get_u32(&r, &argc) == -1 || argc > CMD_MAXWORDS) {
		log_warnx("control_cmd: uid %u: bad argument count",
		    (unsigned)c->uid);
		return (-1);
	}
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->conn = c;
	ctx->id = hdr->id;
	ctx->uid = c->uid;
	ctx->roles = c->roles;
	ctx->argv = xcalloc(argc + 1, sizeof(*ctx->argv));
	for (i = 0; i < argc; i++) {
		if (msg_get_str(&r, &s) == -1)
			break;
		ctx->argv[ctx->argc++] = xstrdup(s);
	}
	if (!msg_end(&r)) {
		log_warnx("control_cmd: uid %u: malformed command",
		    (unsigned)c->uid);
		cmdctx_free(ctx);
		return (-1);
	}
	c->ctx = ctx;
	if (stopping)
		res = MMP_RES_SHUTDOWN;
	else
		res = ops->dispatch(ctx);
	if (res != CMD_PENDING)
		cmdctx_done(ctx, res);
	return (0);
}

/* Hand an INPUT to the command that asked for it. -1 closes. */
static int
control_input(struct ctl_conn *c, const struct msg_hdr *hdr,
    const uint8_t *payload)
{
	struct msg	 r;
	struct cmdctx	*ctx = c->ctx;
	cmdctx_input_cb	 cb;
	const char	*s;

	msg_reader(&r, hdr, payload);
	if (msg_get_str(&r, &s) == -1 || !msg_end(&r)) {
		log_warnx("control_input: uid %u: malformed input",
		    (unsigned)c->uid);
		return (-1);
	}
	cb = ctx->input_cb;
	ctx->input_cb = NULL;
	cb(ctx, s);
	explicit_bzero((void *)(uintptr_t)s, strlen(s));
	return (0);
}

/* Close every connection that is left, at exit. */
void
control_free(void)
{
	struct ctl_conn	*c;

	while ((c = TAILQ_FIRST(&conns)) != NULL) {
		TAILQ_REMOVE(&conns, c, entry);
		if (c->ctx != NULL)
			cmdctx_free(c->ctx);
		bufferevent_free(c->bev);
		close(c->fd);
		free(c);
	}
	nconns = 0;
	if (resume != NULL) {
		event_free(resume);
		resume = NULL;
	}
	if (reserve_fd != -1) {
		close(reserve_fd);
		reserve_fd = -1;
	}
	free(sockpath);
	sockpath = NULL;
	free(filesdir);
	filesdir = NULL;
}

/* Free a command context, telling work in flight that nobody waits. */
static void
cmdctx_free(struct cmdctx *ctx)
{
	if (ctx->cancel != NULL)
		ctx->cancel(ctx);
	util_free_argv(ctx->argv, ctx->argc);
	free(ctx);
}

/* Send a line to the shell's stdout, files named by their store names. */
void
cmdctx_out(struct cmdctx *ctx, const char *fmt, ...)
{
	va_list	 ap;
	char	*line;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) == -1)
		fatal("cmdctx_out");
	va_end(ap);
	control_store_names(line);
	control_line(ctx->conn, ctx->id, MSG_OUT, line);
	free(line);
}

/*
 * Write the files of the store by their store names in line, in place:
 * the admin knows "node.crt", not where the data directory is, and the
 * libraries underneath (OpenSSL, the cluster's checks) name full paths.
 */
static void
control_store_names(char *line)
{
	const char	*dir = filesdir;
	size_t		 n;
	char		*p = line;

	if (dir == NULL || (n = strlen(dir)) == 0)
		return;
	while ((p = strstr(p, dir)) != NULL) {
		if (p[n] == '/')
			memmove(p, p + n + 1, strlen(p + n + 1) + 1);
		else
			p += n;
	}
}

/* Send a line to the shell's stderr, files named by their store names. */
void
cmdctx_err(struct cmdctx *ctx, const char *fmt, ...)
{
	va_list	 ap;
	char	*line;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) == -1)
		fatal("cmdctx_err");
	va_end(ap);
	control_store_names(line);
	control_line(ctx->conn, ctx->id, MSG_ERR, line);
	free(line);
}

/* Send a "Label<padding>: value" status line, label padded to width. */
void
cmdctx_kv(struct cmdctx *ctx, int width, const char *label,
    const char *fmt, ...)
{
	va_list	 ap;
	char	*value;

	va_start(ap, fmt);
	if (vasprintf(&value, fmt, ap) == -1)
		fatal("cmdctx_kv");
	va_end(ap);
	cmdctx_out(ctx, "%-*s: %s", width, label, value);
	free(value);
}

/*
 * Ask the shell for a line (a secret when echo is 0). cb runs with the
 * answer, borrowed and wiped afterwards; it must end with cmdctx_done or
 * another cmdctx_prompt. Returns CMD_PENDING for the handler to return.
 */
int
cmdctx_prompt(struct cmdctx *ctx, const char *prompt, int echo,
    cmdctx_input_cb cb)
{
	struct msg	*m;

	ctx->input_cb = cb;
	m = msg_new(MSG_PROMPT, ctx->id);
	msg_put_u8(m, echo ? 1 : 0);
	msg_put_str(m, prompt);
	control_send(ctx->conn, m);
	return (CMD_PENDING);
}

/* Finish a command with a result code; ctx is freed. */
void
cmdctx_done(struct cmdctx *ctx, int res)
{
	struct ctl_conn	*c = ctx->conn;

	ops->finished(ctx, res);
	control_send_done(c, ctx->id, res);
	c->ctx = NULL;
	ctx->cancel = NULL;
	cmdctx_free(ctx);
	if (stopping)
		control_close_after(c);
}

/* Send text without a newline (progress dots). */
void
cmdctx_part(struct cmdctx *ctx, const char *text)
{
	control_line(ctx->conn, ctx->id, MSG_PART, text);
}

/* Bytes queued for the shell that it has not read yet. */
size_t
cmdctx_outlen(struct cmdctx *ctx)
{
	return (evbuffer_get_length(bufferevent_get_output(ctx->conn->bev)));
}

/*
 * Close the command's connection now, unread output and all; ctx is
 * freed (its cancel hook runs). Not from inside that connection's
 * callbacks.
 */
void
cmdctx_drop(struct cmdctx *ctx)
{
	control_close(ctx->conn);
}
