/*
 * Small helpers shared by mmp and mmpd.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmdtab.h"
#include "util.h"
#include "xmalloc.h"

/*
 * Split a command line into words. Blanks separate words; single or double
 * quotes keep blanks inside a word. Returns 0 and an allocated argv (free
 * with util_free_argv), or -1 with *cause set for an unbalanced quote or
 * too many words.
 */
int
util_split(const char *line, char ***argvp, int *argcp, char **cause)
{
	char	**argv = NULL, *word;
	size_t	 len, n;
	int	 argc = 0, quote;

	*cause = NULL;
	word = xmalloc(strlen(line) + 1);
	for (;;) {
		while (*line == ' ' || *line == '\t' || *line == '\n' ||
		    *line == '\r')
			line++;
		if (*line == '\0')
			break;
		len = 0;
		quote = 0;
		n = 0;
		while (*line != '\0') {
			if (quote) {
				if (*line == quote)
					quote = 0;
				else
					word[len++] = *line;
			} else if (*line == '"' || *line == '\'') {
				quote = *line;
				n++;
			} else if (*line == ' ' || *line == '\t' ||
			    *line == '\n' || *line == '\r')
				break;
			else
				word[len++] = *line;
			line++;
		}
		if (quote) {
			*cause = xstrdup("unbalanced quote");
			goto fail;
		}
		if (argc == CMD_MAXWORDS) {
			xasprintf(cause, "too many words (at most %d)",
			    CMD_MAXWORDS);
			goto fail;
		}
		word[len] = '\0';
		argv = xreallocarray(argv, argc + 2, sizeof(*argv));
		argv[argc++] = xstrdup(word);
		argv[argc] = NULL;
	}
	free(word);
	*argvp = argv;
	*argcp = argc;
	return (0);
fail:
	free(word);
	util_free_argv(argv, argc);
	return (-1);
}

/* Free an argv from util_split. */
void
util_free_argv(char **argv, int argc)
{
	int	 i;

	if (argv == NULL)
		return;
	for (i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
}

/*
 * Remove a directory that holds only files, and the files; one that is
 * absent is fine. -1 (errno set) if something could not be removed.
 */
int
util_rmdir_flat(const char *dir)
{
	DIR		*d;
	struct dirent	*e;
	char		*p;
	int		 rc = 0, saved = 0;

	if ((d = opendir(dir)) == NULL)
		return (errno == ENOENT ? 0 : -1);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		xasprintf(&p, "%s/%s", dir, e->d_name);
		if (unlink(p) == -1) {
			saved = errno;
			rc = -1;
		}
		free(p);
	}
	closedir(d);
	if (rmdir(dir) == -1 && rc == 0) {
		saved = errno;
		rc = -1;
	}
	if (rc == -1)
		errno = saved;
	return (rc);
}
