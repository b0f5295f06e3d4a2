/*
 * Logging: stderr when in the foreground, syslog otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static int	 log_tostderr = 1;
static int	 log_verbose;
static const char *log_procname = "mmp";

static void	 log_vlog(int, const char *, va_list)
		    __attribute__((__format__(printf, 2, 0)));
static void	 log_vwarn(int, const char *, va_list)
		    __attribute__((__format__(printf, 2, 0)));

/* Set up logging; tostderr selects stderr over syslog. */
void
log_init(const char *procname, int tostderr, int verbose)
{
	log_procname = procname;
	log_tostderr = tostderr;
	log_verbose = verbose;
	if (!tostderr)
		openlog(procname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	tzset();
}

/* Change the verbosity after start-up. */
void
log_setverbose(int verbose)
{
	log_verbose = verbose;
}

/* Write one formatted line to the chosen sink. */
static void
log_vlog(int pri, const char *fmt, va_list ap)
{
	if (log_tostderr) {
		fprintf(stderr, "%s: ", log_procname);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		fflush(stderr);
	} else
		vsyslog(pri, fmt, ap);
}

/* Log with the current errno appended. */
static void
log_vwarn(int pri, const char *fmt, va_list ap)
{
	char	 buf[1024];
	int	 saved = errno;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (log_tostderr)
		fprintf(stderr, "%s: %s: %s\n", log_procname, buf,
		    strerror(saved));
	else
		syslog(pri, "%s: %s", buf, strerror(saved));
	errno = saved;
}

/* Warning with errno. */
void
log_warn(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwarn(LOG_ERR, fmt, ap);
	va_end(ap);
}

/* Warning without errno. */
void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_ERR, fmt, ap);
	va_end(ap);
}

/* Informational message. */
void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

/* Debug message, shown only with -v. */
void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

/* Log with errno and exit: start-up failures and broken invariants only. */
void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwarn(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

/* Log and exit. */
void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}
