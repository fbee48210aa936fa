/* nacosctl user / role / permission / login: nacosd's user administration
 * (Nacos's /nacos/v1/auth API) on a server's main port, the agent's
 * current upstream unless --server names one, through nacosctl_http.
 *
 * Credentials never come from the command line: --token-file F (a token
 * from `nacosctl login`), or --username U --password-file F (logged in
 * first). Secret files others can read or write are refused, as the agent
 * refuses them. New passwords come from --new-password-file likewise. */
#include "nacosctl_http.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define AUTH "/nacos/v1/auth/"
#define SECRET_MAX 4096

static void wipe(char *s, size_t n) {
  volatile char *p = s;
  while (n--)
    *p++ = 0;
}

/* The first line of a file only its owner may read or write; 0 or an exit
 * code after printing why. */
static int read_secret(const char *what, const char *opt, const char *path, char *out,
                       size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    fprintf(stderr, "%s: %s: %s: cannot read %s: %s\n", ctl_prog, what, opt, path,
            strerror(errno));
    if (fd >= 0)
      close(fd);
    return CTL_EXIT_USAGE;
  }
  if (st.st_mode & 077) {
    fprintf(stderr,
            "%s: %s: %s: %s is readable or writable by others (mode %04o): chmod 600 it\n",
            ctl_prog, what, opt, path, (unsigned)(st.st_mode & 07777));
    close(fd);
    return CTL_EXIT_USAGE;
  }
  ssize_t n = read(fd, out, cap - 1);
  close(fd);
  if (n < 0) {
    fprintf(stderr, "%s: %s: cannot read %s: %s\n", ctl_prog, what, path, strerror(errno));
    return CTL_EXIT_USAGE;
  }
  out[n] = '\0';
  out[strcspn(out, "\r\n")] = '\0';
  if (!*out) {
    fprintf(stderr, "%s: %s: %s: %s is empty\n", ctl_prog, what, opt, path);
    return CTL_EXIT_USAGE;
  }
  return 0;
}

/* The server's message from a RestResult {"code","message"}, a
 * {"message"} error or a plain-text body; into msg. */
static void server_message(const char *body, char *msg, size_t cap) {
  cJSON *j = cJSON_Parse(body);
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
  if (cJSON_IsString(m))
    snprintf(msg, cap, "%s", m->valuestring);
  else
    snprintf(msg, cap, "%.*s", (int)strcspn(body, "\r\n"), body);
  cJSON_Delete(j);
}

/* Reports a non-2xx answer; returns the exit code (4 for 401/403). */
static int http_fail(const char *what, const char *server, int status, const char *body,
                     int have_creds) {
  char msg[512];
  server_message(body ? body : "", msg, sizeof(msg));
  if (status == 401 || status == 403) {
    fprintf(stderr, "%s: %s: refused by %s (HTTP %d): %s%s\n", ctl_prog, what, server, status,
            *msg ? msg : "forbidden",
            have_creds ? " (this needs an admin)"
                       : " (log in with --username U --password-file F, or --token-file F)");
    return CTL_EXIT_AUTH;
  }
  fprintf(stderr, "%s: %s: %s answered HTTP %d: %s%s\n", ctl_prog, what, server, status,
          *msg ? msg : "(no message)", status == 404 ? " (not a nacosd main port?)" : "");
  return CTL_EXIT_AGENT;
}

/* One request; *body (caller frees) on 2xx, else the exit code after
 * printing why. */
static int call(const char *what, const char *server, const char *method, const char *path,
                const char *form, const char *token, const ctl_args *a, char **body) {
  char why[512];
  int status = 0;
  *body = ctl_http_request(server, method, path, form, token, a->timeout_ms, &status, why,
                           sizeof(why));
  if (!*body) {
    fprintf(stderr, "%s: %s: %s\n", ctl_prog, what, why);
    return CTL_EXIT_UNREACHABLE;
  }
  if (status < 200 || status > 299) {
    int rc = http_fail(what, server, status, *body, token != NULL);
    free(*body);
    *body = NULL;
    return rc;
  }
  return 0;
}

/* POST login; the reply's JSON (caller deletes) or an exit code. */
static int login(const char *what, const char *server, const ctl_args *a, cJSON **out) {
  char pw[SECRET_MAX], *body = NULL;
  ctl_buf form = {0};
  int rc;
  *out = NULL;
  if (!a->password_file)
    return ctl_usage_error(what, "%s", "--username needs --password-file FILE");
  if ((rc = read_secret(what, "--password-file", a->password_file, pw, sizeof(pw))))
    return rc;
  ctl_buf_param(&form, "username", a->username);
  ctl_buf_param(&form, "password", pw);
  wipe(pw, sizeof(pw));
  if (form.oom) {
    ctl_buf_free(&form);
    return CTL_EXIT_UNREACHABLE;
  }
  char why[512];
  int status = 0;
  body = ctl_http_request(server, "POST", AUTH "users/login", form.s, NULL, a->timeout_ms,
                          &status, why, sizeof(why));
  ctl_buf_free(&form);
  if (!body) {
    fprintf(stderr, "%s: %s: %s\n", ctl_prog, what, why);
    return CTL_EXIT_UNREACHABLE;
  }
  cJSON *j = status == 200 ? cJSON_Parse(body) : NULL;
  const cJSON *tok = cJSON_GetObjectItemCaseSensitive(j, "accessToken");
  if (!cJSON_IsString(tok) || !*tok->valuestring) {
    char msg[512];
    server_message(body, msg, sizeof(msg));
    fprintf(stderr, "%s: %s: login of %s refused by %s (HTTP %d): %s\n", ctl_prog, what,
            a->username, server, status, *msg ? msg : "no token in the answer");
    free(body);
    cJSON_Delete(j);
    return status == 401 || status == 403 ? CTL_EXIT_AUTH : CTL_EXIT_AGENT;
  }
  free(body);
  *out = j;
  return 0;
}

int ctl_http_credentials(const char *what, const char *server, const ctl_args *a, char *tok,
                       size_t cap) {
  tok[0] = '\0';
  if (a->token_file && a->username)
    return ctl_usage_error(what, "%s", "give --token-file or --username, not both");
  if (a->token_file)
    return read_secret(what, "--token-file", a->token_file, tok, cap);
  if (!a->username) {
    if (a->password_file)
      return ctl_usage_error(what, "%s", "--password-file needs --username");
    return 0;
  }
  cJSON *j = NULL;
  int rc = login(what, server, a, &j);
  if (rc)
    return rc;
  snprintf(tok, cap, "%s", cJSON_GetObjectItemCaseSensitive(j, "accessToken")->valuestring);
  cJSON_Delete(j);
  return 0;
}

/* ---- commands ---- */

int ctl_cmd_login(nc_ipc *c, const ctl_args *a) {
  char server[300];
  cJSON *j = NULL;
  int rc;
  if (!a->username)
    return ctl_usage_error("login", "%s", "missing --username");
  if ((rc = ctl_http_server(c, a, "login", server, sizeof(server))) ||
      (rc = login("login", server, a, &j)))
    return rc;
  if (a->json) {
    ctl_print_json_line(j);
  } else {
    puts(cJSON_GetObjectItemCaseSensitive(j, "accessToken")->valuestring);
    fflush(stdout);
  }
  cJSON_Delete(j);
  return 0;
}

/* Every page of a Nacos page object at path (filter param name=value
 * when value is given) as rows; prints them. */
static int list_pages(nc_ipc *c, const ctl_args *a, const char *what, const char *path,
                      const char *fname, const char *fvalue, const char *const *heads,
                      const char *const *keys, int ncol, const char *empty) {
  char server[300], tok[SECRET_MAX];
  int rc;
  if ((rc = ctl_http_server(c, a, what, server, sizeof(server))) ||
      (rc = ctl_http_credentials(what, server, a, tok, sizeof(tok))))
    return rc;
  cJSON *rows = cJSON_CreateArray();
  for (int page = 1, pages = 1; rows && page <= pages && page <= 100000; page++) {
    ctl_buf q = {0};
    char *body = NULL, num[16];
    ctl_buf_add(&q, path, strlen(path));
    ctl_buf_add(&q, "?", 1);
    snprintf(num, sizeof(num), "%d", page);
    ctl_buf_param(&q, "pageNo", num);
    ctl_buf_param(&q, "pageSize", "100");
    if (fvalue)
      ctl_buf_param(&q, fname, fvalue);
    rc = q.oom ? CTL_EXIT_UNREACHABLE
               : call(what, server, "GET", q.s, NULL, *tok ? tok : NULL, a, &body);
    ctl_buf_free(&q);
    if (rc)
      break;
    cJSON *j = cJSON_Parse(body);
    free(body);
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(j, "pageItems");
    const cJSON *pa = cJSON_GetObjectItemCaseSensitive(j, "pagesAvailable");
    if (!cJSON_IsArray(items)) {
      fprintf(stderr, "%s: %s: %s answered without a page of rows\n", ctl_prog, what, server);
      cJSON_Delete(j);
      rc = CTL_EXIT_AGENT;
      break;
    }
    pages = cJSON_IsNumber(pa) ? pa->valueint : 1;
    const cJSON *it;
    cJSON_ArrayForEach(it, items) {
      cJSON *row = cJSON_CreateObject();
      for (int k = 0; row && k < ncol; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, keys[k]);
        cJSON_AddStringToObject(row, keys[k], cJSON_IsString(v) ? v->valuestring : "");
      }
      if (row)
        cJSON_AddItemToArray(rows, row);
    }
    cJSON_Delete(j);
  }
  wipe(tok, sizeof(tok));
  if (!rc && rows) {
    if (a->json) {
      const cJSON *r;
      cJSON_ArrayForEach(r, rows) ctl_print_json_line(r);
    } else {
      ctl_print_table(rows, heads, keys, ncol, empty);
    }
  }
  cJSON_Delete(rows);
  return rc;
}

/* One change (POST/PUT/DELETE with the form's parameters); prints the
 * server's message (--json: its RestResult). */
static int change(nc_ipc *c, const ctl_args *a, const char *what, const char *method,
                  const char *path, ctl_buf *form, int need_token) {
  char server[300], tok[SECRET_MAX], *body = NULL;
  int rc;
  tok[0] = '\0';
  if ((rc = ctl_http_server(c, a, what, server, sizeof(server))) ||
      (need_token && (rc = ctl_http_credentials(what, server, a, tok, sizeof(tok)))))
    goto out;
  if (form->oom) {
    rc = CTL_EXIT_UNREACHABLE;
    goto out;
  }
  /* DELETE takes its parameters in the query (a DELETE body is unusual). */
  int query = !strcmp(method, "DELETE");
  ctl_buf url = {0};
  ctl_buf_add(&url, path, strlen(path));
  if (query && form->s) {
    ctl_buf_add(&url, "?", 1);
    ctl_buf_add(&url, form->s, form->len);
  }
  rc = url.oom ? CTL_EXIT_UNREACHABLE
               : call(what, server, method, url.s, query ? NULL : (form->s ? form->s : ""),
                      *tok ? tok : NULL, a, &body);
  ctl_buf_free(&url);
  if (rc)
    goto out;
  cJSON *j = cJSON_Parse(body);
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
  if (a->json && j)
    ctl_print_json_line(j);
  else
    printf("%s\n", cJSON_IsString(m) && *m->valuestring ? m->valuestring : "ok");
  fflush(stdout);
  cJSON_Delete(j);
out:
  free(body);
  wipe(tok, sizeof(tok));
  ctl_buf_free(form);
  return rc;
}

static const char *const user_keys[] = {"username"};

int ctl_cmd_user_list(nc_ipc *c, const ctl_args *a) {
  static const char *const heads[] = {"USERNAME"};
  return list_pages(c, a, "user list", AUTH "users", "username", a->npos ? a->pos[0] : NULL,
                    heads, user_keys, 1, "(no users)");
}

/* --new-password-file into the form as name; 0 or an exit code. */
static int new_password(const char *what, const ctl_args *a, ctl_buf *form, const char *name) {
  char pw[SECRET_MAX];
  if (!a->new_password_file)
    return ctl_usage_error(what, "%s", "missing --new-password-file FILE");
  int rc = read_secret(what, "--new-password-file", a->new_password_file, pw, sizeof(pw));
  if (!rc)
    ctl_buf_param(form, name, pw);
  wipe(pw, sizeof(pw));
  return rc;
}

int ctl_cmd_user_create(nc_ipc *c, const ctl_args *a) {
  ctl_buf f = {0};
  ctl_buf_param(&f, "username", a->pos[0]);
  int rc = new_password("user create", a, &f, "password");
  if (rc) {
    ctl_buf_free(&f);
    return rc;
  }
  return change(c, a, "user create", "POST", AUTH "users", &f, 1);
}

int ctl_cmd_user_password(nc_ipc *c, const ctl_args *a) {
  ctl_buf f = {0};
  ctl_buf_param(&f, "username", a->pos[0]);
  int rc = new_password("user password", a, &f, "newPassword");
  if (rc) {
    ctl_buf_free(&f);
    return rc;
  }
  return change(c, a, "user password", "PUT", AUTH "users", &f, 1);
}

int ctl_cmd_user_delete(nc_ipc *c, const ctl_args *a) {
  ctl_buf f = {0};
  ctl_buf_param(&f, "username", a->pos[0]);
  return change(c, a, "user delete", "DELETE", AUTH "users", &f, 1);
}

int ctl_cmd_user_init_admin(nc_ipc *c, const ctl_args *a) {
  ctl_buf f = {0};
  int rc = new_password("user init-admin", a, &f, "password");
  if (rc) {
    ctl_buf_free(&f);
    return rc;
  }
  /* No credentials: the server takes this once, and from its own host only. */
  return change(c, a, "user init-admin", "POST", AUTH "users/admin", &f, 0);
}

int ctl_cmd_role_list(nc_ipc *c, const ctl_args *a) {
  static const char *const heads[] = {"ROLE", "USERNAME"};
  static const char *const keys[] = {"role", "username"};
  return list_pages(c, a, "role list", AUTH "roles", "username", a->npos ? a->pos[0] : NULL,
                    heads, keys, 2, "(no roles)");
}

int ctl_cmd_role_add(nc_ipc *c, const ctl_args *a) {
  ctl_buf f = {0};
  ctl_buf_param(&f, "role", a->pos[0]);
  ctl_buf_param(&f, "username", a->pos[1]);
  return change(c, a, "role add", "POST", AUTH "roles", &f, 1);
}

int ctl_cmd_role_delete(nc_ipc *c, const ctl_args *a) {
  ctl_buf f = {0};
  ctl_buf_param(&f, "role", a->pos[0]);
  if (a->npos > 1)
    ctl_buf_param(&f, "username", a->pos[1]);
  return change(c, a, "role delete", "DELETE", AUTH "roles", &f, 1);
}

int ctl_cmd_perm_list(nc_ipc *c, const ctl_args *a) {
  static const char *const heads[] = {"ROLE", "RESOURCE", "ACTION"};
  static const char *const keys[] = {"role", "resource", "action"};
  return list_pages(c, a, "permission list", AUTH "permissions", "role",
                    a->npos ? a->pos[0] : NULL, heads, keys, 3, "(no permissions)");
}

static int perm_change(nc_ipc *c, const ctl_args *a, const char *what, const char *method) {
  ctl_buf f = {0};
  ctl_buf_param(&f, "role", a->pos[0]);
  ctl_buf_param(&f, "resource", a->pos[1]);
  ctl_buf_param(&f, "action", a->pos[2]);
  return change(c, a, what, method, AUTH "permissions", &f, 1);
}

int ctl_cmd_perm_add(nc_ipc *c, const ctl_args *a) {
  return perm_change(c, a, "permission add", "POST");
}

int ctl_cmd_perm_delete(nc_ipc *c, const ctl_args *a) {
  return perm_change(c, a, "permission delete", "DELETE");
}
