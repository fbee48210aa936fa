/* nc_testwd: see nc_testwd.h. */
#include "nc_testwd.h"

#include "nc_testproc.h"
#include "nc_testwait.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* The W3C element reference key. */
#define ELEM_KEY "element-6066-11e4-a52e-4f735466cecf"

struct nc_twd {
  nc_testproc proc;
  char dir[64];
  char log[128];
  int port;
  char session[128];
  char err[512];
};

static const char *env_or(const char *name, const char *dflt) {
  const char *v = getenv(name);
  return v && *v ? v : dflt;
}
static const char *chromium_bin(void) { return env_or("NC_TEST_CHROMIUM", "/usr/bin/chromium"); }
static const char *driver_bin(void) {
  return env_or("NC_TEST_CHROMEDRIVER", "/usr/bin/chromedriver");
}

int nc_twd_available(char *why, size_t cap) {
  const char *b[2] = {chromium_bin(), driver_bin()};
  for (int i = 0; i < 2; i++) {
    if (access(b[i], X_OK) != 0) {
      snprintf(why, cap, "%s not found (apt-get install chromium chromium-driver)", b[i]);
      return 0;
    }
  }
  return 1;
}

const char *nc_twd_error(const nc_twd *w) { return w->err; }

/* ---- HTTP/1.1 to chromedriver (one connection per command) ---- */

/* Decodes a chunked body in place; returns its length. */
static size_t unchunk(char *b, size_t n) {
  size_t in = 0, out = 0;
  while (in < n) {
    char *end = NULL;
    unsigned long len = strtoul(b + in, &end, 16);
    char *crlf = strstr(b + in, "\r\n");
    if (!crlf || len == 0)
      break;
    in = (size_t)(crlf - b) + 2;
    if (in + len > n)
      len = n - in;
    memmove(b + out, b + in, len);
    out += len;
    in += len + 2;
  }
  b[out] = '\0';
  return out;
}

/* One request; the response's JSON "value" (owned by the caller) or NULL
 * with w->err set. */
static cJSON *wd_call(nc_twd *w, const char *method, const char *path, const cJSON *body) {
  char *payload = body ? cJSON_PrintUnformatted(body) : NULL;
  size_t plen = payload ? strlen(payload) : 0;
  char head[512];
  int hl = snprintf(head, sizeof(head),
                    "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json; "
                    "charset=utf-8\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                    method, path, w->port, plen);
  cJSON *value = NULL;
  char *resp = NULL;
  size_t rlen = 0, rcap = 0;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)w->port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct timeval tv = {nc_test_timeout_ms(60000) / 1000, 0};
  w->err[0] = '\0';
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
      connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
      send(fd, head, (size_t)hl, MSG_NOSIGNAL) != hl ||
      (plen && send(fd, payload, plen, MSG_NOSIGNAL) != (ssize_t)plen)) {
    snprintf(w->err, sizeof(w->err), "chromedriver %s %s: %s", method, path, strerror(errno));
    goto out;
  }
  for (;;) {
    if (rlen + 4097 > rcap) {
      rcap = rcap ? rcap * 2 : 65536;
      char *nb = realloc(resp, rcap);
      if (!nb)
        goto out;
      resp = nb;
    }
    ssize_t k = recv(fd, resp + rlen, rcap - rlen - 1, 0);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      break;
    rlen += (size_t)k;
    /* chromedriver keeps the connection open: stop at Content-Length */
    resp[rlen] = '\0';
    char *hend = strstr(resp, "\r\n\r\n");
    const char *cl = hend ? strcasestr(resp, "\r\nContent-Length:") : NULL;
    if (cl && cl < hend && rlen >= (size_t)(hend + 4 - resp) + strtoul(cl + 17, NULL, 10))
      break;
  }
  if (!resp) {
    snprintf(w->err, sizeof(w->err), "chromedriver %s %s: no answer", method, path);
    goto out;
  }
  resp[rlen] = '\0';
  int status = 0;
  char *sep = strstr(resp, "\r\n\r\n");
  if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1 || !sep) {
    snprintf(w->err, sizeof(w->err), "chromedriver %s %s: bad answer", method, path);
    goto out;
  }
  *sep = '\0';
  char *b = sep + 4;
  size_t blen = rlen - (size_t)(b - resp);
  if (strcasestr(resp, "Transfer-Encoding: chunked"))
    blen = unchunk(b, blen);
  cJSON *j = cJSON_ParseWithLength(b, blen);
  cJSON *v = j ? cJSON_DetachItemFromObject(j, "value") : NULL;
  cJSON_Delete(j);
  if (getenv("NC_TWD_TRACE"))
    fprintf(stderr, "wd %s %s -> %d %.200s\n", method, path, status, b);
  if (status != 200 || !v) {
    const char *e = v ? cJSON_GetStringValue(cJSON_GetObjectItem(v, "error")) : NULL;
    const char *m = v ? cJSON_GetStringValue(cJSON_GetObjectItem(v, "message")) : NULL;
    snprintf(w->err, sizeof(w->err), "%s %s: HTTP %d %s: %.300s", method, path, status,
             e ? e : "", m ? m : b);
    cJSON_Delete(v);
    goto out;
  }
  value = v;
out:
  if (fd >= 0)
    close(fd);
  free(resp);
  free(payload);
  return value;
}

/* A call on the session: path is appended to /session/<id>. */
static cJSON *sess(nc_twd *w, const char *method, const char *path, cJSON *body) {
  char p[512];
  snprintf(p, sizeof(p), "/session/%s%s", w->session, path);
  cJSON *v = wd_call(w, method, p, body);
  cJSON_Delete(body);
  return v;
}

static int sess_ok(nc_twd *w, const char *method, const char *path, cJSON *body) {
  cJSON *v = sess(w, method, path, body);
  cJSON_Delete(v);
  return v ? 0 : -1;
}

/* ---- start and stop ---- */

static int read_port(nc_twd *w, int timeout_ms) {
  nc_test_deadline d = nc_test_deadline_start(timeout_ms);
  do {
    FILE *f = fopen(w->log, "r");
    char line[512];
    while (f && fgets(line, sizeof(line), f)) {
      const char *p = strstr(line, "started successfully on port ");
      if (p && (w->port = atoi(p + strlen("started successfully on port "))) > 0) {
        fclose(f);
        return 0;
      }
    }
    if (f)
      fclose(f);
    if (!nc_testproc_alive(&w->proc))
      return -1;
  } while (nc_test_deadline_tick(&d));
  return -1;
}

static cJSON *capabilities(const nc_twd *w, int width, int height) {
  char arg[256];
  cJSON *c = cJSON_CreateObject(), *am = cJSON_AddObjectToObject(
                                     cJSON_AddObjectToObject(c, "capabilities"), "alwaysMatch");
  cJSON_AddStringToObject(am, "browserName", "chrome");
  cJSON *o = cJSON_AddObjectToObject(am, "goog:chromeOptions");
  cJSON_AddStringToObject(o, "binary", chromium_bin());
  cJSON *args = cJSON_AddArrayToObject(o, "args");
  const char *fixed[] = {"--headless=new", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", "--no-default-browser-check",
                         "--disable-background-networking", "--disable-extensions",
                         "--disable-sync", "--metrics-recording-only", "--hide-scrollbars",
                         "--force-device-scale-factor=1", NULL};
  for (int i = 0; fixed[i]; i++)
    cJSON_AddItemToArray(args, cJSON_CreateString(fixed[i]));
  if (geteuid() == 0)
    cJSON_AddItemToArray(args, cJSON_CreateString("--no-sandbox"));
  snprintf(arg, sizeof(arg), "--user-data-dir=%s/profile", w->dir);
  cJSON_AddItemToArray(args, cJSON_CreateString(arg));
  snprintf(arg, sizeof(arg), "--window-size=%d,%d", width, height);
  cJSON_AddItemToArray(args, cJSON_CreateString(arg));
  return c;
}

int nc_twd_start(int width, int height, nc_twd **out) {
  nc_twd *w = calloc(1, sizeof(*w));
  *out = NULL;
  if (!w || nc_test_mkdtemp(w->dir, sizeof(w->dir)) != 0) {
    free(w);
    return -1;
  }
  snprintf(w->log, sizeof(w->log), "%s/chromedriver.log", w->dir);
  char *argv[] = {(char *)driver_bin(), "--port=0", NULL};
  if (nc_testproc_start(&w->proc, driver_bin(), argv, w->log) != 0 ||
      read_port(w, 15000) != 0) {
    fprintf(stderr, "nc_testwd: chromedriver did not start\n");
    nc_testproc_dump_log(&w->proc);
    nc_twd_stop(w);
    return -1;
  }
  cJSON *caps = capabilities(w, width > 0 ? width : 1280, height > 0 ? height : 900);
  cJSON *v = wd_call(w, "POST", "/session", caps);
  cJSON_Delete(caps);
  const char *id = v ? cJSON_GetStringValue(cJSON_GetObjectItem(v, "sessionId")) : NULL;
  if (!id) {
    fprintf(stderr, "nc_testwd: no session: %s\n", w->err);
    cJSON_Delete(v);
    nc_twd_stop(w);
    return -1;
  }
  snprintf(w->session, sizeof(w->session), "%s", id);
  cJSON_Delete(v);
  /* scripts may wait a little; element lookups do not (tests poll) */
  cJSON *t = cJSON_CreateObject();
  cJSON_AddNumberToObject(t, "script", nc_test_timeout_ms(30000));
  cJSON_AddNumberToObject(t, "pageLoad", nc_test_timeout_ms(30000));
  cJSON_AddNumberToObject(t, "implicit", 0);
  sess_ok(w, "POST", "/timeouts", t);
  *out = w;
  return 0;
}

void nc_twd_stop(nc_twd *w) {
  if (!w)
    return;
  if (w->session[0])
    sess_ok(w, "DELETE", "", NULL); /* closes the browser */
  if (w->proc.pid > 0)
    nc_testproc_stop(&w->proc);
  const char *keep = getenv("NC_TEST_KEEP_TMP");
  if (keep && *keep == '1')
    fprintf(stderr, "nc_testwd: kept %s\n", w->dir);
  else if (w->dir[0])
    nc_test_rmtree(w->dir);
  free(w);
}

/* ---- commands ---- */

int nc_twd_get(nc_twd *w, const char *url) {
  cJSON *b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "url", url);
  return sess_ok(w, "POST", "/url", b);
}

int nc_twd_window_size(nc_twd *w, int width, int height) {
  cJSON *b = cJSON_CreateObject();
  cJSON_AddNumberToObject(b, "width", width);
  cJSON_AddNumberToObject(b, "height", height);
  return sess_ok(w, "POST", "/window/rect", b);
}

int nc_twd_exec(nc_twd *w, const char *script, cJSON **out) {
  cJSON *b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "script", script);
  cJSON_AddArrayToObject(b, "args");
  cJSON *v = sess(w, "POST", "/execute/sync", b);
  if (out)
    *out = v;
  else
    cJSON_Delete(v);
  return v ? 0 : -1;
}

char *nc_twd_exec_str(nc_twd *w, const char *script) {
  cJSON *v = NULL;
  char *s = NULL;
  if (nc_twd_exec(w, script, &v) != 0)
    return NULL;
  if (cJSON_IsString(v))
    s = strdup(v->valuestring);
  else if (!cJSON_IsNull(v))
    s = cJSON_PrintUnformatted(v);
  cJSON_Delete(v);
  return s;
}

int nc_twd_wait(nc_twd *w, const char *expr, int timeout_ms) {
  char script[4096];
  snprintf(script, sizeof(script), "return !!(%s);", expr);
  nc_test_deadline d = nc_test_deadline_start(timeout_ms);
  do {
    cJSON *v = NULL;
    if (nc_twd_exec(w, script, &v) == 0 && cJSON_IsTrue(v)) {
      cJSON_Delete(v);
      return 0;
    }
    cJSON_Delete(v);
  } while (nc_test_deadline_tick(&d));
  snprintf(w->err, sizeof(w->err), "timed out waiting for: %.400s", expr);
  return -1;
}

int nc_twd_find(nc_twd *w, const char *css, char *id, size_t cap) {
  cJSON *b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "using", "css selector");
  cJSON_AddStringToObject(b, "value", css);
  cJSON *v = sess(w, "POST", "/element", b);
  const char *e = v ? cJSON_GetStringValue(cJSON_GetObjectItem(v, ELEM_KEY)) : NULL;
  if (e)
    snprintf(id, cap, "%s", e);
  cJSON_Delete(v);
  return e ? 0 : -1;
}

/* An element command: /element/<id of css><suffix>. */
/* The command on the first match of css. A page that re-renders (a list
 * refreshed on a timer) can replace the element between the find and the
 * command: "stale element reference" is retried with a fresh find, a few
 * times. */
static cJSON *on_elem(nc_twd *w, const char *css, const char *method, const char *suffix,
                      cJSON *body) {
  char id[128], p[256];
  cJSON *v = NULL;
  for (int tries = 0; tries < 4; tries++) {
    if (nc_twd_find(w, css, id, sizeof(id)) != 0)
      break;
    snprintf(p, sizeof(p), "/element/%s%s", id, suffix);
    v = sess(w, method, p, body ? cJSON_Duplicate(body, 1) : NULL);
    if (v || !strstr(w->err, "stale element"))
      break;
  }
  cJSON_Delete(body);
  return v;
}

int nc_twd_click(nc_twd *w, const char *css) {
  cJSON *v = on_elem(w, css, "POST", "/click", cJSON_CreateObject());
  cJSON_Delete(v);
  return v ? 0 : -1;
}

int nc_twd_type(nc_twd *w, const char *css, const char *text) {
  cJSON *v = on_elem(w, css, "POST", "/clear", cJSON_CreateObject());
  if (!v)
    return -1;
  cJSON_Delete(v);
  cJSON *b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "text", text);
  v = on_elem(w, css, "POST", "/value", b);
  cJSON_Delete(v);
  return v ? 0 : -1;
}

char *nc_twd_text(nc_twd *w, const char *css) {
  cJSON *v = on_elem(w, css, "GET", "/text", NULL);
  char *s = cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
  cJSON_Delete(v);
  return s;
}

/* ---- screenshots ---- */

static int b64val(int c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Decodes base64 (padding and stray characters skipped) into out (at least
 * 3/4 of strlen(in)); returns the byte count. */
static size_t b64decode(const char *in, unsigned char *out) {
  size_t n = 0;
  unsigned acc = 0;
  int bits = 0;
  for (; *in; in++) {
    int v = b64val((unsigned char)*in);
    if (v < 0)
      continue;
    acc = (acc << 6) | (unsigned)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (unsigned char)(acc >> bits);
    }
  }
  return n;
}

int nc_twd_screenshot(nc_twd *w, const char *path) {
  cJSON *v = sess(w, "GET", "/screenshot", NULL);
  int rc = -1;
  if (!cJSON_IsString(v))
    goto out;
  size_t len = strlen(v->valuestring);
  unsigned char *png = malloc(len / 4 * 3 + 3);
  if (!png)
    goto out;
  size_t n = b64decode(v->valuestring, png);
  FILE *f = fopen(path, "wb");
  if (f && fwrite(png, 1, n, f) == n && n > 8 && !memcmp(png, "\x89PNG", 4))
    rc = 0;
  else
    snprintf(w->err, sizeof(w->err), "screenshot to %s failed", path);
  if (f)
    fclose(f);
  free(png);
out:
  cJSON_Delete(v);
  return rc;
}
