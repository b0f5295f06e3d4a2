/*
 * The command matcher, completion and help, all driven by cmds.def.
 */
#ifndef CMDTAB_H
#define CMDTAB_H

#include <stddef.h>

#define CF_STATE	0x01	/* changes stored state */
#define CF_SECRET	0x02	/* asks for a secret */
#define CF_CONFIRM	0x04	/* asks for confirmation */
#define CF_LOCAL	0x08	/* answered by the shell */
#define CF_AUDIT	0x10	/* the audit role may run it */
#define CF_CRYPTO	0x20	/* the crypto-admin role may run it */
#define CF_FOLLOW	0x40	/* runs until interrupted (Ctrl-C) */
#define CF_HIDDEN	0x80	/* for the shell's own use: not in help,
				   completion or "possible:" lists */

/*
 * Roles of the account behind a control connection, a set of bits. Each
 * comes from membership of a system group; root is an admin.
 */
#define ROLE_ADMIN	0x01	/* every command */
#define ROLE_CRYPTO	0x02	/* CF_CRYPTO commands */
#define ROLE_AUDIT	0x04	/* CF_AUDIT commands */
#define ROLE_ALL	(ROLE_ADMIN | ROLE_CRYPTO | ROLE_AUDIT)
#define ROLE_COUNT	3

#define ROLE_GROUP_ADMIN	"mmp-admin"
#define ROLE_GROUP_CRYPTO	"mmp-crypto"
#define ROLE_GROUP_AUDIT	"mmp-audit"

#define CMD_MAXWORDS	64	/* words in one command line */

/* The commands of cmds.def in its order (the handler column is unused). */
enum cmd_id {
#define CMD(id, pattern, flags, handler, help) CMD_##id,
#include "cmds.def"
#undef CMD
	CMD__COUNT
};

/* Result codes of cmdtab_match. */
#define CMDTAB_OK		0
#define CMDTAB_UNKNOWN		1	/* a word matches nothing */
#define CMDTAB_AMBIGUOUS	2	/* a prefix matches several words */
#define CMDTAB_BADARG		3	/* an argument has the wrong form */
#define CMDTAB_INCOMPLETE	4	/* more words are needed */
#define CMDTAB_TOOMANY		5	/* words left over */

/*
 * A matched command. words[] are the full words (literals from the table,
 * arguments from the input); args[] are the arguments alone. Both borrow
 * from the table and from the argv given to cmdtab_match.
 */
struct cmd_match {
	enum cmd_id	 id;
	int		 flags;
	int		 nwords;
	const char	*words[CMD_MAXWORDS];
	int		 nargs;
	const char	*args[CMD_MAXWORDS];
};

/* Where cmdtab_help sends each line (the line is borrowed). */
typedef void (*cmdtab_print_cb)(void *, const char *);

/*
 * Functions that take a char ** set it, on failure, to a one-line message
 * for the user that the caller frees. A const char * return is borrowed
 * from the table; a char * or char ** return belongs to the caller.
 */

/* Match argv: CMDTAB_OK and *m (borrowing argv), or why not and *cause. */
int		 cmdtab_match(int, char **, struct cmd_match *, char **);
/* The sorted words that may follow argv and start with partial, *n. */
char		**cmdtab_complete(int, char **, const char *, size_t *);
/* Free a list from cmdtab_complete or mmp_store_names. */
void		 cmdtab_free_list(char **, size_t);
/* Print the help of the commands starting with argv; lines, or -1. */
int		 cmdtab_help(int, char **, cmdtab_print_cb, void *, char **);
/* The pattern of a command as written in cmds.def. */
const char	*cmdtab_pattern(enum cmd_id);
/* The one-line help of a command. */
const char	*cmdtab_helptext(enum cmd_id);
/* The literal words of a command ("xmpp callbridge add"). */
const char	*cmdtab_name(enum cmd_id);
/* The CF_ flags of a command. */
int		 cmdtab_flags(enum cmd_id);
/* The pattern as users read it (labels, no types), allocated. */
char		*cmdtab_usage(enum cmd_id);
/* Check a value against a type of the table (type, value): 0 or -1. */
int		 cmdtab_check_arg(const char *, const char *, char **);
/* Whether an account holding the ROLE_ set may run a command. */
int		 cmdtab_allowed(enum cmd_id, int);
/* The ROLE_ set that may run a command. */
int		 cmdtab_roles_of(enum cmd_id);
/* A ROLE_ set in words, the last two joined by the string; allocated. */
char		*cmdtab_roles_str(int, const char *);
/* The ROLE_ bit of the i-th role (0 <= i < ROLE_COUNT). */
int		 cmdtab_role_bit(int);
/* The name of the i-th role. */
const char	*cmdtab_role_name(int);
/* The system group that grants the i-th role. */
const char	*cmdtab_role_group(int);
/* Whether a visible command takes an argument of the type after argv. */
int		 cmdtab_wants(int, char **, const char *);

#endif /* CMDTAB_H */
