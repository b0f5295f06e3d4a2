/*
 * mmp: the admin shell.
 */
#ifndef MMP_H
#define MMP_H

#include <signal.h>
#include <stdio.h>

#include "compat.h"

#define MMP_SOCKET	"/run/mmp/mmpd.sock"
#define MMP_NAMES_MAX	256	/* file-store names TAB completion offers */

/* mmp -S, inside the SSH root: where the store is, what serves SFTP. */
#define MMP_SSH_STORE	"/files"
#define MMP_SFTP_SERVER	"/usr/lib/openssh/sftp-server"
#define MMP_SFTP_UMASK	"0027"		/* uploads: owner rw, group r */

/* Exit statuses. */
#define EXIT_OK		0
#define EXIT_FAILED	1
#define EXIT_PARSE	2
#define EXIT_NODAEMON	3

/*
 * Where a command's answer goes. out and err get each line without its
 * newline; input asks the user and returns an allocated line without its
 * newline, or NULL at end of input; part (may be NULL) gets progress text
 * that is not a whole line.
 */
struct client_io {
	void	(*out)(void *, const char *);
	void	(*err)(void *, const char *);
	char	*(*input)(void *, const char *, int);
	void	(*part)(void *, const char *);
	void	*arg;
};

struct cmd_match;
struct json_doc;

/* mmp.c */
extern const char	*sockpath;
extern int		 jflag;
extern volatile sig_atomic_t mmp_interrupted;
extern int		 mmp_prompts;
int		 mmp_command(int, char **, const char *);
void		 mmp_hostname(char *, size_t);
char		**mmp_store_names(const char *, size_t *);

/* client.c */
int		 client_run(const char *, int, char **,
		    const struct client_io *);
char		*client_read_secret(const char *, int);
void		 client_print_out(void *, const char *);
void		 client_print_err(void *, const char *);
void		 client_print_part(void *, const char *);
char		*client_input(void *, const char *, int);
void		 client_prompt_stream(FILE *);

/* json.c */
struct json_doc	*json_new(const struct cmd_match *, const char *);
void		 json_out(void *, const char *);
void		 json_err(void *, const char *);
void		 json_part(void *, const char *);
void		 json_finish(struct json_doc *, int, FILE *);
void		 json_error(FILE *, const char *, const char *);

/* edit.c */
int		 edit_loop(void);

#endif /* MMP_H */
