/* nacosctl: internal interface between the CLI's files (main and argument
 * parsing in nacosctl.c, output in nacosctl_out.c, commands in
 * nacosctl_cmd.c). Not part of the nc_ipc library. */
#ifndef NACOSCTL_H
#define NACOSCTL_H

#include "nc_ipc.h"
#include "nc_ipc_ops.h"

#include <stdio.h>

/* 4: a server refused the credentials or the operation (HTTP 401/403). */
enum { CTL_EXIT_AGENT = 1, CTL_EXIT_USAGE = 2, CTL_EXIT_UNREACHABLE = 3, CTL_EXIT_AUTH = 4 };

/* Everything a command line may carry; each command accepts a subset.
 * Strings point into argv; meta is owned (freed by main). */
typedef struct ctl_args {
  const char *socket;
  int json;
  int timeout_ms;
  const char *group, *ns, *cluster, *file, *cas, *data_id;
  const char *server; /* cluster, user, ...: a nacosd main port, [http[s]://]HOST:PORT */
  /* HTTPS to that port (--tls or an https:// server): the CAs to trust
   * (NULL = the system store), the name to verify (NULL = the host), a
   * client certificate and its key */
  int tls;
  const char *tls_ca, *tls_server_name, *tls_cert, *tls_key;
  /* user / role / permission / login: who logs in, and files holding
   * secrets (never on the command line) */
  const char *username, *password_file, *token_file, *new_password_file;
  double weight;
  int have_weight, healthy_only, help, once;
  long long version; /* a history id: config history --version (0 = list), config rollback ID */
  /* register / deregister: the instance address from IP PORT or IP:PORT
   * (ip points into argv or ipbuf). */
  const char *ip;
  int port;
  char ipbuf[64];
  cJSON *meta;
  const char *pos[8];
  int npos;
} ctl_args;

extern const char *const ctl_prog;

/* Prints "nacosctl: <fmt with arg>" and the command's usage to stderr;
 * returns CTL_EXIT_USAGE. cmd NULL = general usage. */
int ctl_usage_error(const char *cmd, const char *fmt, const char *arg);

/* Reports a failed request on stderr ("nacosctl: what: CODE: message") and
 * returns the exit code for err (1 agent error, 2 local check, 3 link). */
int ctl_fail(nc_ipc *c, const char *what, int err);

/* Output (stdout, flushed). */
void ctl_print_json_line(const cJSON *o);
void ctl_print_kv_block(const cJSON *o);
void ctl_print_hosts(const cJSON *hosts);
/* An aligned table of rows (array of objects): one column per key, headed
 * by heads[]; numbers in keys named "last*" print as UTC times (ms since
 * the epoch). empty is printed when there is no row. */
void ctl_print_table(const cJSON *rows, const char *const *heads, const char *const *keys, int ncol,
                     const char *empty);
void ctl_print_config_state(const cJSON *o, const char *data_id);
void ctl_now_text(char *buf, size_t len);

/* Connects and says hello; 0 or an exit code after printing why. */
int ctl_open_agent(const ctl_args *a, nc_ipc **out);

/* Commands: each returns the process exit code. nacosctl_cmd.c holds the
 * long-running ones and config get/put/rm, nacosctl_list.c the listings
 * and the one-shot instance commands. */
typedef int (*ctl_cmd_fn)(nc_ipc *c, const ctl_args *a);
int ctl_cmd_status(nc_ipc *c, const ctl_args *a);
int ctl_cmd_register(nc_ipc *c, const ctl_args *a);
int ctl_cmd_deregister(nc_ipc *c, const ctl_args *a);
int ctl_cmd_instances(nc_ipc *c, const ctl_args *a);
int ctl_cmd_services(nc_ipc *c, const ctl_args *a);
int ctl_cmd_watch(nc_ipc *c, const ctl_args *a);
int ctl_cmd_config_get(nc_ipc *c, const ctl_args *a);
int ctl_cmd_config_put(nc_ipc *c, const ctl_args *a);
int ctl_cmd_config_rm(nc_ipc *c, const ctl_args *a);
int ctl_cmd_config_list(nc_ipc *c, const ctl_args *a);
int ctl_cmd_config_history(nc_ipc *c, const ctl_args *a);
int ctl_cmd_config_rollback(nc_ipc *c, const ctl_args *a);
int ctl_cmd_config_watch(nc_ipc *c, const ctl_args *a);
/* nacosctl_cluster.c; c is NULL when --server is given (no agent needed). */
int ctl_cmd_cluster(nc_ipc *c, const ctl_args *a);

/* nacosctl_auth.c: nacosd's user administration over HTTP; c is NULL
 * when --server is given. */
int ctl_cmd_login(nc_ipc *c, const ctl_args *a);
int ctl_cmd_user_list(nc_ipc *c, const ctl_args *a);
int ctl_cmd_user_create(nc_ipc *c, const ctl_args *a);
int ctl_cmd_user_password(nc_ipc *c, const ctl_args *a);
int ctl_cmd_user_delete(nc_ipc *c, const ctl_args *a);
int ctl_cmd_user_init_admin(nc_ipc *c, const ctl_args *a);
int ctl_cmd_role_list(nc_ipc *c, const ctl_args *a);
int ctl_cmd_role_add(nc_ipc *c, const ctl_args *a);
int ctl_cmd_role_delete(nc_ipc *c, const ctl_args *a);
int ctl_cmd_perm_list(nc_ipc *c, const ctl_args *a);
int ctl_cmd_perm_add(nc_ipc *c, const ctl_args *a);
int ctl_cmd_perm_delete(nc_ipc *c, const ctl_args *a);

/* The instance of a register / deregister command line. */
void ctl_instance_from_args(const ctl_args *a, nc_ipc_instance *in);

#endif
