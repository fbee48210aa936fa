/* nc_tls_ossl: OpenSSL for the client side, loaded when the first client
 * context is made (nc_tls_cli_new) rather than linked. Linking libssl and
 * libcrypto costs every nacos-agent ~1.9 MB of resident memory (2.3 MB ->
 * 4.2 MB idle, measured on a Release build), TLS on or not; the agent was
 * built on nghttp2 to stay small (README), as libmicrohttpd is loaded only
 * with --metrics-listen (common/http/internal/nc_mhd.h). A program that
 * links OpenSSL anyway (nacosd, the tests) gets the same library back.
 *
 * The files that call OpenSSL for a client (nc_tls_cli.c, common/gcli's
 * nc_h2_tls.c, agent/http1.c) include this after the OpenSSL headers:
 * every call below then goes through the table, also those OpenSSL's own
 * macros expand to (SSL_ctrl, BIO_ctrl, ...). Only call them once
 * nc_tls_ossl_load succeeded (an nc_tls_cli exists). */
#ifndef NC_TLS_OSSL_H
#define NC_TLS_OSSL_H

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stddef.h>

/* Debian 12's libssl3 (it brings libcrypto.so.3, where dlsym finds the
 * ERR_ and X509_ symbols). */
#define NC_TLS_OSSL_SONAME "libssl.so.3"

#define NC_TLS_OSSL_FUNCS(X)                                                                       \
  X(TLS_client_method)                                                                             \
  X(SSL_CTX_new)                                                                                   \
  X(SSL_CTX_free)                                                                                  \
  X(SSL_CTX_ctrl)                                                                                  \
  X(SSL_CTX_set_verify)                                                                            \
  X(SSL_CTX_load_verify_locations)                                                                 \
  X(SSL_CTX_set_default_verify_paths)                                                              \
  X(SSL_CTX_use_certificate_chain_file)                                                            \
  X(SSL_CTX_use_PrivateKey_file)                                                                   \
  X(SSL_CTX_check_private_key)                                                                     \
  X(SSL_CTX_set_alpn_protos)                                                                       \
  X(SSL_new)                                                                                       \
  X(SSL_free)                                                                                      \
  X(SSL_get0_param)                                                                                \
  X(SSL_ctrl)                                                                                      \
  X(SSL_set1_host)                                                                                 \
  X(SSL_set_connect_state)                                                                         \
  X(SSL_get_error)                                                                                 \
  X(SSL_get_verify_result)                                                                         \
  X(SSL_is_init_finished)                                                                          \
  X(SSL_get0_alpn_selected)                                                                        \
  X(SSL_set_bio)                                                                                   \
  X(SSL_do_handshake)                                                                              \
  X(SSL_read)                                                                                      \
  X(SSL_write)                                                                                     \
  X(SSL_get_version)                                                                               \
  X(SSL_get_current_cipher)                                                                        \
  X(SSL_CIPHER_get_name)                                                                           \
  X(SSL_set_options)                                                                               \
  X(SSL_set_fd)                                                                                    \
  X(SSL_connect)                                                                                   \
  X(SSL_shutdown)                                                                                  \
  X(BIO_new)                                                                                       \
  X(BIO_s_mem)                                                                                     \
  X(BIO_ctrl)                                                                                      \
  X(BIO_free)                                                                                      \
  X(BIO_read)                                                                                      \
  X(BIO_write)                                                                                     \
  X(BIO_ctrl_pending)                                                                              \
  X(ERR_clear_error)                                                                               \
  X(ERR_error_string_n)                                                                            \
  X(ERR_peek_last_error)                                                                           \
  X(ERR_reason_error_string)                                                                       \
  X(X509_VERIFY_PARAM_set1_ip_asc)                                                                 \
  X(X509_VERIFY_PARAM_set_hostflags)                                                               \
  X(X509_verify_cert_error_string)

typedef struct nc_tls_ossl_api {
#define NC_TLS_OSSL_FIELD(f) __typeof__(f) *f;
  NC_TLS_OSSL_FUNCS(NC_TLS_OSSL_FIELD)
#undef NC_TLS_OSSL_FIELD
} nc_tls_ossl_api;

extern nc_tls_ossl_api nc_tls_ossl;

/* Loads the library once per process (thread-safe). 0, or -1 with the
 * reason in err. */
int nc_tls_ossl_load(char *err, size_t cap);

/* nc_tls_ossl.c defines NC_TLS_OSSL_NO_MACROS to name the real symbols. */
#ifndef NC_TLS_OSSL_NO_MACROS
#define TLS_client_method nc_tls_ossl.TLS_client_method
#define SSL_CTX_new nc_tls_ossl.SSL_CTX_new
#define SSL_CTX_free nc_tls_ossl.SSL_CTX_free
#define SSL_CTX_ctrl nc_tls_ossl.SSL_CTX_ctrl
#define SSL_CTX_set_verify nc_tls_ossl.SSL_CTX_set_verify
#define SSL_CTX_load_verify_locations nc_tls_ossl.SSL_CTX_load_verify_locations
#define SSL_CTX_set_default_verify_paths nc_tls_ossl.SSL_CTX_set_default_verify_paths
#define SSL_CTX_use_certificate_chain_file nc_tls_ossl.SSL_CTX_use_certificate_chain_file
#define SSL_CTX_use_PrivateKey_file nc_tls_ossl.SSL_CTX_use_PrivateKey_file
#define SSL_CTX_check_private_key nc_tls_ossl.SSL_CTX_check_private_key
#define SSL_CTX_set_alpn_protos nc_tls_ossl.SSL_CTX_set_alpn_protos
#define SSL_new nc_tls_ossl.SSL_new
#define SSL_free nc_tls_ossl.SSL_free
#define SSL_get0_param nc_tls_ossl.SSL_get0_param
#define SSL_ctrl nc_tls_ossl.SSL_ctrl
#define SSL_set1_host nc_tls_ossl.SSL_set1_host
#define SSL_set_connect_state nc_tls_ossl.SSL_set_connect_state
#define SSL_get_error nc_tls_ossl.SSL_get_error
#define SSL_get_verify_result nc_tls_ossl.SSL_get_verify_result
#define SSL_is_init_finished nc_tls_ossl.SSL_is_init_finished
#define SSL_get0_alpn_selected nc_tls_ossl.SSL_get0_alpn_selected
#define SSL_set_bio nc_tls_ossl.SSL_set_bio
#define SSL_do_handshake nc_tls_ossl.SSL_do_handshake
#define SSL_read nc_tls_ossl.SSL_read
#define SSL_write nc_tls_ossl.SSL_write
#define SSL_get_version nc_tls_ossl.SSL_get_version
#define SSL_get_current_cipher nc_tls_ossl.SSL_get_current_cipher
#define SSL_CIPHER_get_name nc_tls_ossl.SSL_CIPHER_get_name
#define SSL_set_options nc_tls_ossl.SSL_set_options
#define SSL_set_fd nc_tls_ossl.SSL_set_fd
#define SSL_connect nc_tls_ossl.SSL_connect
#define SSL_shutdown nc_tls_ossl.SSL_shutdown
#define BIO_new nc_tls_ossl.BIO_new
#define BIO_s_mem nc_tls_ossl.BIO_s_mem
#define BIO_ctrl nc_tls_ossl.BIO_ctrl
#define BIO_free nc_tls_ossl.BIO_free
#define BIO_read nc_tls_ossl.BIO_read
#define BIO_write nc_tls_ossl.BIO_write
#define BIO_ctrl_pending nc_tls_ossl.BIO_ctrl_pending
#define ERR_clear_error nc_tls_ossl.ERR_clear_error
#define ERR_error_string_n nc_tls_ossl.ERR_error_string_n
#define ERR_peek_last_error nc_tls_ossl.ERR_peek_last_error
#define ERR_reason_error_string nc_tls_ossl.ERR_reason_error_string
#define X509_VERIFY_PARAM_set1_ip_asc nc_tls_ossl.X509_VERIFY_PARAM_set1_ip_asc
#define X509_VERIFY_PARAM_set_hostflags nc_tls_ossl.X509_VERIFY_PARAM_set_hostflags
#define X509_verify_cert_error_string nc_tls_ossl.X509_verify_cert_error_string
#endif

#endif
