/* nc_testwd: a small W3C WebDriver client for the browser tests of the web
 * console: starts Debian's chromedriver (/usr/bin/chromedriver, port 0,
 * the port read back from its log) with a headless chromium
 * (/usr/bin/chromium, --no-sandbox when root, its own temp user-data-dir),
 * opens one session and speaks the WebDriver HTTP protocol to it over a
 * plain loopback socket: navigate, find by CSS selector, real element
 * clicks and typing, scripts, waiting for a condition, PNG screenshots.
 *
 * NC_TEST_CHROMIUM and NC_TEST_CHROMEDRIVER override the two paths;
 * nc_twd_available() tells a test to skip when either is missing.
 * NC_TEST_KEEP_TMP=1 keeps the temp dir (chromedriver.log is there);
 * NC_TWD_TRACE=1 prints every WebDriver exchange to stderr.
 *
 * Not thread-safe; one test thread drives one browser. Functions return 0
 * or -1 (the WebDriver error, e.g. "no such element: ...", in
 * nc_twd_error()) unless stated. Timeouts are scaled by
 * NC_TEST_TIMEOUT_MULTIPLIER. */
#ifndef NC_TESTWD_H
#define NC_TESTWD_H

#include <cjson/cJSON.h>
#include <stddef.h>

typedef struct nc_twd nc_twd;

/* 1 when chromium and chromedriver are installed (executable); else 0 with
 * the reason in why. */
int nc_twd_available(char *why, size_t cap);

/* Starts chromedriver and a browser session with a width x height window
 * (0: 1280 x 900). *out owned by the caller (nc_twd_stop). */
int nc_twd_start(int width, int height, nc_twd **out);
/* Ends the session (the browser exits), stops chromedriver, removes the
 * temp dir. NULL: no-op. */
void nc_twd_stop(nc_twd *w);
/* The last WebDriver error message ("" when none). */
const char *nc_twd_error(const nc_twd *w);

/* Navigates to url and waits for the page's load event. */
int nc_twd_get(nc_twd *w, const char *url);
/* Sets the window size (a responsive-layout screenshot). */
int nc_twd_window_size(nc_twd *w, int width, int height);

/* Runs script (a function body: `return ...;`) in the page; *out (may be
 * NULL) gets the returned value, owned by the caller (cJSON_Delete). */
int nc_twd_exec(nc_twd *w, const char *script, cJSON **out);
/* The script's result as a string (numbers and booleans printed; NULL on
 * error or for null/undefined), malloc'ed. */
char *nc_twd_exec_str(nc_twd *w, const char *script);
/* Polls the JS expression expr (every 100 ms) until it is truthy. 0, or -1
 * on timeout (the expression is in nc_twd_error). */
int nc_twd_wait(nc_twd *w, const char *expr, int timeout_ms);

/* The WebDriver element id of the first match of css into id (cap >= 80). */
int nc_twd_find(nc_twd *w, const char *css, char *id, size_t cap);
/* A real click (WebDriver Element Click: scrolled into view, refused when
 * another element covers it) on the first match of css. */
int nc_twd_click(nc_twd *w, const char *css);
/* Clears the field and types text into it (Element Send Keys). */
int nc_twd_type(nc_twd *w, const char *css, const char *text);
/* The rendered text of the first match of css, malloc'ed; NULL on error. */
char *nc_twd_text(nc_twd *w, const char *css);

/* Saves a PNG screenshot of the window to path. */
int nc_twd_screenshot(nc_twd *w, const char *path);

#endif
