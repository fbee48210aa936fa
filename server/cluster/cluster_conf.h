/* cluster_conf: the static member list of a nacosd cluster and this
 * node's own address (nacos-cluster.md §1.2, §1.3). Pure functions (no
 * loop, no state), so the rules are unit-tested on their own.
 *
 * Addresses are "host:port" with the MAIN (HTTP) port; an IPv6 host keeps
 * its brackets ("[::1]:8848"), so the address is always host + ":" + port
 * and byte-identical to what every node derives from the same list. A
 * member without a port gets default_port: nacosd passes its own --port
 * (Nacos uses server.port the same way, default 8848), so a list of bare
 * IPs works for a cluster that shares one port. */
#ifndef NC_CLUSTER_CONF_H
#define NC_CLUSTER_CONF_H

#include <stddef.h>

/* A parsed member list: sorted, without duplicates. */
typedef struct nc_cluster_list {
  char **addr; /* "host:port", owned */
  size_t n;
} nc_cluster_list;

void nc_cluster_list_free(nc_cluster_list *l);

/* Splits "host[:port]" / "[v6][:port]" into host (brackets kept for v6)
 * and port (default_port when absent). 0, or NC_EINVAL for an empty host,
 * whitespace, a port that is not 1..65535 digits (e.g. "8848?raft_port=1")
 * or an unbalanced bracket. */
int nc_cluster_split_addr(const char *s, int default_port, char *host, size_t cap, int *port);

/* cluster.conf text as Nacos reads it (§1.2): lines of length 0 are
 * skipped, others trimmed; a line starting with '#' is a comment, else
 * everything from the first '#' is cut; a line with ',' holds several
 * members (elements not trimmed: a blank one or one with spaces is an
 * error, trailing empty ones are dropped as Java's split drops them). Any
 * bad entry fails the whole text (Nacos discards the read) with a message
 * naming the line in err. An empty result is an error too. */
int nc_cluster_conf_parse(const char *text, int default_port, nc_cluster_list *out, char *err,
                          size_t errcap);
/* Reads and parses the file at path. NC_EIO (err says why) when unreadable. */
int nc_cluster_conf_read(const char *path, int default_port, nc_cluster_list *out, char *err,
                         size_t errcap);
/* --members "a:1, b:2": split on ',' and trimmed (as nacos.member.list);
 * empty elements skipped. Errors as above. */
int nc_cluster_members_parse(const char *list, int default_port, nc_cluster_list *out,
                             char *err, size_t errcap);

/* The first non-loopback IPv4 address of an UP interface, lowest
 * interface index first; "127.0.0.1" when there is none (§1.3). */
void nc_cluster_local_ip(char *buf, size_t cap);

/* This node's address: advertise_ip (an IPv6 one gets brackets) or
 * nc_cluster_local_ip, with main_port. It must be in l: else NC_EINVAL and
 * err names the address and the list. */
int nc_cluster_find_self(const nc_cluster_list *l, const char *advertise_ip, int main_port,
                         char *self, size_t cap, char *err, size_t errcap);

/* 1 when l holds addr. */
int nc_cluster_list_has(const nc_cluster_list *l, const char *addr);

#endif
