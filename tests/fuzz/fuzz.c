/*
 * Shared by the fuzz targets: fuzz_fail for broken invariants, and
 * logging that is quiet, so that millions of runs do not
 * drown the sanitizers' reports, except that fatal() and fatalx() abort.
 * The daemon must never reach them on input from outside, so a fuzzer
 * that does has found a bug and gets a stack trace.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "log.h"

/* Nothing to set up. */
void
log_init(const char *procname, int tostderr, int verbose)
{
	(void)procname;
	(void)tostderr;
	(void)verbose;
}

/* Verbosity does not matter: nothing is logged. */
void
log_setverbose(int verbose)
{
	(void)verbose;
}

/* Dropped. */
void
log_warn(const char *fmt, ...)
{
	(void)fmt;
}

/* Dropped. */
void
log_warnx(const char *fmt, ...)
{
	(void)fmt;
}

/* Dropped. */
void
log_info(const char *fmt, ...)
{
	(void)fmt;
}

/* Dropped. */
void
log_debug(const char *fmt, ...)
{
	(void)fmt;
}

/* Say why, then abort: input reached a fatal error. */
void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	fputs("fatal: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

/* As fatal(). */
void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	fputs("fatalx: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

/* An invariant of a target does not hold for this input. */
void
fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
	abort();
}
