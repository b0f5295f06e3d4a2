/*
 * mmp: the admin shell. One command from the command line, a batch from
 * a pipe, or an interactive session on a terminal.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmdtab.h"
#include "mmp.h"
#include "util.h"
#include "xmalloc.h"

const char	*sockpath;

static __dead void usage(void);
static int	 mmp_batch(void);
static void	 mmp_help_line(void *, const char *);
static void	 mmp_batch_err(void *, const char *);
static void	 mmp_capture(void *, const char *);
static void	 mmp_ignore(void *, const char *);

static const struct client_io stdio_io = {
	client_print_out, client_print_err, client_input, client_print_part,
	NULL
};

static __dead void
usage(void)
{
	fprintf(stderr, "usage: mmp [-s socket] [command words ...]\n");
	exit(EXIT_PARSE);
}

/* Print one help line. */
static void
mmp_help_line(void *arg, const char *line)
{
	(void)arg;
	printf("%s\n", line);
}

/* Keep the first line of output. */
static void
mmp_capture(void *arg, const char *line)
{
	char	**dst = arg;

	if (*dst == NULL)
		*dst = xstrdup(line);
}

/* Drop a line. */
static void
mmp_ignore(void *arg, const char *line)
{
	(void)arg;
	(void)line;
}

/*
 * Run one command given as words. Local commands (help) are answered
 * here; everything else is checked against the table, then sent to the
 * daemon. where is "line N: " in batch mode, else "". Returns the exit
 * status; exit and quit return -1.
 */
int
mmp_command(int argc, char **argv, const char *where)
{
	struct cmd_match	 m;
	struct client_io	 io = stdio_io;
	char			*cause;
	int			 rc;

	if (cmdtab_match(argc, argv, &m, &cause) != CMDTAB_OK) {
		fprintf(stderr, "mmp: %s%s\n", where, cause);
		free(cause);
		return (EXIT_PARSE);
	}
	switch (m.id) {
	case CMD_HELP:
		if (cmdtab_help(m.nargs, (char **)(uintptr_t)m.args,
		    mmp_help_line, NULL, &cause) == -1) {
			fprintf(stderr, "mmp: %shelp: %s\n", where, cause);
			free(cause);
			return (EXIT_PARSE);
		}
		fflush(stdout);
		return (EXIT_OK);
	case CMD_EXIT:
	case CMD_QUIT:
		return (-1);
	default:
		break;
	}
	if (*where != '\0') {
		io.err = mmp_batch_err;
		io.arg = (void *)(uintptr_t)where;
	}
	rc = client_run(sockpath, argc, argv, &io);
	return (rc);
}

/* In batch mode every error line says which input line it came from. */
static void
mmp_batch_err(void *arg, const char *line)
{
	const char	*where = arg;

	fflush(stdout);
	if (strncmp(line, "mmp: ", 5) == 0)
		line += 5;
	fprintf(stderr, "mmp: %s%s\n", where, line);
}

/*
 * The host name for the prompt: what the daemon has (set with the
 * hostname command), else this machine's.
 */
void
mmp_hostname(char *buf, size_t len)
{
	struct client_io	 io = { mmp_capture, mmp_ignore, client_input,
				    NULL, NULL };
	char			*name = NULL, *argv[] = { "hostname", NULL };

	io.arg = &name;
	if (client_run(sockpath, 1, argv, &io) == EXIT_OK && name != NULL)
		strlcpy(buf, name, len);
	else if (gethostname(buf, len) == -1)
		strlcpy(buf, "mmp", len);
	buf[len - 1] = '\0';
	free(name);
}

/*
 * Batch mode: one command a line, blank lines and # comments skipped,
 * stop at the first failure and name its line.
 */
static int
mmp_batch(void)
{
	char	*line = NULL, *cause, **argv, where[32];
	size_t	 cap = 0;
	int	 argc, lineno = 0, rc = EXIT_OK;
	ssize_t	 n;

	while ((n = getline(&line, &cap, stdin)) != -1) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		snprintf(where, sizeof(where), "line %d: ", lineno);
		if (util_split(line, &argv, &argc, &cause) == -1) {
			fprintf(stderr, "mmp: %s%s\n", where, cause);
			free(cause);
			rc = EXIT_PARSE;
			break;
		}
		if (argc == 0 || argv[0][0] == '#') {
			util_free_argv(argv, argc);
			continue;
		}
		rc = mmp_command(argc, argv, where);
		util_free_argv(argv, argc);
		if (rc == -1) {
			rc = EXIT_OK;
			break;
		}
		if (rc != EXIT_OK) {
			fprintf(stderr, "mmp: stopped at line %d\n", lineno);
			break;
		}
	}
	free(line);
	return (rc);
}

int
main(int argc, char *argv[])
{
	int	 ch, rc;

	if ((sockpath = getenv("MMP_SOCKET")) == NULL || *sockpath == '\0')
		sockpath = MMP_SOCKET;
	while ((ch = getopt(argc, argv, "+s:")) != -1) {
		switch (ch) {
		case 's':
			sockpath = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;

	if (argc > 0) {
		rc = mmp_command(argc, argv, "");
		return (rc == -1 ? EXIT_OK : rc);
	}
	if (isatty(STDIN_FILENO))
		return (edit_loop());
	return (mmp_batch());
}
