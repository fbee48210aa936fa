/* nc_testpg: a real PostgreSQL server per test (see nc_testpg.h).
 *
 * Design note: the postmaster is exec'd directly as our child (not through
 * pg_ctl, which daemonizes it) so that we hold its pid, can waitpid it, and
 * can give it PR_SET_PDEATHSIG: a test that crashes or is killed takes its
 * servers with it. It leads its own process group, so one kill(-pid)
 * takes the backends too, as a machine crash would. initdb runs once per
 * process into a template (database nacos made in single-user mode, no
 * server start needed); each start is a cp -a of it. */
#include "nc_testpg.h"

#include "nc_err.h"
#include "nc_log.h"
#include "nc_testproc.h"
#include "nc_testwait.h"

#include <libpq-fe.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG_DEFAULT_BINDIR "/usr/lib/postgresql/15/bin"
#define PG_SUPERUSER "nacos"
#define PG_DATABASE "nacos"
#define PG_READY_MS 30000
#define PG_STOP_MS 30000
#define PG_RESTART_RETRY_MS 10000
/* In every dir we make: the pid of the test process that owns it. */
#define PG_OWNER_FILE "nc_testpg.owner"

struct nc_testpg {
  char dir[256];
  char data[300];
  char log[300];
  char url[160];
  int port;
  pid_t pid; /* postmaster, 0 when not running (reaped) */
  nc_testpg *next; /* in g_pg.live */
};

/* Per process: who runs the servers, the template, the live instances. */
static struct {
  int state; /* 0 not tried, 1 ready, -1 unavailable (why says so) */
  char why[512];
  char bindir[256];
  int drop; /* 1 when root: run everything as uid/gid */
  uid_t uid;
  gid_t gid;
  char tpl_dir[256]; /* the template's data dir is <tpl_dir>/data */
  pid_t owner;       /* the atexit handler also runs in forked children */
  nc_testpg *live;
} g_pg;

static void pg_set_why(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_pg.why, sizeof(g_pg.why), fmt, ap);
  va_end(ap);
}

/* The last cap-1 bytes of path from offset from, into out. */
static void pg_read_tail(const char *path, off_t from, char *out, size_t cap) {
  out[0] = '\0';
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  off_t end = lseek(fd, 0, SEEK_END);
  off_t at = end - (off_t)(cap - 1) > from ? end - (off_t)(cap - 1) : from;
  ssize_t n = at < end ? pread(fd, out, cap - 1, at) : 0;
  out[n > 0 ? n : 0] = '\0';
  close(fd);
  for (char *p = out; *p; p++) /* one line in a reason string */
    if (*p == '\n')
      *p = ' ';
}

static int pg_log_has(const char *path, off_t from, const char *needle) {
  char buf[8192];
  pg_read_tail(path, from, buf, sizeof(buf));
  return strstr(buf, needle) != NULL;
}

static void pg_close_from(int lowfd) {
  if (close_range((unsigned)lowfd, ~0U, 0) == 0)
    return;
  long max = sysconf(_SC_OPEN_MAX);
  for (int fd = lowfd; fd < (max > 0 ? max : 1024); fd++)
    close(fd);
}

/* Forks and execs argv[0] with stdin from in_path (NULL: /dev/null),
 * stdout+stderr appended to log_fd, in cwd, as the run user. own_group:
 * the child leads a new process group. Only async-signal-safe calls
 * between fork and exec (the test may be threaded). */
static int pg_spawn(char *const argv[], const char *cwd, const char *in_path, int log_fd,
                    int own_group, pid_t *out) {
  int in_fd = open(in_path ? in_path : "/dev/null", O_RDONLY | O_CLOEXEC);
  if (in_fd < 0)
    return NC_EIO;
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(in_fd);
    return NC_EIO;
  }
  if (pid == 0) {
    if (own_group)
      setpgid(0, 0);
    if (dup2(in_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0)
      _exit(126);
    pg_close_from(3);
    if (cwd && chdir(cwd) != 0)
      _exit(126);
    if (g_pg.drop &&
        (setgroups(1, &g_pg.gid) != 0 || setresgid(g_pg.gid, g_pg.gid, g_pg.gid) != 0 ||
         setresuid(g_pg.uid, g_pg.uid, g_pg.uid) != 0))
      _exit(126);
    /* After the uid change (which clears it); the check closes the race
     * with a parent that died before prctl. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(126);
    execv(argv[0], argv);
    _exit(127);
  }
  close(in_fd);
  if (own_group)
    setpgid(pid, pid); /* also from here, so kill(-pid) works at once */
  *out = pid;
  return 0;
}

static int pg_exit_code(int st) {
  if (WIFEXITED(st))
    return WEXITSTATUS(st);
  return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 255;
}

/* Runs argv to completion with its output appended to log_path; returns
 * its exit code or a negative NC_E*. */
static int pg_run(char *const argv[], const char *cwd, const char *in_path, const char *log_path) {
  int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    return NC_EIO;
  pid_t pid = 0;
  int rc = pg_spawn(argv, cwd, in_path, fd, 0, &pid);
  close(fd);
  if (rc != 0)
    return rc;
  int st = 0;
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR)
      return NC_EIO;
  }
  return pg_exit_code(st);
}

/* A fresh /tmp/nc-test-XXXXXX the run user owns, marked as ours. */
static int pg_mkdir(char *buf, size_t cap) {
  int rc = nc_test_mkdtemp(buf, cap);
  if (rc != 0)
    return rc;
  char owner[320];
  snprintf(owner, sizeof(owner), "%s/" PG_OWNER_FILE, buf);
  FILE *f = fopen(owner, "w");
  int ok = f && fprintf(f, "%ld\n", (long)getpid()) > 0;
  if (f)
    ok = fclose(f) == 0 && ok;
  if (!ok || (g_pg.drop && chown(buf, g_pg.uid, g_pg.gid) != 0)) {
    nc_test_rmtree(buf);
    return NC_EIO;
  }
  return 0;
}

/* 1 when the pid in path (a one-number file) names a process that is gone. */
static int pg_pid_file_dead(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f)
    return 1;
  long pid = 0;
  int n = fscanf(f, "%ld", &pid);
  fclose(f);
  if (n != 1 || pid <= 0)
    return 1;
  return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Removes the dirs of test processes that died without their atexit
 * handler (a crash, abort(), SIGKILL): PDEATHSIG killed their servers but
 * not their 30 MB dirs. Only dirs with our owner file whose owner is gone,
 * and never one a postmaster still claims. */
static void pg_sweep_stale(void) {
  DIR *d = opendir("/tmp");
  if (!d)
    return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (strncmp(e->d_name, "nc-test-", 8) != 0)
      continue;
    char dir[300], owner[340], pm[340];
    snprintf(dir, sizeof(dir), "/tmp/%s", e->d_name);
    snprintf(owner, sizeof(owner), "%s/" PG_OWNER_FILE, dir);
    snprintf(pm, sizeof(pm), "%s/data/postmaster.pid", dir);
    if (access(owner, F_OK) != 0 || !pg_pid_file_dead(owner) || !pg_pid_file_dead(pm))
      continue;
    nc_info("nc_testpg: removing %s, left by a test process that died", dir);
    nc_test_rmtree(dir);
  }
  closedir(d);
}

static void pg_kill_group(nc_testpg *pg) {
  if (pg->pid <= 0)
    return;
  kill(-pg->pid, SIGKILL);
  kill(pg->pid, SIGKILL); /* in case setpgid lost a race with exec */
  while (waitpid(pg->pid, NULL, 0) < 0 && errno == EINTR)
    ;
  pg->pid = 0;
}

static void pg_atexit(void) {
  if (getpid() != g_pg.owner)
    return;
  while (g_pg.live) {
    nc_testpg *pg = g_pg.live;
    g_pg.live = pg->next;
    pg_kill_group(pg);
    nc_test_rmtree(pg->dir);
    free(pg);
  }
  if (g_pg.tpl_dir[0])
    nc_test_rmtree(g_pg.tpl_dir);
}

/* Finds the binaries and the run user and makes the template, once. */
static int pg_init(void) {
  if (g_pg.state)
    return g_pg.state > 0 ? 0 : NC_EUNAVAIL;
  g_pg.state = -1;
  const char *bd = getenv("NC_TESTPG_BINDIR");
  snprintf(g_pg.bindir, sizeof(g_pg.bindir), "%s", bd && *bd ? bd : PG_DEFAULT_BINDIR);
  char initdb[320], postgres[320], cp[] = "/bin/cp";
  snprintf(initdb, sizeof(initdb), "%s/initdb", g_pg.bindir);
  snprintf(postgres, sizeof(postgres), "%s/postgres", g_pg.bindir);
  if (access(initdb, X_OK) != 0 || access(postgres, X_OK) != 0) {
    pg_set_why("no PostgreSQL server binaries in %s (install postgresql-15: scripts/deps.sh, "
               "or set NC_TESTPG_BINDIR)",
               g_pg.bindir);
    return NC_EUNAVAIL;
  }
  if (access(cp, X_OK) != 0) {
    pg_set_why("no %s to copy the template data dir with", cp);
    return NC_EUNAVAIL;
  }
  if (geteuid() == 0) {
    struct passwd *pw = getpwnam("postgres");
    if (!pw)
      pw = getpwnam("nobody");
    if (!pw) {
      pg_set_why("running as root (PostgreSQL refuses root) and no user postgres or nobody to "
                 "run it as");
      return NC_EUNAVAIL;
    }
    g_pg.drop = 1;
    g_pg.uid = pw->pw_uid;
    g_pg.gid = pw->pw_gid;
  }
  g_pg.owner = getpid();
  atexit(pg_atexit);
  pg_sweep_stale();
  if (pg_mkdir(g_pg.tpl_dir, sizeof(g_pg.tpl_dir)) != 0) {
    g_pg.tpl_dir[0] = '\0';
    pg_set_why("cannot make a temp dir under /tmp: %s", strerror(errno));
    return NC_EUNAVAIL;
  }
  char data[320], log[320], sql[320], tail[384];
  snprintf(data, sizeof(data), "%s/data", g_pg.tpl_dir);
  snprintf(log, sizeof(log), "%s/initdb.log", g_pg.tpl_dir);
  snprintf(sql, sizeof(sql), "%s/create.sql", g_pg.tpl_dir);
  /* --no-sync: initdb's own fsyncs only; the servers run with fsync=on.
   * 1 MB WAL segments instead of 16 make the copy per start 28 MB, not 39. */
  char *init_argv[] = {initdb, "-D", data, "-A", "trust", "-U", PG_SUPERUSER, "--no-sync",
                       "-E", "UTF8", "--locale=C", "--wal-segsize=1", NULL};
  int rc = pg_run(init_argv, g_pg.tpl_dir, NULL, log);
  if (rc != 0) {
    pg_read_tail(log, 0, tail, sizeof(tail));
    pg_set_why("initdb failed (%d): %s", rc, tail);
    return NC_EUNAVAIL;
  }
  FILE *f = fopen(sql, "w");
  if (!f || fputs("CREATE DATABASE " PG_DATABASE ";\n", f) < 0) {
    if (f)
      fclose(f);
    pg_set_why("cannot write %s", sql);
    return NC_EUNAVAIL;
  }
  fclose(f);
  /* Single-user mode makes the database without a server start;
   * exit_on_error turns a failed statement into a non-zero exit. */
  char *single_argv[] = {postgres, "--single", "-D", data, "-F", "-c", "exit_on_error=true",
                         "postgres", NULL};
  rc = pg_run(single_argv, g_pg.tpl_dir, sql, log);
  if (rc != 0) {
    pg_read_tail(log, 0, tail, sizeof(tail));
    pg_set_why("creating database " PG_DATABASE " in the template failed (%d): %s", rc, tail);
    return NC_EUNAVAIL;
  }
  g_pg.state = 1;
  return 0;
}

int nc_testpg_available(char *why, size_t cap) {
  int ok = pg_init() == 0;
  if (why && cap)
    snprintf(why, cap, "%s", ok ? "" : g_pg.why);
  return ok;
}

static int pg_free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return NC_EIO;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(a);
  int port = NC_EIO;
  if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

int nc_testpg_running(nc_testpg *pg) {
  if (pg->pid <= 0)
    return 0;
  pid_t r = waitpid(pg->pid, NULL, WNOHANG);
  if (r == pg->pid || (r < 0 && errno == ECHILD)) { /* ECHILD: SIGCHLD ignored */
    pg->pid = 0;
    return 0;
  }
  return 1;
}

static void pg_set_port(nc_testpg *pg, int port) {
  pg->port = port;
  snprintf(pg->url, sizeof(pg->url),
           "postgresql://" PG_SUPERUSER "@127.0.0.1:%d/" PG_DATABASE "?connect_timeout=5", port);
}

/* Polls until the server accepts connections. NC_ECLOSED when the
 * postmaster exited (reaped), NC_ETIMEOUT when it never got ready. */
static int pg_wait_ready(nc_testpg *pg, int timeout_ms) {
  nc_test_deadline d = nc_test_deadline_start(timeout_ms);
  for (;;) {
    if (!nc_testpg_running(pg))
      return NC_ECLOSED;
    if (PQping(pg->url) == PQPING_OK)
      return 0;
    if (!nc_test_deadline_tick(&d))
      return NC_ETIMEOUT;
  }
}

/* One postmaster launch on pg->port. 0 when it accepts connections;
 * NC_EBUSY when it exited because the port, or shared memory of a killed
 * predecessor, is still taken; else another error (the server is gone). */
static int pg_launch(nc_testpg *pg) {
  int fd = open(pg->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    return NC_EIO;
  off_t off = lseek(fd, 0, SEEK_END);
  if (off > 0)
    dprintf(fd, "----- restart on port %d -----\n", pg->port);
  char postgres[320], port[32], sock[300];
  snprintf(postgres, sizeof(postgres), "%s/postgres", g_pg.bindir);
  snprintf(port, sizeof(port), "port=%d", pg->port);
  snprintf(sock, sizeof(sock), "unix_socket_directories=%s", pg->dir);
  char *argv[] = {postgres, "-D", pg->data, "-c", "listen_addresses=127.0.0.1", "-c", port,
                  "-c", sock, "-c", "fsync=on", "-c", "max_connections=100", "-c",
                  "shared_buffers=32MB", NULL};
  int rc = pg_spawn(argv, pg->dir, NULL, fd, 1, &pg->pid);
  close(fd);
  if (rc != 0)
    return rc;
  rc = pg_wait_ready(pg, PG_READY_MS);
  if (rc == NC_ECLOSED)
    return pg_log_has(pg->log, off, "already in use") || pg_log_has(pg->log, off, "still in use")
               ? NC_EBUSY
               : NC_EIO;
  if (rc != 0)
    pg_kill_group(pg);
  return rc;
}

int nc_testpg_start(nc_testpg **out) {
  *out = NULL;
  int rc = pg_init();
  if (rc != 0) {
    fprintf(stderr, "nc_testpg: %s\n", g_pg.why);
    return rc;
  }
  nc_testpg *pg = calloc(1, sizeof(*pg));
  if (!pg)
    return NC_ENOMEM;
  pg->next = g_pg.live; /* from here on the atexit handler covers it */
  g_pg.live = pg;
  rc = pg_mkdir(pg->dir, sizeof(pg->dir));
  if (rc != 0)
    goto out;
  snprintf(pg->data, sizeof(pg->data), "%s/data", pg->dir);
  snprintf(pg->log, sizeof(pg->log), "%s/postgres.log", pg->dir);
  char cp[] = "/bin/cp", tpl[320];
  snprintf(tpl, sizeof(tpl), "%s/data", g_pg.tpl_dir);
  char *cp_argv[] = {cp, "-a", tpl, pg->data, NULL};
  if (pg_run(cp_argv, pg->dir, NULL, pg->log) != 0) {
    rc = NC_EIO;
    goto out;
  }
  for (int attempt = 0; attempt < 3; attempt++) {
    int port = pg_free_port();
    if (port < 0) {
      rc = port;
      goto out;
    }
    pg_set_port(pg, port);
    rc = pg_launch(pg);
    if (rc != NC_EBUSY)
      break;
    nc_info("nc_testpg: port %d taken, trying another", port);
  }
out:
  if (rc != 0) {
    fprintf(stderr, "nc_testpg: start failed: %s\n", nc_strerror(rc));
    nc_testpg_dump_log(pg);
    nc_testpg_free(pg);
    return rc;
  }
  *out = pg;
  return 0;
}

const char *nc_testpg_url(const nc_testpg *pg) { return pg->url; }
int nc_testpg_port(const nc_testpg *pg) { return pg->port; }
const char *nc_testpg_dir(const nc_testpg *pg) { return pg->dir; }


int nc_testpg_stop(nc_testpg *pg) {
  if (!nc_testpg_running(pg))
    return NC_ESTATE;
  kill(pg->pid, SIGINT); /* fast shutdown: what pg_ctl stop -m fast sends */
  long long waited = -1;
  NC_TEST_POLL(!nc_testpg_running(pg), PG_STOP_MS, waited);
  if (waited < 0) {
    nc_warn("nc_testpg: postgres on port %d ignored a fast shutdown; killing it", pg->port);
    pg_kill_group(pg);
    return NC_ETIMEOUT;
  }
  return 0;
}

int nc_testpg_kill9(nc_testpg *pg) {
  if (!nc_testpg_running(pg))
    return NC_ESTATE;
  pg_kill_group(pg);
  return 0;
}

int nc_testpg_restart(nc_testpg *pg) {
  if (nc_testpg_running(pg))
    return NC_ESTATE;
  /* After kill -9 the port or the old shared memory segment may linger a
   * moment while the killed backends finish exiting. */
  nc_test_deadline d = nc_test_deadline_start(PG_RESTART_RETRY_MS);
  int rc;
  while ((rc = pg_launch(pg)) == NC_EBUSY) {
    if (!nc_test_deadline_tick(&d))
      break;
  }
  if (rc != 0) {
    fprintf(stderr, "nc_testpg: restart on port %d failed: %s\n", pg->port, nc_strerror(rc));
    nc_testpg_dump_log(pg);
  }
  return rc;
}

int nc_testpg_sql(nc_testpg *pg, const char *sql, char *out, size_t cap) {
  if (out && cap)
    out[0] = '\0';
  int rc = 0;
  PGresult *res = NULL;
  PGconn *conn = PQconnectdb(pg->url);
  if (!conn)
    return NC_ENOMEM;
  if (PQstatus(conn) != CONNECTION_OK) {
    if (out && cap)
      snprintf(out, cap, "%s", PQerrorMessage(conn));
    rc = NC_EUNAVAIL;
    goto out;
  }
  res = PQexec(conn, sql);
  ExecStatusType st = PQresultStatus(res);
  if (st == PGRES_TUPLES_OK) {
    if (out && cap && PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0))
      snprintf(out, cap, "%s", PQgetvalue(res, 0, 0));
  } else if (st != PGRES_COMMAND_OK) {
    if (out && cap)
      snprintf(out, cap, "%s", PQresultErrorMessage(res));
    rc = NC_EDB;
  }
out:
  PQclear(res);
  PQfinish(conn);
  return rc;
}

void nc_testpg_dump_log(const nc_testpg *pg) {
  FILE *f = fopen(pg->log, "r");
  if (!f)
    return;
  fprintf(stderr, "----- %s -----\n", pg->log);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
    fwrite(buf, 1, n, stderr);
  fprintf(stderr, "----- end of %s -----\n", pg->log);
  fclose(f);
}

void nc_testpg_free(nc_testpg *pg) {
  if (!pg)
    return;
  pg_kill_group(pg);
  for (nc_testpg **p = &g_pg.live; *p; p = &(*p)->next) {
    if (*p == pg) {
      *p = pg->next;
      break;
    }
  }
  if (pg->dir[0])
    nc_test_rmtree(pg->dir);
  free(pg);
}
