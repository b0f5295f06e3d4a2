/*
 * Slow work off the event loop: each job runs in a thread of its own and
 * reports back through a pipe the loop watches, so that its completion
 * callback runs on the loop thread like everything else.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "mmpd.h"
#include "xmalloc.h"

struct worker_job {
	void		(*work)(void *);
	void		(*done)(void *);
	void		*arg;
};

static int		 worker_pipe[2] = { -1, -1 };
static struct event	*worker_ev;
static int		 worker_running;

static void	*worker_thread(void *);
static void	 worker_read(evutil_socket_t, short, void *);

/* Set up the pipe jobs report through. */
void
worker_init(void)
{
	if (pipe2(worker_pipe, O_CLOEXEC) == -1)
		fatal("worker_init: pipe");
	evutil_make_socket_nonblocking(worker_pipe[0]);
	worker_ev = event_new(mmpd->base, worker_pipe[0], EV_READ | EV_PERSIST,
	    worker_read, NULL);
	if (worker_ev == NULL || event_add(worker_ev, NULL) == -1)
		fatalx("worker_init: event_new failed");
}

/* Free the pipe and its event; jobs still running are abandoned. */
void
worker_free(void)
{
	if (worker_ev != NULL)
		event_free(worker_ev);
	worker_ev = NULL;
	if (worker_running == 0) {
		close(worker_pipe[0]);
		close(worker_pipe[1]);
	}
}

/* The thread: do the work, then hand the job back to the loop. */
static void *
worker_thread(void *arg)
{
	struct worker_job	*job = arg;
	ssize_t			 n;

	job->work(job->arg);
	do {
		n = write(worker_pipe[1], &job, sizeof(job));
	} while (n == -1 && errno == EINTR);
	if (n != sizeof(job))
		fatal("worker_thread: cannot report back");
	return (NULL);
}

/* Jobs that finished: run their completion on the loop thread. */
static void
worker_read(evutil_socket_t fd, short what, void *arg)
{
	struct worker_job	*job;
	ssize_t			 n;

	(void)what;
	(void)arg;
	/* Pointers are written whole: a pipe write under PIPE_BUF is atomic. */
	while ((n = read(fd, &job, sizeof(job))) == sizeof(job)) {
		worker_running--;
		job->done(job->arg);
		free(job);
	}
	if (n == -1 && errno != EAGAIN && errno != EINTR)
		log_warn("worker_read");
}

/*
 * Run work(arg) in a new thread and done(arg) on the loop once it has
 * finished. work must touch nothing the loop owns. -1 if no thread.
 */
int
worker_start(void (*work)(void *), void (*done)(void *), void *arg)
{
	struct worker_job	*job;
	pthread_attr_t		 attr;
	pthread_t		 t;
	int			 rc;

	job = xcalloc(1, sizeof(*job));
	job->work = work;
	job->done = done;
	job->arg = arg;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, worker_thread, job);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		log_warnx("worker_start: pthread_create: %s", strerror(rc));
		free(job);
		return (-1);
	}
	worker_running++;
	return (0);
}

/* How many jobs have not reported back. */
int
worker_busy(void)
{
	return (worker_running);
}
