/*
 * Replay a fuzz target's corpus without libFuzzer: run every file named
 * on the command line, or every file in a directory named there, through
 * LLVMFuzzerTestOneInput once. Built with the ordinary compiler (and the
 * sanitizers under SAN=1), so make check keeps each crash that was fixed
 * fixed. A crash aborts with the sanitizer's report; -v names each file
 * before it runs, so the last one named is the culprit.
 *
 *   replay_<target> [-v] corpus-dir-or-file ...
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define REPLAY_MAX_INPUT	(1024 * 1024)	/* as libFuzzer's -max_len */

static int	 replay_verbose;

static int	 replay_file(const char *);
static int	 replay_dir(const char *, size_t *);
static int	 replay_cmp(const void *, const void *);

/* Run one file through the target. 0, or -1 if it cannot be read. */
static int
replay_file(const char *path)
{
	FILE		*f;
	uint8_t		*buf, *in;
	size_t		 n;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return (-1);
	}
	if ((buf = malloc(REPLAY_MAX_INPUT + 1)) == NULL) {
		fprintf(stderr, "replay: out of memory\n");
		exit(1);
	}
	n = fread(buf, 1, REPLAY_MAX_INPUT + 1, f);
	if (ferror(f) || n > REPLAY_MAX_INPUT) {
		fprintf(stderr, "replay: %s: unreadable or over %d bytes\n",
		    path, REPLAY_MAX_INPUT);
		free(buf);
		fclose(f);
		return (-1);
	}
	fclose(f);
	/* An exact-size copy, so that the sanitizers catch reads past it. */
	if ((in = malloc(n == 0 ? 1 : n)) == NULL) {
		fprintf(stderr, "replay: out of memory\n");
		exit(1);
	}
	memcpy(in, buf, n);
	free(buf);
	if (replay_verbose)
		fprintf(stderr, "replay: %s (%zu bytes)\n", path, n);
	LLVMFuzzerTestOneInput(in, n);
	free(in);
	return (0);
}

/* Order names so that runs are repeatable. */
static int
replay_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

/* Run every regular file in dir; count them in *n. */
static int
replay_dir(const char *dir, size_t *n)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 sb;
	char		**names = NULL, *path;
	size_t		 nnames = 0, i;
	int		 rc = 0;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return (-1);
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		names = realloc(names, (nnames + 1) * sizeof(*names));
		if (names == NULL || (names[nnames] = strdup(de->d_name)) ==
		    NULL) {
			fprintf(stderr, "replay: out of memory\n");
			exit(1);
		}
		nnames++;
	}
	closedir(d);
	qsort(names, nnames, sizeof(*names), replay_cmp);
	for (i = 0; i < nnames; i++) {
		if (asprintf(&path, "%s/%s", dir, names[i]) == -1) {
			fprintf(stderr, "replay: out of memory\n");
			exit(1);
		}
		if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
			if (replay_file(path) == -1)
				rc = -1;
			else
				(*n)++;
		}
		free(path);
		free(names[i]);
	}
	free(names);
	return (rc);
}

/* Replay every file and directory named. */
int
main(int argc, char *argv[])
{
	struct stat	 sb;
	size_t		 n = 0;
	int		 i, rc = 0;

	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		replay_verbose = 1;
		argc--;
		argv++;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: replay [-v] corpus-dir-or-file ...\n");
		return (2);
	}
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &sb) == -1) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
			    strerror(errno));
			rc = 1;
		} else if (S_ISDIR(sb.st_mode)) {
			if (replay_dir(argv[i], &n) == -1)
				rc = 1;
		} else if (replay_file(argv[i]) == -1)
			rc = 1;
		else
			n++;
	}
	printf("replay: %zu inputs run%s\n", n, rc ? ", some unreadable" : "");
	return (rc);
}
