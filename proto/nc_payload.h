/* nc_payload: codec between the Nacos gRPC `Payload` message and
 * (type, clientIp, headers, JSON body).
 *
 * The body is JSON in google.protobuf.Any.value with type_url empty; the
 * class name travels in Metadata.type (see nacos-wire-protocol.md §1-§2).
 * Pure functions, no global state: safe from any thread. */
#ifndef NC_PAYLOAD_H
#define NC_PAYLOAD_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nc_kv {
  char *key;
  char *value;
} nc_kv;

typedef struct nc_msg {
  char *type;       /* Metadata.type, "" when absent; never NULL */
  char *client_ip;  /* Metadata.clientIp, "" when absent; never NULL */
  size_t n_headers;
  nc_kv *headers;
  cJSON *body;      /* the parsed JSON object; NULL when body_error != 0 */
  int body_error;   /* 1: body absent, not JSON or not a JSON object;
                     * 2: longer than nc_payload_decode_max's bound (not parsed) */
  size_t body_len;  /* the body's bytes as received */
} nc_msg;

/* Decodes a serialized Payload. Returns NC_EPARSE when the bytes are not a
 * Payload; a Payload whose body is not a JSON object still decodes (with
 * body_error = 1) so the caller can answer with the right error code.
 * On success *out is owned by the caller: release with nc_msg_free. */
int nc_payload_decode(const uint8_t *buf, size_t len, nc_msg **out);
/* The same, but a body over max_body bytes (0 = no bound) is not handed to
 * the JSON parser: it decodes with body_error = 2, so a server answers a
 * huge body without paying for its parse tree. */
int nc_payload_decode_max(const uint8_t *buf, size_t len, size_t max_body, nc_msg **out);
void nc_msg_free(nc_msg *msg);

/* Header lookup, case-insensitive as on the Java server. Borrowed pointer. */
const char *nc_msg_header(const nc_msg *msg, const char *key);

/* Encodes a Payload. json may be NULL (no body). *out is malloc'ed and owned
 * by the caller. */
int nc_payload_encode(const char *type, const char *client_ip, const nc_kv *headers,
                      size_t n_headers, const char *json, size_t json_len, uint8_t **out,
                      size_t *out_len);

/* Same, printing body (unformatted) as the JSON. body is borrowed. */
int nc_payload_encode_json(const char *type, const char *client_ip, const cJSON *body,
                           uint8_t **out, size_t *out_len);

/* A response body with the base fields every Nacos response carries:
 * resultCode, errorCode, success and (when non-NULL) message. Never emits
 * JSON null. Returns a new object owned by the caller, or NULL on OOM. */
cJSON *nc_resp_new(int result_code, int error_code, const char *message);
static inline cJSON *nc_resp_ok(void) { return nc_resp_new(200, 0, NULL); }

/* Encodes an ErrorResponse (resultCode 500) with the given errorCode. */
int nc_payload_error(int error_code, const char *message, uint8_t **out, size_t *out_len);

#endif
