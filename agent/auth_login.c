/* auth_login: see auth_login.h. */
#include "auth_login.h"

#include "http1.h"
#include "nc_err.h"
#include "nc_json.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* application/x-www-form-urlencoded value */
static size_t form_escape(char *out, size_t cap, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  size_t n = 0;
  for (; *s && n + 4 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out[n++] = (char)c;
    } else {
      out[n++] = '%';
      out[n++] = hex[c >> 4];
      out[n++] = hex[c & 15];
    }
  }
  out[n] = '\0';
  return n;
}

int nc_ag_login_http(const char *host, int port, const char *user, const char *password,
                     int timeout_ms, nc_ag_login *out) {
  return nc_ag_login_http_tls(NULL, host, port, user, password, timeout_ms, out);
}

int nc_ag_login_http_tls(const struct nc_tls_cli *tls, const char *host, int port,
                         const char *user, const char *password, int timeout_ms,
                         nc_ag_login *out) {
  char why[200] = "";
  memset(out, 0, sizeof(*out));
  char form[1200], u[400], pw[700], req[1800], *resp = NULL, *body = NULL;
  form_escape(u, sizeof(u), user);
  form_escape(pw, sizeof(pw), password);
  int fl = snprintf(form, sizeof(form), "username=%s&password=%s", u, pw);
  int n = snprintf(req, sizeof(req),
                   "POST /nacos/v1/auth/login HTTP/1.0\r\nHost: %s:%d\r\n"
                   "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n"
                   "User-Agent: nacos-agent\r\n\r\n%s",
                   host, port, fl, form);
  explicit_bzero(pw, sizeof(pw));
  explicit_bzero(form, sizeof(form));
  if (n < 0 || (size_t)n >= sizeof(req)) {
    snprintf(out->message, sizeof(out->message), "credentials too long");
    return NC_EINVAL;
  }
  int rc = nc_ag_http1_tls(tls, host, port, req, (size_t)n, timeout_ms > 0 ? timeout_ms : 3000,
                           &out->http_status, &resp, &body, why, sizeof(why));
  explicit_bzero(req, sizeof(req));
  if (rc) {
    snprintf(out->message, sizeof(out->message), "login to %s:%d: %s", host, port,
             why[0] ? why : nc_strerror(rc));
    return rc;
  }
  cJSON *j = cJSON_Parse(body);
  const char *tok = nc_json_str(j, "accessToken", "");
  if (out->http_status != 200 || !*tok) {
    /* Nacos answers a refusal as plain text or {"message":...} */
    const char *why = j ? nc_json_str(j, "message", body) : body;
    snprintf(out->message, sizeof(out->message), "login refused (HTTP %d): %.200s",
             out->http_status, why);
    cJSON_Delete(j);
    free(resp);
    return out->http_status == 403 || out->http_status == 401 ? NC_EPERM : NC_EPARSE;
  }
  snprintf(out->token, sizeof(out->token), "%s", tok);
  out->ttl_s = (long)nc_json_int(j, "tokenTtl", 18000);
  cJSON_Delete(j);
  free(resp);
  return 0;
}

int nc_ag_read_secret_file(const char *path, char *out, size_t cap, char *err, size_t err_cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    snprintf(err, err_cap, "cannot read %s: %s", path, strerror(errno));
    if (fd >= 0)
      close(fd);
    return NC_EIO;
  }
  if (st.st_mode & 077) {
    snprintf(err, err_cap, "%s is readable or writable by others (mode %04o): chmod 600 it", path,
             (unsigned)(st.st_mode & 07777));
    close(fd);
    return NC_EPERM;
  }
  ssize_t n = read(fd, out, cap - 1);
  close(fd);
  if (n < 0) {
    snprintf(err, err_cap, "cannot read %s: %s", path, strerror(errno));
    return NC_EIO;
  }
  out[n] = '\0';
  out[strcspn(out, "\r\n")] = '\0';
  if (!*out) {
    snprintf(err, err_cap, "%s is empty", path);
    return NC_EINVAL;
  }
  return 0;
}
