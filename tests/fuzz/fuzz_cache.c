/* fuzz_cache: the agent's disk cache loader and what the agent does with a
 * loaded entry: nc_cache's file reading and JSON checks, then (as a
 * disconnected agent answers from its cache) the host list taken into the
 * desired state, filtered by cluster and health and sent to an app, or the
 * config content and its MD5 sent to an app.
 *
 * The agent is agent_fixture.h's. An input's first byte picks the file
 * (even: the service demo.svc's host list, odd: the config app.properties);
 * the rest is that file's content, written where nc_cache keeps it. An app
 * then asks for it (naming.instances with and without a cluster filter and
 * healthy_only, naming.subscribe; or config.get and config.listen); every
 * answer must be a well-formed reply. */
#include "agent_fixture.h"
#include "cache.h"

#include <dirent.h>
#include <sys/stat.h>

static char hosts_path[512], config_path[512];

/* Finds the one file nc_cache wrote under dir (the names are nc_cache's). */
static void find_file(const char *sub, char *out, size_t cap) {
  char d[400];
  snprintf(d, sizeof(d), "%s/cache/%s", fxa_dir, sub);
  DIR *dp = opendir(d);
  struct dirent *e;
  FZ_CHECK(dp != NULL);
  out[0] = '\0';
  while ((e = readdir(dp)))
    if (e->d_name[0] != '.')
      snprintf(out, cap, "%s/%s", d, e->d_name);
  closedir(dp);
  FZ_CHECK(out[0] != '\0');
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fxa_start();
  /* Entries written by the agent's own cache code: their paths are where
   * the inputs go. */
  cJSON *hosts = cJSON_CreateArray();
  FZ_CHECK(hosts && nc_cache_put_hosts(fxa_agent->cache, "", "DEFAULT_GROUP", "demo.svc",
                                       hosts) == 0);
  cJSON_Delete(hosts);
  FZ_CHECK(nc_cache_put_config(fxa_agent->cache, "", "DEFAULT_GROUP", "app.properties", "a=1",
                               "") == 0);
  find_file("naming", hosts_path, sizeof(hosts_path));
  find_file("config", config_path, sizeof(config_path));
  return 0;
}

static const char naming_reads[] =
    "{\"id\":1,\"op\":\"naming.instances\",\"service\":\"demo.svc\"}\n"
    "{\"id\":2,\"op\":\"naming.instances\",\"service\":\"demo.svc\",\"healthy_only\":true}\n"
    "{\"id\":3,\"op\":\"naming.subscribe\",\"service\":\"demo.svc\",\"clusters\":[\"DEFAULT\"]}\n"
    "{\"id\":4,\"op\":\"naming.instances\",\"service\":\"demo.svc\"}\n";
static const char config_reads[] =
    "{\"id\":1,\"op\":\"config.get\",\"data_id\":\"app.properties\"}\n"
    "{\"id\":2,\"op\":\"config.listen\",\"data_id\":\"app.properties\"}\n"
    "{\"id\":3,\"op\":\"config.get\",\"data_id\":\"app.properties\"}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char resp[65536];
  size_t got = 0;
  if (size < 1)
    return 0;
  int naming = (data[0] & 1) == 0;
  const char *path = naming ? hosts_path : config_path;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  FZ_CHECK(fd >= 0);
  FZ_CHECK(write(fd, data + 1, size - 1) == (ssize_t)(size - 1));
  close(fd);
  const char *reads = naming ? naming_reads : config_reads;
  fxa_session((const uint8_t *)reads, strlen(reads), resp, sizeof(resp), &got);
  /* One reply per request, whatever the file held. */
  size_t lines = 0;
  for (size_t i = 0; i < got; i++)
    lines += resp[i] == '\n';
  FZ_CHECK(lines >= (naming ? 4u : 3u));
  return 0;
}
