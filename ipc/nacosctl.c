/* nacosctl: operator CLI over the nacos-agent local socket, built only on
 * the public nc_ipc API (like curl's src/ over lib/). This file: usage
 * text, argument parsing and dispatch. Output is aligned text for people
 * by default, one JSON object per line with --json for scripts; errors go
 * to stderr as "nacosctl: OP: CODE: message" with the exit codes of
 * usage_text. */
#include "nacosctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ctl_prog = "nacosctl";

/* ---- usage ------------------------------------------------------------ */

static const char *const usage_text =
    "usage: nacosctl [--socket PATH] [--json] [--timeout MS] COMMAND [ARGS]\n"
    "\n"
    "Talks to the local nacos-agent over its Unix socket (default\n"
    "$" NC_IPC_SOCKET_ENV " or " NC_IPC_DEFAULT_SOCKET ").\n"
    "\n"
    "Commands:\n"
    "  status                        agent state and upstream connection\n"
    "  register SERVICE IP PORT      register an instance and hold it until Ctrl-C\n"
    "  instances SERVICE             list a service's instances\n"
    "  watch SERVICE                 stream naming changes until Ctrl-C\n"
    "  config get DATA_ID            print a config's content\n"
    "  config put DATA_ID (CONTENT | --file F | -)\n"
    "                                publish a config (- reads stdin)\n"
    "  config rm DATA_ID             remove a config\n"
    "  config watch DATA_ID          stream config changes until Ctrl-C\n"
    "\n"
    "Global options:\n"
    "  --socket PATH   agent socket\n"
    "  --json          print raw JSON lines instead of text\n"
    "  --timeout MS    per-request timeout (default 5000)\n"
    "  --help          this text; COMMAND --help for a command's options\n"
    "\n"
    "Exit codes: 0 success, 1 the agent returned an error (code on stderr),\n"
    "2 usage error, 3 agent unreachable or connection lost.\n";

typedef struct cmd_help {
  const char *name;
  const char *text;
} cmd_help;

static const cmd_help helps[] = {
    {"status",
     "usage: nacosctl status\n  Shows whether the agent is connected upstream, to which server,\n"
     "  and how many apps, instances, subscriptions and listeners it holds.\n"},
    {"register",
     "usage: nacosctl register SERVICE IP PORT [--group G] [--namespace N] [--cluster C]\n"
     "                         [--weight W] [--meta KEY=VALUE ...]\n"
     "  Registers the instance through the agent and keeps it registered until\n"
     "  Ctrl-C or SIGTERM, then deregisters it and exits 0. The instance also\n"
     "  goes away if nacosctl is killed (the agent drops it with the socket).\n"},
    {"instances", "usage: nacosctl instances SERVICE [--group G] [--namespace N] [--healthy-only]\n"
                  "  Lists the service's instances as the agent sees them.\n"},
    {"watch", "usage: nacosctl watch SERVICE [--group G] [--namespace N]\n"
              "  Subscribes and prints the host list now and after every change, until Ctrl-C.\n"},
    {"config get", "usage: nacosctl config get DATA_ID [--group G] [--namespace N]\n"
                   "  Prints the content as stored (text) or {content, md5} (--json).\n"
                   "  Exit 1 with NOT_FOUND if the config does not exist.\n"},
    {"config put", "usage: nacosctl config put DATA_ID (CONTENT | --file F | -) [--cas MD5]\n"
                   "                           [--group G] [--namespace N]\n"
                   "  Publishes the content; with --cas only if the current MD5 matches\n"
                   "  (exit 1 with CONFLICT otherwise).\n"},
    {"config rm", "usage: nacosctl config rm DATA_ID [--group G] [--namespace N]\n"},
    {"config watch",
     "usage: nacosctl config watch DATA_ID [--group G] [--namespace N]\n"
     "  Listens and prints the content now and after every change, until Ctrl-C.\n"},
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
  static const char *const with_value[] = {"group", "namespace", "cluster", "weight",
                                           "meta",  "file",      "cas",     NULL};
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
    else if (!strcmp(name, "healthy-only"))
      a->healthy_only = 1;
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
} cmd_spec;

static const cmd_spec specs[] = {
    {"status", "", 0, 0},
    {"register", "group namespace cluster weight meta", 3, 3},
    {"instances", "group namespace healthy-only", 1, 1},
    {"watch", "group namespace", 1, 1},
    {"config get", "group namespace", 1, 1},
    {"config put", "group namespace file cas", 1, 2},
    {"config rm", "group namespace", 1, 1},
    {"config watch", "group namespace", 1, 1},
};

int main(int argc, char **argv) {
  ctl_args a;
  nc_ipc *c = NULL;
  int i = 1, rc;
  memset(&a, 0, sizeof(a));
  a.timeout_ms = NC_IPC_DEFAULT_TIMEOUT_MS;

  /* Global options come before the command. */
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *s = argv[i];
    if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
      fputs(usage_text, stdout);
      return 0;
    } else if (!strcmp(s, "--json")) {
      a.json = 1;
    } else if (!strcmp(s, "--socket") || !strncmp(s, "--socket=", 9)) {
      a.socket = s[8] == '=' ? s + 9 : (i + 1 < argc ? argv[++i] : NULL);
      if (!a.socket || !*a.socket)
        return ctl_usage_error(NULL, "%s needs a path", "--socket");
    } else if (!strcmp(s, "--timeout") || !strncmp(s, "--timeout=", 10)) {
      const char *v = s[9] == '=' ? s + 10 : (i + 1 < argc ? argv[++i] : NULL);
      char *end = NULL;
      long t = v ? strtol(v, &end, 10) : 0;
      if (!v || end == v || *end || t < 1 || t > 3600000)
        return ctl_usage_error(NULL, "bad --timeout '%s' (milliseconds, 1..3600000)", v ? v : "");
      a.timeout_ms = (int)t;
    } else {
      return ctl_usage_error(NULL, "unknown option '%s'", s);
    }
  }
  if (i >= argc)
    return ctl_usage_error(NULL, "%s", "missing command");

  char name[32];
  const char *sub = NULL;
  if (!strcmp(argv[i], "config")) {
    if (i + 1 >= argc || argv[i + 1][0] == '-') {
      if (i + 1 < argc && (!strcmp(argv[i + 1], "--help") || !strcmp(argv[i + 1], "-h"))) {
        for (size_t k = 0; k < sizeof(helps) / sizeof(helps[0]); k++)
          if (!strncmp(helps[k].name, "config ", 7))
            fputs(helps[k].text, stdout);
        return 0;
      }
      return ctl_usage_error("config get", "%s",
                             "config needs a subcommand: get, put, rm or watch");
    }
    sub = argv[i + 1];
    snprintf(name, sizeof(name), "config %s", sub);
    i += 2;
  } else {
    snprintf(name, sizeof(name), "%s", argv[i]);
    i += 1;
  }
  const cmd_spec *spec = NULL;
  for (size_t k = 0; k < sizeof(specs) / sizeof(specs[0]); k++)
    if (!strcmp(specs[k].name, name))
      spec = &specs[k];
  if (!spec)
    return ctl_usage_error(NULL, "unknown command '%s'", name);

  rc = parse_cmd_args(name, argc - i, argv + i, spec->opts, &a);
  if (rc)
    goto out;
  if (a.help) {
    print_cmd_help(name, stdout);
    goto out;
  }
  int want_max = spec->max_pos;
  if (sub && !strcmp(sub, "put") && a.file)
    want_max = 1;
  int want_min = (sub && !strcmp(sub, "put") && !a.file) ? 2 : spec->min_pos;
  if (a.npos < want_min || a.npos > want_max) {
    rc =
        ctl_usage_error(name, "%s", a.npos < want_min ? "missing arguments" : "too many arguments");
    goto out;
  }
  if (!strcmp(name, "register")) {
    char *end = NULL;
    long port = strtol(a.pos[2], &end, 10);
    if (end == a.pos[2] || *end || port < 1 || port > 65535) {
      rc = ctl_usage_error(name, "bad PORT '%s' (1..65535)", a.pos[2]);
      goto out;
    }
  }
  /* Decided before connecting, so usage errors never depend on the agent. */
  rc = ctl_open_agent(&a, &c);
  if (rc)
    goto out;
  if (!strcmp(name, "status"))
    rc = ctl_cmd_status(c, &a);
  else if (!strcmp(name, "register"))
    rc = ctl_cmd_register(c, &a);
  else if (!strcmp(name, "instances"))
    rc = ctl_cmd_instances(c, &a);
  else if (!strcmp(name, "watch"))
    rc = ctl_cmd_watch(c, &a);
  else
    rc = ctl_cmd_config(c, sub, &a);
out:
  nc_ipc_free(c);
  cJSON_Delete(a.meta);
  return rc;
}
