/* nc_opts: one table of options drives the command line, the config file,
 * --help and --show-config (redis's static_configs idea).
 *
 * Config file syntax: `name = value` per line, `#` starts a comment, the
 * names are the long option names without the leading dashes. Precedence:
 * defaults < config file (--config FILE) < command line. */
#ifndef NC_OPTS_H
#define NC_OPTS_H

#include <stddef.h>

/* NC_OPT_CHOICE is a string (char* field) that must be one of the words
 * '|'-separated at the start of its help text, up to the first space
 * ("error|warn|info|debug|trace"), compared case-insensitively and stored
 * as given. The list lives in the help so --help shows exactly what is
 * accepted and the table keeps its shape. */
typedef enum { NC_OPT_STR, NC_OPT_INT, NC_OPT_BOOL, NC_OPT_DOUBLE, NC_OPT_CHOICE } nc_opt_type;

typedef struct nc_opt {
  const char *name;   /* "grpc-port": --grpc-port on the CLI, grpc-port in files */
  nc_opt_type type;
  const char *defval; /* default in string form; NULL = unset (strings only) */
  size_t offset;      /* offsetof() the field in the caller's config struct:
                         char* for STR and CHOICE, long for INT, int for
                         BOOL, double */
  long min, max;      /* inclusive range for INT (ignored when min > max) */
  const char *help;
} nc_opt;

enum { NC_OPTS_CONTINUE = 0, NC_OPTS_EXIT = 1 };

/* Rules that span options or need parsing beyond one value (a server
 * list, derived ports). Runs after every value is set and before
 * --show-config prints, so --show-config refuses what start-up refuses.
 * Prints its own "prog: ..." error and returns 0 or a negative NC_E*; may
 * fill derived fields of cfg. */
typedef int (*nc_opts_check_fn)(void *cfg, const char *prog);

/* Fills cfg from defaults, the optional --config file and argv. Returns
 * NC_OPTS_CONTINUE, NC_OPTS_EXIT after printing --help / --version /
 * --show-config output, or a negative NC_E* after printing a clear error
 * to stderr (every value is checked against its type, range or choices,
 * then check runs; --show-config prints only a configuration that passed).
 * --version prints "<prog> <NC_VERSION>". STR and CHOICE fields become
 * heap strings owned by cfg: release with nc_opts_free. check may be NULL
 * (nc_opts_parse). */
int nc_opts_parse_ex(const nc_opt *table, size_t n, void *cfg, int argc, char **argv,
                     const char *prog, const char *summary, nc_opts_check_fn check);
int nc_opts_parse(const nc_opt *table, size_t n, void *cfg, int argc, char **argv,
                  const char *prog, const char *summary);

/* Sets one option from its string form (used by the parser and by tests). */
int nc_opts_set(const nc_opt *table, size_t n, void *cfg, const char *name, const char *value);

/* Loads a config file into cfg; unknown names and bad values are errors. */
int nc_opts_load_file(const nc_opt *table, size_t n, void *cfg, const char *path);

void nc_opts_print_help(const nc_opt *table, size_t n, const char *prog, const char *summary);
void nc_opts_print_config(const nc_opt *table, size_t n, const void *cfg);
void nc_opts_free(const nc_opt *table, size_t n, void *cfg);

#endif
