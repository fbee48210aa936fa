/* nacosctl: operator CLI over the nacos-agent local socket, built only on
 * the public nc_ipc API (like curl's src/ over lib/). This file: usage
 * text, argument parsing and dispatch. Output is aligned text for people
 * by default, one JSON object per line with --json for scripts; errors go
 * to stderr as "nacosctl: OP: CODE: message" with the exit codes of
 * usage_text. */
#include "nacosctl.h"
#include "nacosctl_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef NC_VERSION
#define NC_VERSION "unknown"
#endif

const char *const ctl_prog = "nacosctl";

/* ---- usage ------------------------------------------------------------ */

static const char *const usage_text =
    "usage: nacosctl [--socket PATH] [--json] [--timeout MS] COMMAND [ARGS]\n"
    "\n"
    "Talks to the local nacos-agent over its Unix socket (default\n"
    "$" NC_IPC_SOCKET_ENV " or " NC_IPC_DEFAULT_SOCKET ", the agent's default).\n"
    "Global options may stand anywhere on the line, before or after the command.\n"
    "\n"
    "Commands:\n"
    "  status                        agent state and upstream connection\n"
    "  register SERVICE IP PORT      register an instance and hold it until Ctrl-C\n"
    "  register SERVICE IP PORT --once\n"
    "                                register it and return; the agent holds it until\n"
    "                                deregister (or until the agent stops)\n"
    "  deregister SERVICE IP:PORT    remove an instance (e.g. one registered --once)\n"
    "  instances SERVICE             list a service's instances\n"
    "  services                      list the services of a namespace and group\n"
    "  watch SERVICE                 stream naming changes until Ctrl-C\n"
    "  config get DATA_ID            print a config's content\n"
    "  config put DATA_ID (CONTENT | --file F | -)\n"
    "                                publish a config (- reads stdin)\n"
    "  config rm DATA_ID             remove a config\n"
    "  config list                   list configs (--data-id GLOB to filter)\n"
    "  config history DATA_ID        a config's recorded versions, newest first\n"
    "  config history DATA_ID --version ID\n"
    "                                print one recorded version's content\n"
    "  config rollback DATA_ID ID    publish recorded version ID again\n"
    "  config watch DATA_ID          stream config changes until Ctrl-C\n"
    "  cluster [--server HOST:PORT]  the nacosd cluster's members as a server sees them\n"
    "  login --username U --password-file F\n"
    "                                log in to a server and print the access token\n"
    "  user list|create|password|delete|init-admin\n"
    "  role list|add|delete\n"
    "  permission list|add|delete    nacosd's users, roles and permissions (HTTP, as an\n"
    "                                admin: --username U --password-file F or\n"
    "                                --token-file F; `user --help` for each)\n"
    "  (server commands: --server https://HOST:PORT or --tls for HTTPS, with\n"
    "  --tls-ca F, --tls-server-name N, --tls-cert F --tls-key F; `user --help`)\n"
    "  (IP PORT and IP:PORT are both accepted; IPv6 as [ADDR]:PORT)\n"
    "\n"
    "Global options:\n"
    "  --socket PATH   agent socket\n"
    "  --json          print one JSON object per line instead of text\n"
    "  --timeout MS    per-request timeout (default 5000)\n"
    "  --version       print the version (after `config history`: --version ID\n"
    "                  is that command's history row)\n"
    "  --help          this text; COMMAND --help for a command's options\n"
    "\n"
    "Exit codes: 0 success, 1 the agent returned an error (code on stderr; also\n"
    "NOT_FOUND for config rm of a missing key), 2 usage error, 3 agent\n"
    "unreachable, connection lost, or (status) the agent has no upstream;\n"
    "server commands: 1 the server refused the request, 3 server unreachable\n"
    "or its TLS certificate refused,\n"
    "4 login refused or not permitted (HTTP 401/403).\n";

typedef struct cmd_help {
  const char *name;
  const char *text;
} cmd_help;

/* The HTTPS options of every server command's help. */
#define CTL_TLS                                                                                  \
  "  HTTPS: --server https://HOST:PORT, or --tls (also for the agent's upstream);\n"            \
  "  --tls-ca F: the CAs to trust (default: the system trust store);\n"                         \
  "  --tls-server-name N: the name the certificate must carry (default: HOST; an\n"             \
  "  IP address must be one of its IP SANs); --tls-cert F --tls-key F: a client\n"              \
  "  certificate (nacosd --tls-client-ca), the key chmod 600. Exit 3 when the\n"                \
  "  server's certificate is refused (the reason on stderr).\n"
static const cmd_help helps[] = {
    {"status",
     "usage: nacosctl status\n  Shows whether the agent is connected upstream, to which server,\n"
     "  and how many apps, instances, subscriptions and listeners it holds.\n"
     "  Exit 3 (after printing) while the agent has no upstream connection.\n"},
    {"register",
     "usage: nacosctl register SERVICE (IP PORT | IP:PORT) [--once] [--group G] [--namespace N]\n"
     "                         [--cluster C] [--weight W] [--meta KEY=VALUE ...]\n"
     "  Registers the instance through the agent and keeps it registered until\n"
     "  Ctrl-C or SIGTERM, then deregisters it and exits 0. The instance also\n"
     "  goes away if nacosctl is killed (the agent drops it with the socket).\n"
     "  --once: the agent holds the instance itself and nacosctl returns at once;\n"
     "  it stays until `nacosctl deregister SERVICE IP:PORT` or the agent stops.\n"},
    {"deregister",
     "usage: nacosctl deregister SERVICE (IP:PORT | IP PORT) [--group G] [--namespace N]\n"
     "                           [--cluster C]\n"
     "  Removes the instance (exit 1 with NOT_FOUND if the agent does not hold it).\n"},
    {"instances", "usage: nacosctl instances SERVICE [--group G] [--namespace N] [--healthy-only]\n"
                  "  Lists the service's instances as the agent sees them.\n"},
    {"services", "usage: nacosctl services [--group G] [--namespace N]\n"
                 "  Lists the names of the services in the namespace and group\n"
                 "  (DEFAULT_GROUP unless --group), all pages.\n"},
    {"watch", "usage: nacosctl watch SERVICE [--group G] [--namespace N]\n"
              "  Subscribes and prints the host list now and after every change, until Ctrl-C.\n"},
    {"config get", "usage: nacosctl config get DATA_ID [--group G] [--namespace N]\n"
                   "  Prints the content as stored (text) or {content, md5} (--json).\n"
                   "  Exit 1 with NOT_FOUND if the config does not exist.\n"},
    {"config put", "usage: nacosctl config put DATA_ID (CONTENT | --file F | -) [--cas MD5]\n"
                   "                           [--group G] [--namespace N]\n"
                   "  Publishes the content; with --cas only if the current MD5 matches\n"
                   "  (exit 1 with CONFLICT otherwise).\n"},
    {"config rm", "usage: nacosctl config rm DATA_ID [--group G] [--namespace N]\n"
                  "  Removes the config; exit 1 with NOT_FOUND if it did not exist.\n"},
    {"config list", "usage: nacosctl config list [--data-id GLOB] [--group G] [--namespace N]\n"
                    "  Lists configs, all pages, of every group unless --group is given;\n"
                    "  GLOB may hold '*' (quote it for the shell).\n"},
    {"config history",
     "usage: nacosctl config history DATA_ID [--version ID] [--group G] [--namespace N]\n"
     "  The config's recorded changes (publish, remove), newest first. Each row is\n"
     "  a version: an insert's row holds the content it created, an update's or a\n"
     "  remove's the content it replaced (its MD5), so `config rollback DATA_ID ID`\n"
     "  undoes the change of row ID.\n"
     "  --version ID: print that version's content as stored (--json: the row with\n"
     "  its content); exit 1 with NOT_FOUND if the config has no such row.\n"},
    {"config rollback",
     "usage: nacosctl config rollback DATA_ID ID [--group G] [--namespace N]\n"
     "  Publishes the content of history row ID again (a remove's row re-creates\n"
     "  the config) and prints the new MD5; the change is recorded as a rollback\n"
     "  to ID. Exit 1 with NOT_FOUND if the config has no such row.\n"},
    {"config watch",
     "usage: nacosctl config watch DATA_ID [--group G] [--namespace N]\n"
     "  Listens and prints the content now and after every change, until Ctrl-C.\n"},
    {"cluster",
     "usage: nacosctl cluster [credentials] [--server [https://]HOST:PORT] [TLS options]\n"
     "  Lists the members of the nacosd cluster (address, state, ready, version,\n"
     "  SDK connections, last refresh) as one server sees them, from its\n"
     "  /nacos/v1/core/cluster/nodes. The server is the agent's current upstream\n"
     "  unless --server names a main (HTTP) port; then no agent is needed.\n"
     "  Exit 3 when the server cannot be reached, 1 when it has no member list.\n"
     "  With auth on, credentials: --token-file F or --username U --password-file F\n"
     "  (files chmod 600); exit 4 when the server refuses them.\n" CTL_TLS},
#define CTL_CREDS                                                                                \
  "  The server is the agent's current upstream unless --server [https://]HOST:PORT\n"          \
  "  names a main (HTTP) port (then no agent is needed). Credentials: --token-file F\n"         \
  "  (a token from `nacosctl login`) or --username U --password-file F; the files\n"            \
  "  must not be readable by others (chmod 600). Exit 4 when the server refuses\n"               \
  "  the login or the operation (HTTP 401/403), 3 when it cannot be reached.\n" CTL_TLS
    {"login", "usage: nacosctl login --username U --password-file F [--server HOST:PORT]\n"
              "  Logs in and prints the access token (--json: the server's whole answer:\n"
              "  accessToken, tokenTtl, globalAdmin, username). Keep it in a file only you\n"
              "  can read (umask 077) for --token-file.\n" CTL_CREDS},
    {"user list", "usage: nacosctl user list [USER] [credentials] [--server HOST:PORT]\n"
                  "  Lists the users (all pages), or only USER.\n" CTL_CREDS},
    {"user create",
     "usage: nacosctl user create USER --new-password-file F [credentials] [--server H:P]\n"
     "  Creates USER with the password in F's first line.\n" CTL_CREDS},
    {"user password",
     "usage: nacosctl user password USER --new-password-file F [credentials] [--server H:P]\n"
     "  Sets USER's password to F's first line.\n" CTL_CREDS},
    {"user delete", "usage: nacosctl user delete USER [credentials] [--server HOST:PORT]\n"
                    "  Deletes USER and its roles (the admin cannot be deleted).\n" CTL_CREDS},
    {"user init-admin",
     "usage: nacosctl user init-admin --new-password-file F [--server HOST:PORT]\n"
     "  Sets the admin's (user nacos) first password, once, when the server started\n"
     "  without --admin-password-file. No credentials; the server takes it only\n"
     "  from its own host (run this there, --server 127.0.0.1:PORT). Exit 1 when the\n"
     "  admin already has a password.\n" CTL_TLS},
    {"role list", "usage: nacosctl role list [USER] [credentials] [--server HOST:PORT]\n"
                  "  Lists role assignments (all, or USER's).\n" CTL_CREDS},
    {"role add", "usage: nacosctl role add ROLE USER [credentials] [--server HOST:PORT]\n"
                 "  Gives USER the role ROLE (ROLE_ADMIN: a global admin).\n" CTL_CREDS},
    {"role delete", "usage: nacosctl role delete ROLE [USER] [credentials] [--server H:P]\n"
                    "  Takes ROLE from USER, or from everyone without USER.\n" CTL_CREDS},
    {"permission list",
     "usage: nacosctl permission list [ROLE] [credentials] [--server HOST:PORT]\n"
     "  Lists permissions (all, or ROLE's).\n" CTL_CREDS},
    {"permission add",
     "usage: nacosctl permission add ROLE RESOURCE ACTION [credentials] [--server H:P]\n"
     "  Grants ROLE ACTION (r, w or rw) on RESOURCE: NAMESPACE:GROUP:naming/NAME or\n"
     "  NAMESPACE:GROUP:config/NAME, '*' globs allowed (dev:*:* is all of namespace\n"
     "  dev; public or \"\" the default namespace). Quote '*' for the shell.\n" CTL_CREDS},
    {"permission delete",
     "usage: nacosctl permission delete ROLE RESOURCE ACTION [credentials] [--server H:P]\n"
     "  Removes that grant.\n" CTL_CREDS},
};

static void print_cmd_help(const char *name, FILE *to) {
  for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
    if (!strcmp(helps[i].name, name)) {
      fputs(helps[i].text, to);
      return;
    }
  fputs(usage_text, to);
}

int ctl_usage_error(const char *cmd, const char *fmt, const char *arg) {
  fprintf(stderr, "%s: ", ctl_prog);
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
  print_cmd_help(cmd ? cmd : "", stderr);
  return CTL_EXIT_USAGE;
}

/* ---- argument parsing -------------------------------------------------- */

/* Parses the command's own arguments. allowed lists the options the command
 * takes, space-separated ("group namespace healthy-only"). */
static int parse_cmd_args(const char *cmd, int argc, char **argv, const char *allowed,
                          ctl_args *a) {
  static const char *const with_value[] = {
      "group",    "namespace",     "cluster",    "weight",           "meta", "file", "cas",
      "data-id",  "server",        "version",    "username",         "password-file",
      "token-file", "new-password-file", "tls-ca", "tls-server-name", "tls-cert", "tls-key",
      NULL};
  int only_pos = 0;
  for (int i = 0; i < argc; i++) {
    const char *s = argv[i];
    if (only_pos || s[0] != '-' || !strcmp(s, "-")) {
      if (a->npos >= (int)(sizeof(a->pos) / sizeof(a->pos[0])))
        return ctl_usage_error(cmd, "too many arguments starting at '%s'", s);
      a->pos[a->npos++] = s;
      continue;
    }
    if (!strcmp(s, "--")) {
      only_pos = 1;
      continue;
    }
    if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
      a->help = 1;
      continue;
    }
    if (strncmp(s, "--", 2))
      return ctl_usage_error(cmd, "unknown option '%s'", s);
    char name[32];
    const char *eq = strchr(s + 2, '='), *val = NULL;
    size_t nlen = eq ? (size_t)(eq - s - 2) : strlen(s + 2);
    if (nlen >= sizeof(name))
      return ctl_usage_error(cmd, "unknown option '%s'", s);
    memcpy(name, s + 2, nlen);
    name[nlen] = '\0';
    /* Whole-word match against the allowed list. */
    const char *hit = strstr(allowed, name);
    while (hit && ((hit != allowed && hit[-1] != ' ') || (hit[nlen] && hit[nlen] != ' ')))
      hit = strstr(hit + 1, name);
    if (!hit)
      return ctl_usage_error(cmd, "unknown option '%s' for this command", s);
    int needs = 0;
    for (int k = 0; with_value[k]; k++)
      needs |= !strcmp(with_value[k], name);
    if (needs) {
      if (eq)
        val = eq + 1;
      else if (i + 1 < argc)
        val = argv[++i];
      else
        return ctl_usage_error(cmd, "option '%s' needs a value", s);
    } else if (eq) {
      return ctl_usage_error(cmd, "option '%s' takes no value", s);
    }
    if (!strcmp(name, "group"))
      a->group = val;
    else if (!strcmp(name, "namespace"))
      a->ns = val;
    else if (!strcmp(name, "cluster"))
      a->cluster = val;
    else if (!strcmp(name, "file"))
      a->file = val;
    else if (!strcmp(name, "cas"))
      a->cas = val;
    else if (!strcmp(name, "data-id"))
      a->data_id = val;
    else if (!strcmp(name, "server"))
      a->server = val;
    else if (!strcmp(name, "username"))
      a->username = val;
    else if (!strcmp(name, "password-file"))
      a->password_file = val;
    else if (!strcmp(name, "token-file"))
      a->token_file = val;
    else if (!strcmp(name, "new-password-file"))
      a->new_password_file = val;
    else if (!strcmp(name, "tls-ca"))
      a->tls_ca = val;
    else if (!strcmp(name, "tls-server-name"))
      a->tls_server_name = val;
    else if (!strcmp(name, "tls-cert"))
      a->tls_cert = val;
    else if (!strcmp(name, "tls-key"))
      a->tls_key = val;
    else if (!strcmp(name, "tls"))
      a->tls = 1;
    else if (!strcmp(name, "healthy-only"))
      a->healthy_only = 1;
    else if (!strcmp(name, "once"))
      a->once = 1;
    else if (!strcmp(name, "version")) {
      char *end = NULL;
      a->version = strtoll(val, &end, 10);
      if (end == val || *end || a->version < 1)
        return ctl_usage_error(cmd, "bad --version '%s' (a history id, an integer >= 1)", val);
    }
    else if (!strcmp(name, "weight")) {
      char *end = NULL;
      a->weight = strtod(val, &end);
      if (end == val || *end || a->weight < 0 || a->weight > 10000)
        return ctl_usage_error(cmd, "bad --weight '%s' (a number 0..10000)", val);
      a->have_weight = 1;
    } else if (!strcmp(name, "meta")) {
      const char *kv = strchr(val, '=');
      if (!kv || kv == val)
        return ctl_usage_error(cmd, "bad --meta '%s' (want KEY=VALUE)", val);
      if (!a->meta && !(a->meta = cJSON_CreateObject()))
        return CTL_EXIT_USAGE;
      char key[256];
      size_t klen = (size_t)(kv - val);
      if (klen >= sizeof(key))
        return ctl_usage_error(cmd, "--meta key too long in '%s'", val);
      memcpy(key, val, klen);
      key[klen] = '\0';
      cJSON_DeleteItemFromObjectCaseSensitive(a->meta, key);
      if (!cJSON_AddStringToObject(a->meta, key, kv + 1))
        return CTL_EXIT_USAGE;
    }
  }
  return 0;
}

/* ---- main ---------------------------------------------------------------- */

typedef struct cmd_spec {
  const char *name; /* as in helps[] */
  const char *opts; /* allowed options */
  int min_pos, max_pos;
  ctl_cmd_fn run;
  int http; /* talks to a server: the agent is needed only without --server */
} cmd_spec;

/* Where a server command goes: --server and HTTPS's options. */
#define SRV "server tls tls-ca tls-server-name tls-cert tls-key"
#define CREDS SRV " username password-file token-file"


static const cmd_spec specs[] = {
    {"status", "", 0, 0, ctl_cmd_status, 0},
    {"register", "group namespace cluster weight meta once", 2, 3, ctl_cmd_register, 0},
    {"deregister", "group namespace cluster", 2, 3, ctl_cmd_deregister, 0},
    {"instances", "group namespace healthy-only", 1, 1, ctl_cmd_instances, 0},
    {"services", "group namespace", 0, 0, ctl_cmd_services, 0},
    {"watch", "group namespace", 1, 1, ctl_cmd_watch, 0},
    {"config get", "group namespace", 1, 1, ctl_cmd_config_get, 0},
    {"config put", "group namespace file cas", 1, 2, ctl_cmd_config_put, 0},
    {"config rm", "group namespace", 1, 1, ctl_cmd_config_rm, 0},
    {"config list", "group namespace data-id", 0, 0, ctl_cmd_config_list, 0},
    {"config history", "group namespace version", 1, 1, ctl_cmd_config_history, 0},
    {"config rollback", "group namespace", 2, 2, ctl_cmd_config_rollback, 0},
    {"config watch", "group namespace", 1, 1, ctl_cmd_config_watch, 0},
    {"cluster", CREDS, 0, 0, ctl_cmd_cluster, 1},
    {"login", SRV " username password-file", 0, 0, ctl_cmd_login, 1},
    {"user list", CREDS, 0, 1, ctl_cmd_user_list, 1},
    {"user create", CREDS " new-password-file", 1, 1, ctl_cmd_user_create, 1},
    {"user password", CREDS " new-password-file", 1, 1, ctl_cmd_user_password, 1},
    {"user delete", CREDS, 1, 1, ctl_cmd_user_delete, 1},
    {"user init-admin", SRV " new-password-file", 0, 0, ctl_cmd_user_init_admin, 1},
    {"role list", CREDS, 0, 1, ctl_cmd_role_list, 1},
    {"role add", CREDS, 2, 2, ctl_cmd_role_add, 1},
    {"role delete", CREDS, 1, 2, ctl_cmd_role_delete, 1},
    {"permission list", CREDS, 0, 1, ctl_cmd_perm_list, 1},
    {"permission add", CREDS, 3, 3, ctl_cmd_perm_add, 1},
    {"permission delete", CREDS, 3, 3, ctl_cmd_perm_delete, 1},
};

/* Commands with subcommands, and what a missing one gets told. */
static const struct {
  const char *group, *subs;
} groups[] = {
    {"config", "get, put, rm, list, history, rollback or watch"},
    {"user", "list, create, password, delete or init-admin"},
    {"role", "list, add or delete"},
    {"permission", "list, add or delete"},
};

/* Value of a global option at argv[*i] ("--name V" or "--name=V"), moving
 * *i past it; NULL when missing. */
static const char *global_value(int argc, char **argv, int *i, size_t nlen) {
  const char *s = argv[*i];
  if (s[nlen] == '=')
    return s + nlen + 1;
  return *i + 1 < argc ? argv[++*i] : NULL;
}

static int is_opt(const char *s, const char *name) {
  size_t n = strlen(name);
  return !strncmp(s, name, n) && (s[n] == '\0' || s[n] == '=');
}

/* Takes the global options out of argv wherever they stand (before, between
 * or after the command and its arguments; a "--" ends them), so
 * `nacosctl instances svc --json` works like `nacosctl --json instances
 * svc`. What remains keeps its order in rest[0..*nrest). Returns 0, -1
 * after printing the version, or an exit code. */
static int take_globals(int argc, char **argv, ctl_args *a, char **rest, int *nrest) {
  int n = 0, literal = 0;
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    if (literal || s[0] != '-') {
      rest[n++] = argv[i];
      continue;
    }
    if (!strcmp(s, "--")) {
      literal = 1;
      rest[n++] = argv[i];
    } else if (!strcmp(s, "--json")) {
      a->json = 1;
    } else if (is_opt(s, "--version") && n >= 2 && !strcmp(rest[0], "config") &&
               !strcmp(rest[1], "history")) {
      /* config history's own --version ID (a history id), not ours */
      rest[n++] = argv[i];
    } else if (!strcmp(s, "--version")) {
      printf("%s %s\n", ctl_prog, NC_VERSION);
      return -1;
    } else if (is_opt(s, "--socket")) {
      a->socket = global_value(argc, argv, &i, 8);
      if (!a->socket || !*a->socket)
        return ctl_usage_error(NULL, "%s needs a path", "--socket");
    } else if (is_opt(s, "--timeout")) {
      const char *v = global_value(argc, argv, &i, 9);
      char *end = NULL;
      long t = v ? strtol(v, &end, 10) : 0;
      if (!v || end == v || *end || t < 1 || t > 3600000)
        return ctl_usage_error(NULL, "bad --timeout '%s' (milliseconds, 1..3600000)", v ? v : "");
      a->timeout_ms = (int)t;
    } else {
      rest[n++] = argv[i];
    }
  }
  rest[n] = NULL;
  *nrest = n;
  return 0;
}

/* SERVICE (IP PORT | IP:PORT | [IPv6]:PORT) of register and deregister
 * into a->ip / a->port; 0 or the usage exit code. */
static int parse_endpoint(const char *cmd, ctl_args *a) {
  const char *ip = a->pos[1], *port = a->npos == 3 ? a->pos[2] : NULL;
  if (!port) {
    const char *colon = strrchr(ip, ':');
    int bracketed = ip[0] == '[' && colon && colon > ip && colon[-1] == ']';
    if (!colon || (!bracketed && memchr(ip, ':', (size_t)(colon - ip))))
      return ctl_usage_error(cmd, "bad address '%s' (want IP:PORT, [IPv6]:PORT or IP PORT)", ip);
    size_t len = (size_t)(colon - ip) - (bracketed ? 2 : 0);
    if (len == 0 || len >= sizeof(a->ipbuf))
      return ctl_usage_error(cmd, "bad address '%s'", ip);
    memcpy(a->ipbuf, ip + (bracketed ? 1 : 0), len);
    a->ipbuf[len] = '\0';
    ip = a->ipbuf;
    port = colon + 1;
  }
  char *end = NULL;
  long p = strtol(port, &end, 10);
  if (end == port || *end || p < 1 || p > 65535)
    return ctl_usage_error(cmd, "bad PORT '%s' (1..65535)", port);
  a->ip = ip;
  a->port = (int)p;
  return 0;
}

/* "config --help" (user, role, ...): every subcommand's text. */
static int group_help(const char *group) {
  size_t n = strlen(group);
  for (size_t k = 0; k < sizeof(helps) / sizeof(helps[0]); k++)
    if (!strncmp(helps[k].name, group, n) && helps[k].name[n] == ' ')
      fputs(helps[k].text, stdout);
  return 0;
}

int main(int argc, char **argv) {
  ctl_args a;
  nc_ipc *c = NULL;
  char **rest = calloc((size_t)argc + 1, sizeof(char *));
  int nrest = 0, i = 0, rc;
  memset(&a, 0, sizeof(a));
  a.timeout_ms = NC_IPC_DEFAULT_TIMEOUT_MS;
  if (!rest)
    return CTL_EXIT_UNREACHABLE;
  rc = take_globals(argc, argv, &a, rest, &nrest);
  if (rc)
    goto out;
  if (nrest > 0 && (!strcmp(rest[0], "--help") || !strcmp(rest[0], "-h"))) {
    fputs(usage_text, stdout);
    goto out;
  }
  if (nrest == 0) {
    rc = ctl_usage_error(NULL, "%s", "missing command");
    goto out;
  }
  if (rest[0][0] == '-') {
    rc = ctl_usage_error(NULL, "unknown option '%s'", rest[0]);
    goto out;
  }

  char name[48];
  const char *group = NULL, *subs = NULL;
  for (size_t k = 0; k < sizeof(groups) / sizeof(groups[0]); k++)
    if (!strcmp(rest[0], groups[k].group)) {
      group = groups[k].group;
      subs = groups[k].subs;
    }
  if (group) {
    if (nrest < 2 || rest[1][0] == '-') {
      if (nrest >= 2 && (!strcmp(rest[1], "--help") || !strcmp(rest[1], "-h"))) {
        rc = group_help(group);
        goto out;
      }
      char first[48], msg[128];
      snprintf(first, sizeof(first), "%s %s", group, strcmp(group, "config") ? "list" : "get");
      snprintf(msg, sizeof(msg), "%s needs a subcommand: %s", group, subs);
      rc = ctl_usage_error(first, "%s", msg);
      goto out;
    }
    snprintf(name, sizeof(name), "%s %s", group, rest[1]);
    i = 2;
  } else {
    snprintf(name, sizeof(name), "%s", rest[0]);
    i = 1;
  }
  const cmd_spec *spec = NULL;
  for (size_t k = 0; k < sizeof(specs) / sizeof(specs[0]); k++)
    if (!strcmp(specs[k].name, name))
      spec = &specs[k];
  if (!spec) {
    rc = ctl_usage_error(NULL, "unknown command '%s'", name);
    goto out;
  }

  rc = parse_cmd_args(name, nrest - i, rest + i, spec->opts, &a);
  if (rc)
    goto out;
  if (a.help) {
    print_cmd_help(name, stdout);
    goto out;
  }
  int is_put = !strcmp(name, "config put");
  int want_max = is_put && a.file ? 1 : spec->max_pos;
  int want_min = is_put && !a.file ? 2 : spec->min_pos;
  if (a.npos < want_min || a.npos > want_max) {
    rc =
        ctl_usage_error(name, "%s", a.npos < want_min ? "missing arguments" : "too many arguments");
    goto out;
  }
  if (!strcmp(name, "register") || !strcmp(name, "deregister")) {
    if ((rc = parse_endpoint(name, &a)))
      goto out;
  }
  if (!strcmp(name, "config rollback")) {
    char *end = NULL;
    a.version = strtoll(a.pos[1], &end, 10);
    if (end == a.pos[1] || *end || a.version < 1) {
      rc = ctl_usage_error(name, "bad ID '%s' (a history id, an integer >= 1)", a.pos[1]);
      goto out;
    }
  }
  /* Decided before connecting, so usage errors never depend on the agent.
   * A server command with --server talks to that server alone. */
  if (!(spec->http && a.server)) {
    rc = ctl_open_agent(&a, &c);
    if (rc)
      goto out;
  }
  rc = spec->run(c, &a);
out:
  ctl_http_done();
  nc_ipc_free(c);
  cJSON_Delete(a.meta);
  free(rest);
  return rc < 0 ? 0 : rc;
}
