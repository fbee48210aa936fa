/* nc_mhd: libmicrohttpd, loaded when the first HTTP server starts rather
 * than linked. libmicrohttpd pulls in GnuTLS and seven more libraries
 * (~2.4 MB of mapped pages); nacos-agent serves HTTP only with
 * --metrics-listen, and must not carry them otherwise (it was built on
 * nghttp2 to stay small, see README). nc_http.c includes this after
 * <microhttpd.h>: every MHD_* call below then goes through the table.
 * Private to common/http. */
#ifndef NC_MHD_H
#define NC_MHD_H

#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <stddef.h>

/* The one library name we load: the soname of Debian 12's libmicrohttpd12
 * (stable since MHD 0.9.45). */
#define NC_MHD_SONAME "libmicrohttpd.so.12"

typedef struct nc_mhd_api {
  __typeof__(MHD_start_daemon) *start_daemon;
  __typeof__(MHD_stop_daemon) *stop_daemon;
  __typeof__(MHD_run) *run;
  __typeof__(MHD_get_timeout) *get_timeout;
  __typeof__(MHD_get_daemon_info) *get_daemon_info;
  __typeof__(MHD_get_connection_info) *get_connection_info;
  __typeof__(MHD_lookup_connection_value) *lookup_connection_value;
  __typeof__(MHD_http_unescape) *http_unescape;
  __typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
  __typeof__(MHD_add_response_header) *add_response_header;
  __typeof__(MHD_destroy_response) *destroy_response;
  __typeof__(MHD_queue_response) *queue_response;
  __typeof__(MHD_suspend_connection) *suspend_connection;
  __typeof__(MHD_resume_connection) *resume_connection;
} nc_mhd_api;

extern nc_mhd_api nc_mhd;

/* Loads the library once per process (thread-safe). 0, or -1 with the
 * reason in err. */
int nc_mhd_load(char *err, size_t cap);

/* The few GnuTLS calls the client-certificate check makes (nc_http_opts'
 * tls_client_ca_pem): libmicrohttpd does the TLS but leaves verifying a
 * client's certificate to the application. Linking GnuTLS would undo the
 * point of loading MHD lazily, so these come from the libgnutls that MHD
 * itself brought in (same soname, already mapped: no new pages). */
#define NC_GNUTLS_SONAME "libgnutls.so.30"

typedef struct nc_gnutls_api {
  __typeof__(gnutls_certificate_verify_peers) *certificate_verify_peers;
  __typeof__(gnutls_strerror) *strerror;
} nc_gnutls_api;

extern nc_gnutls_api nc_gnutls;

/* Loads nc_gnutls once per process (after nc_mhd_load). 0, or -1 with the
 * reason in err. */
int nc_gnutls_load(char *err, size_t cap);

/* nc_mhd.c defines NC_MHD_NO_MACROS to name the real symbols. */
#ifndef NC_MHD_NO_MACROS
#define MHD_start_daemon nc_mhd.start_daemon
#define MHD_stop_daemon nc_mhd.stop_daemon
#define MHD_run nc_mhd.run
#define MHD_get_timeout nc_mhd.get_timeout
#define MHD_get_daemon_info nc_mhd.get_daemon_info
#define MHD_get_connection_info nc_mhd.get_connection_info
#define MHD_lookup_connection_value nc_mhd.lookup_connection_value
#define MHD_http_unescape nc_mhd.http_unescape
#define MHD_create_response_from_buffer nc_mhd.create_response_from_buffer
#define MHD_add_response_header nc_mhd.add_response_header
#define MHD_destroy_response nc_mhd.destroy_response
#define MHD_queue_response nc_mhd.queue_response
#define MHD_suspend_connection nc_mhd.suspend_connection
#define MHD_resume_connection nc_mhd.resume_connection
#endif

#endif
