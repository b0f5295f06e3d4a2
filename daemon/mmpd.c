/*
 * mmpd: keeps the appliance's configuration in SQLite and answers the
 * mmp shell on a UNIX socket, all from one libevent loop.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "cluster/cluster.h"
#include "db.h"
#include "log.h"
#include "mmpd.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"

struct mmpd	*mmpd;
static struct event *shutdown_timer;
static char	*pidfile;		/* our pid file, if we write one */
static int	 pidfile_fd = -1;

static __dead void usage(void);
static void	 mmpd_mkdir(const char *);
static char	*mmpd_abspath(const char *);
static char	*mmpd_pidfile_default(const char *);
static void	 mmpd_rundir(const char *);
static int	 mmpd_pidfile_lock(const char *, char **);
static void	 mmpd_pidfile_write(void);
static void	 mmpd_pidfile_remove(void);
static int	 mmpd_daemonise(void);
static void	 mmpd_ready(int, int);
static void	 mmpd_signal(evutil_socket_t, short, void *);
static void	 mmpd_shutdown_timeout(evutil_socket_t, short, void *);
static void	 mmpd_cluster_down(void);
static void	 mmpd_rlimit(void);
static void	 mmpd_event_log(int, const char *);
static void	 mmpd_shutdown_done(void);

/* What the control socket calls up to. */
static const struct control_ops control_ops = {
	cmd_dispatch, cmd_audit, mmpd_shutdown_done
};

static __dead void
usage(void)
{
	fprintf(stderr, "usage: mmpd [-dnv] [-D datadir] [-p pidfile] "
	    "[-s socket]\n");
	exit(1);
}

/* Create a directory 0700 if it is missing. */
static void
mmpd_mkdir(const char *path)
{
	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		fatal("mkdir %s", path);
}

/* Make a path absolute so that daemonising cannot change its meaning. */
static char *
mmpd_abspath(const char *path)
{
	char	 cwd[PATH_MAX], *abs;

	if (*path == '/')
		return (xstrdup(path));
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		fatal("getcwd");
	xasprintf(&abs, "%s/%s", cwd, path);
	return (abs);
}

/*
 * The pid file that goes with a socket: its path with ".sock" replaced by
 * ".pid" (or ".pid" added), so that each socket has its own.
 */
static char *
mmpd_pidfile_default(const char *sockpath)
{
	char	*path;
	size_t	 len;

	len = strlen(sockpath);
	if (len > 5 && strcmp(sockpath + len - 5, ".sock") == 0)
		xasprintf(&path, "%.*s.pid", (int)(len - 5), sockpath);
	else
		xasprintf(&path, "%s.pid", sockpath);
	return (path);
}

/*
 * Create the directory of a socket or pid file if it is missing, as
 * /run/mmp is wherever no service manager made it: mode 0750, so that
 * the socket's group may reach the socket. Its parent must exist.
 */
static void
mmpd_rundir(const char *path)
{
	char	*dir, *slash;

	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir) {
		free(dir);
		return;
	}
	*slash = '\0';
	if (mkdir(dir, MMPD_RUNDIR_MODE) == -1) {
		if (errno != EEXIST)
			fatal("mmpd_rundir: cannot create the directory %s",
			    dir);
	} else {
		if (chmod(dir, MMPD_RUNDIR_MODE) == -1)
			fatal("mmpd_rundir: chmod %s", dir);
		log_info("mmpd_rundir: created %s", dir);
	}
	free(dir);
}

/*
 * Open and lock the pid file. The lock, not the pid in the file, says
 * whether an mmpd runs: a file left by one that was killed is replaced,
 * and a locked one makes us refuse to start. An open file description
 * lock (F_OFD_SETLK) belongs to the open file, not to the process, so
 * the daemonised child keeps it.
 */
static int
mmpd_pidfile_lock(const char *path, char **cause)
{
	struct flock	 fl;
	char		 buf[32];
	ssize_t		 n;
	int		 fd;

	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd == -1) {
		xasprintf(cause, "cannot open the pid file %s: %s", path,
		    strerror(errno));
		return (-1);
	}
	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) < 0)
		n = 0;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (buf[0] == '\0' || buf[strspn(buf, "0123456789")] != '\0')
		strlcpy(buf, "unknown", sizeof(buf));
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_OFD_SETLK, &fl) == -1) {
		if (errno == EAGAIN || errno == EACCES)
			xasprintf(cause, "another mmpd (pid %s) holds the pid "
			    "file %s", buf, path);
		else
			xasprintf(cause, "cannot lock the pid file %s: %s",
			    path, strerror(errno));
		close(fd);
		return (-1);
	}
	if (n > 0)
		log_info("mmpd_pidfile_lock: replacing stale pid file %s "
		    "(pid %s)", path, buf);
	if (fchmod(fd, 0644) == -1)
		log_warn("mmpd_pidfile_lock: chmod %s", path);
	pidfile_fd = fd;
	pidfile = xstrdup(path);
	return (0);
}

/* Write our pid into the locked pid file. */
static void
mmpd_pidfile_write(void)
{
	if (pidfile_fd == -1)
		return;
	if (ftruncate(pidfile_fd, 0) == -1 ||
	    dprintf(pidfile_fd, "%ld\n", (long)getpid()) < 0)
		fatal("mmpd_pidfile_write: writing the pid file %s", pidfile);
}

/* Remove the pid file at a clean exit, before letting go of its lock. */
static void
mmpd_pidfile_remove(void)
{
	if (pidfile_fd == -1)
		return;
	if (unlink(pidfile) == -1)
		log_warn("mmpd_pidfile_remove: removing the pid file %s",
		    pidfile);
	close(pidfile_fd);
	pidfile_fd = -1;
	free(pidfile);
	pidfile = NULL;
}

/*
 * Detach from the terminal. The parent exits when the child is ready to
 * serve (0) or has died (1), so that whoever started mmpd, a script or
 * systemd, may use the socket once mmpd returns and sees a failed start
 * in its exit status; the child keeps standard error until then, so that
 * start-up errors reach the terminal. Returns the descriptor that
 * mmpd_ready writes to.
 */
static int
mmpd_daemonise(void)
{
	char	 c;
	ssize_t	 n;
	int	 p[2], fd;

	if (pipe2(p, O_CLOEXEC) == -1)
		fatal("mmpd_daemonise: pipe");
	switch (fork()) {
	case -1:
		fatal("mmpd_daemonise: fork");
	case 0:
		break;
	default:
		close(p[1]);
		while ((n = read(p[0], &c, 1)) == -1 && errno == EINTR)
			;
		_exit(n == 1 ? 0 : 1);
	}
	close(p[0]);
	if (setsid() == -1)
		fatal("mmpd_daemonise: setsid");
	if (chdir("/") == -1)
		fatal("mmpd_daemonise: chdir /");
	if ((fd = open("/dev/null", O_RDWR)) == -1)
		fatal("mmpd_daemonise: /dev/null");
	if (dup2(fd, STDIN_FILENO) == -1 || dup2(fd, STDOUT_FILENO) == -1)
		fatal("mmpd_daemonise: dup2");
	if (fd > STDERR_FILENO)
		close(fd);
	return (p[1]);
}

/* Start-up is over: log to syslog, let go of stderr, let the parent go. */
static void
mmpd_ready(int fd, int verbose)
{
	int	 null;

	log_init("mmpd", 0, verbose);
	if ((null = open("/dev/null", O_RDWR)) != -1) {
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	if (write(fd, "r", 1) != 1)
		log_warn("mmpd_ready: telling the parent we are ready");
	close(fd);
}

/* SIGTERM or SIGINT: answer what is in flight, then leave the loop. */
static void
mmpd_signal(evutil_socket_t sig, short what, void *arg)
{
	struct timeval		 tv = { 2, 0 };

	(void)what;
	(void)arg;
	if (mmpd->shutdown)
		return;
	log_info("mmpd_signal: %s, shutting down", strsignal(sig));
	mmpd->shutdown = 1;
	control_stopping();
	csm_shutdown();		/* SM sessions the next leader adopts */
	xmpp_stop("system-shutdown");
	cluster_shutdown(mmpd_cluster_down);
	cmd_syslog_stop();
	control_shutdown();
	if (control_idle()) {
		mmpd_shutdown_done();
		return;
	}
	/* A shell that stopped reading must not hold us up for ever. */
	shutdown_timer = evtimer_new(mmpd->base, mmpd_shutdown_timeout,
	    event_self_cbarg());
	evtimer_add(shutdown_timer, &tv);
}

/*
 * Output to the shells could not be flushed in time. Work still running
 * in a worker (a key being made) is waited for: it owns files it must
 * finish or remove.
 */
static void
mmpd_shutdown_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct event	*self = arg;
	struct timeval	 tv = { 1, 0 };

	(void)fd;
	(void)what;
	if (worker_busy()) {
		log_info("mmpd_shutdown_timeout: waiting for %d job%s",
		    worker_busy(), worker_busy() == 1 ? "" : "s");
		evtimer_add(self, &tv);
		return;
	}
	log_warnx("mmpd_shutdown_timeout: shells did not read their answers");
	mmpd_shutdown_done();
}

/* The cluster is down (a leader handed over first). */
static void
mmpd_cluster_down(void)
{
	if (control_idle())
		mmpd_shutdown_done();
}

/*
 * Raise the soft descriptor limit to the hard one: every stream is a
 * descriptor, and the caps on unauthenticated streams are set from it.
 */
static void
mmpd_rlimit(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("mmpd_rlimit: getrlimit");
		return;
	}
	if (rl.rlim_cur == rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("mmpd_rlimit: raising the descriptor limit");
}

/* libevent's own messages go to our log (escaped, one line each). */
static void
mmpd_event_log(int severity, const char *msg)
{
	if (severity == EVENT_LOG_DEBUG)
		log_debug("libevent: %s", msg);
	else if (severity == EVENT_LOG_MSG)
		log_info("libevent: %s", msg);
	else
		log_warnx("libevent: %s", msg);
}

/* Everything is answered and the cluster is down: leave the loop. */
static void
mmpd_shutdown_done(void)
{
	if (!cluster_down())
		return;
	event_base_loopbreak(mmpd->base);
}

int
main(int argc, char *argv[])
{
	struct event	*ev_term, *ev_int;
	const char	*datadir = MMPD_DATADIR, *sockpath, *pidpath = NULL;
	char		*dbpath, *cause, *v, *pid;
	int		 ch, debug = 0, check = 0, verbose = 0, ready = -1;

	if ((sockpath = getenv("MMP_SOCKET")) == NULL || *sockpath == '\0')
		sockpath = MMPD_SOCKET;
	while ((ch = getopt(argc, argv, "dnvD:p:s:")) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'D':
			datadir = optarg;
			break;
		case 'p':
			pidpath = optarg;
			break;
		case 's':
			sockpath = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	log_init("mmpd", 1, verbose);
	log_setstamps(debug);
	event_set_log_callback(mmpd_event_log);
	mmpd = xcalloc(1, sizeof(*mmpd));
	mmpd->datadir = mmpd_abspath(datadir);
	mmpd->sockpath = mmpd_abspath(sockpath);
	xasprintf(&mmpd->filesdir, "%s/files", mmpd->datadir);
	xasprintf(&dbpath, "%s/mmp.db", mmpd->datadir);

	if (check) {
		if (db_check(dbpath, &cause) == -1) {
			log_warnx("%s", cause);
			free(cause);
			exit(1);
		}
		printf("%s: database OK, schema version %d\n", dbpath,
		    DB_SCHEMA_VERSION);
		exit(0);
	}

	/* Without -d there is always a pid file; with -d when -p asks. */
	if (pidpath != NULL)
		pid = mmpd_abspath(pidpath);
	else if (!debug)
		pid = mmpd_pidfile_default(mmpd->sockpath);
	else
		pid = NULL;
	mmpd_rundir(mmpd->sockpath);
	if (pid != NULL)
		mmpd_rundir(pid);

	/* The socket first: a live mmpd there must find its data untouched. */
	signal(SIGPIPE, SIG_IGN);
	mmpd_rlimit();
	control_init(mmpd->sockpath, mmpd->filesdir);
	if (pid != NULL && mmpd_pidfile_lock(pid, &cause) == -1) {
		unlink(mmpd->sockpath);
		fatalx("%s", cause);
	}
	free(pid);
	if (!debug)
		ready = mmpd_daemonise();
	mmpd_pidfile_write();
	umask(077);
	mmpd_mkdir(mmpd->datadir);
	mmpd_mkdir(mmpd->filesdir);
	if ((mmpd->db = db_open(dbpath, &cause)) == NULL) {
		unlink(mmpd->sockpath);
		fatalx("%s", cause);
	}
	free(dbpath);
	if ((mmpd->base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	ev_term = evsignal_new(mmpd->base, SIGTERM, mmpd_signal, NULL);
	ev_int = evsignal_new(mmpd->base, SIGINT, mmpd_signal, NULL);
	evsignal_add(ev_term, NULL);
	evsignal_add(ev_int, NULL);
	log_ring_init(cmd_syslog_sink);
	syslog_remote_init();
	worker_init();
	control_listen(mmpd->base, &control_ops);
	if (cluster_init(&cause) == -1)
		fatalx("%s", cause);
	if ((v = db_config_get(mmpd->db, DB_XMPP_ENABLED)) != NULL &&
	    strcmp(v, "1") == 0 && xmpp_start(&cause) == -1) {
		log_warnx("XMPP is enabled but cannot be served: %s",
		    cause);
		free(cause);
	}
	free(v);
	if (ready != -1)
		mmpd_ready(ready, verbose);
	log_info("mmpd %s ready on %s, data in %s", MMP_VERSION,
	    mmpd->sockpath, mmpd->datadir);

	event_base_dispatch(mmpd->base);

	/* A second signal during cleanup must not cut it short. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	log_info("mmpd %s stopped", MMP_VERSION);
	cluster_free();		/* its libuv events first: they would spin */
	xmpp_free();
	control_free();
	cmd_syslog_stop();
	log_ring_free();
	syslog_remote_free();
	router_free();
	worker_free();
	if (shutdown_timer != NULL)
		event_free(shutdown_timer);
	event_free(ev_term);
	event_free(ev_int);
	db_close(mmpd->db);
	event_base_free(mmpd->base);
	free(mmpd->datadir);
	free(mmpd->filesdir);
	free(mmpd->sockpath);
	free(mmpd);
	mmpd_pidfile_remove();
	return (0);
}
