/* nc_testargv: a growable, NULL-terminated argv for starting the real
 * binaries (base arguments, then extra lists, then formatted ones), so the
 * helpers that start nacosd and nacos-agent do not each copy arrays. */
#ifndef NC_TESTARGV_H
#define NC_TESTARGV_H

#include <stddef.h>

/* Every string is owned (copied in); argv[argc] is NULL. Zero-initialise;
 * free with nc_targv_free. An allocation failure is sticky: later adds are
 * ignored and nc_targv_ok() says 0. */
typedef struct nc_targv {
  char **argv;
  size_t argc, cap;
  int failed;
} nc_targv;

void nc_targv_add(nc_targv *a, const char *arg);
/* Adds every string of list (NULL-terminated; NULL adds nothing). */
void nc_targv_add_list(nc_targv *a, const char *const *list);
void nc_targv_addf(nc_targv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 1 when every add succeeded (and argv is non-NULL). */
int nc_targv_ok(const nc_targv *a);
/* The arguments joined by spaces into buf (for logs). */
void nc_targv_join(const nc_targv *a, char *buf, size_t cap);
void nc_targv_free(nc_targv *a);

#endif
