/*
 * mmpd: keeps the appliance's configuration in SQLite and answers the
 * mmp shell on a UNIX socket, all from one libevent loop.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "cluster.h"
#include "db.h"
#include "log.h"
#include "mmpd.h"
#include "xmalloc.h"
#include "xmpp.h"

struct mmpd	*mmpd;
static struct event *shutdown_timer;

static __dead void usage(void);
static void	 mmpd_mkdir(const char *);
static char	*mmpd_abspath(const char *);
static void	 mmpd_signal(evutil_socket_t, short, void *);
static void	 mmpd_shutdown_timeout(evutil_socket_t, short, void *);
static void	 mmpd_cluster_down(void);
static void	 mmpd_rlimit(void);
static void	 mmpd_event_log(int, const char *);

static __dead void
usage(void)
{
	fprintf(stderr, "usage: mmpd [-dnv] [-D datadir] [-s socket]\n");
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
	xmpp_stop("system-shutdown");
	cluster_shutdown(mmpd_cluster_down);
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
void
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
	const char	*datadir = MMPD_DATADIR, *sockpath;
	char		*dbpath, *cause, *v;
	int		 ch, debug = 0, check = 0, verbose = 0;

	if ((sockpath = getenv("MMP_SOCKET")) == NULL || *sockpath == '\0')
		sockpath = MMPD_SOCKET;
	while ((ch = getopt(argc, argv, "dnvD:s:")) != -1) {
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

	/* The socket first: a live mmpd there must find its data untouched. */
	signal(SIGPIPE, SIG_IGN);
	mmpd_rlimit();
	control_init(mmpd->sockpath);
	umask(077);
	mmpd_mkdir(mmpd->datadir);
	mmpd_mkdir(mmpd->filesdir);
	if ((mmpd->db = db_open(dbpath, &cause)) == NULL) {
		unlink(mmpd->sockpath);
		fatalx("%s", cause);
	}
	free(dbpath);
	if (!debug) {
		if (daemon(0, 0) == -1)
			fatal("daemon");
		log_init("mmpd", 0, verbose);
	}
	if ((mmpd->base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	ev_term = evsignal_new(mmpd->base, SIGTERM, mmpd_signal, NULL);
	ev_int = evsignal_new(mmpd->base, SIGINT, mmpd_signal, NULL);
	evsignal_add(ev_term, NULL);
	evsignal_add(ev_int, NULL);
	worker_init();
	control_listen();
	if (cluster_init(&cause) == -1)
		fatalx("%s", cause);
	if ((v = db_config_get(mmpd->db, DB_XMPP_ENABLED)) != NULL &&
	    strcmp(v, "1") == 0 && xmpp_start(&cause) == -1) {
		log_warnx("mmpd: XMPP is enabled but cannot be served: %s",
		    cause);
		free(cause);
	}
	free(v);
	log_info("mmpd %s ready on %s, data in %s", MMP_VERSION,
	    mmpd->sockpath, mmpd->datadir);

	event_base_dispatch(mmpd->base);

	/* A second signal during cleanup must not cut it short. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	log_info("mmpd: stopped");
	cluster_free();		/* its libuv events first: they would spin */
	xmpp_free();
	control_free();
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
	return (0);
}
