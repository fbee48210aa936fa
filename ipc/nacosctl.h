/* nacosctl: internal interface between the CLI's files (main and argument
 * parsing in nacosctl.c, output in nacosctl_out.c, commands in
 * nacosctl_cmd.c). Not part of the nc_ipc library. */
#ifndef NACOSCTL_H
#define NACOSCTL_H

#include "nc_ipc.h"

#include <stdio.h>

enum { CTL_EXIT_AGENT = 1, CTL_EXIT_USAGE = 2, CTL_EXIT_UNREACHABLE = 3 };

/* Everything a command line may carry; each command accepts a subset.
 * Strings point into argv; meta is owned (freed by main). */
typedef struct ctl_args {
  const char *socket;
  int json;
  int timeout_ms;
  const char *group, *ns, *cluster, *file, *cas;
  double weight;
  int have_weight, healthy_only, help;
  cJSON *meta;
  const char *pos[8];
  int npos;
} ctl_args;

extern const char *const ctl_prog;

/* Prints "nacosctl: <fmt with arg>" and the command's usage to stderr;
 * returns CTL_EXIT_USAGE. cmd NULL = general usage. */
int ctl_usage_error(const char *cmd, const char *fmt, const char *arg);

/* Output (stdout, flushed). */
void ctl_print_json_line(const cJSON *o);
void ctl_print_kv_block(const cJSON *o);
void ctl_print_hosts(const cJSON *hosts);
void ctl_print_config_state(const cJSON *o, const char *data_id);
void ctl_now_text(char *buf, size_t len);

/* Connects and says hello; 0 or an exit code after printing why. */
int ctl_open_agent(const ctl_args *a, nc_ipc **out);

/* Commands: each returns the process exit code. */
int ctl_cmd_status(nc_ipc *c, const ctl_args *a);
int ctl_cmd_register(nc_ipc *c, const ctl_args *a);
int ctl_cmd_instances(nc_ipc *c, const ctl_args *a);
int ctl_cmd_watch(nc_ipc *c, const ctl_args *a);
int ctl_cmd_config(nc_ipc *c, const char *sub, const ctl_args *a);

#endif
