#include "nc_payload.h"

#include "google/protobuf/any.pb-c.h"
#include "nacos_grpc_service.pb-c.h"
#include "nc_err.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

void nc_msg_free(nc_msg *msg) {
  if (!msg)
    return;
  for (size_t i = 0; i < msg->n_headers; i++) {
    free(msg->headers[i].key);
    free(msg->headers[i].value);
  }
  free(msg->headers);
  free(msg->type);
  free(msg->client_ip);
  cJSON_Delete(msg->body);
  free(msg);
}

int nc_payload_decode(const uint8_t *buf, size_t len, nc_msg **out) {
  return nc_payload_decode_max(buf, len, 0, out);
}

int nc_payload_decode_max(const uint8_t *buf, size_t len, size_t max_body, nc_msg **out) {
  int rc = NC_ENOMEM;
  nc_msg *msg = NULL;
  Payload *p = payload__unpack(NULL, len, buf);
  *out = NULL;
  if (!p)
    return NC_EPARSE;
  if (!(msg = calloc(1, sizeof(*msg))))
    goto out;
  const Metadata *md = p->metadata;
  msg->type = dup_or_empty(md ? md->type : NULL);
  msg->client_ip = dup_or_empty(md ? md->clientip : NULL);
  if (!msg->type || !msg->client_ip)
    goto out;
  if (md && md->n_headers) {
    if (!(msg->headers = calloc(md->n_headers, sizeof(nc_kv))))
      goto out;
    for (size_t i = 0; i < md->n_headers; i++) {
      msg->headers[i].key = dup_or_empty(md->headers[i]->key);
      msg->headers[i].value = dup_or_empty(md->headers[i]->value);
      msg->n_headers++;
      if (!msg->headers[i].key || !msg->headers[i].value)
        goto out;
    }
  }
  msg->body_error = 1;
  msg->body_len = p->body ? p->body->value.len : 0;
  if (max_body && msg->body_len > max_body) {
    msg->body_error = 2;
  } else if (p->body && p->body->value.len > 0) {
    cJSON *j = cJSON_ParseWithLength((const char *)p->body->value.data, p->body->value.len);
    if (j && cJSON_IsObject(j)) {
      msg->body = j;
      msg->body_error = 0;
    } else {
      cJSON_Delete(j);
    }
  }
  *out = msg;
  msg = NULL;
  rc = 0;
out:
  nc_msg_free(msg);
  payload__free_unpacked(p, NULL);
  return rc;
}

const char *nc_msg_header(const nc_msg *msg, const char *key) {
  for (size_t i = 0; i < msg->n_headers; i++)
    if (strcasecmp(msg->headers[i].key, key) == 0)
      return msg->headers[i].value;
  return NULL;
}

int nc_payload_encode(const char *type, const char *client_ip, const nc_kv *headers,
                      size_t n_headers, const char *json, size_t json_len, uint8_t **out,
                      size_t *out_len) {
  Metadata md = METADATA__INIT;
  Payload p = PAYLOAD__INIT;
  Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
  Metadata__HeadersEntry *entries = NULL, **eptrs = NULL;
  int rc = NC_ENOMEM;

  *out = NULL;
  *out_len = 0;
  md.type = (char *)(type ? type : "");
  md.clientip = (char *)(client_ip ? client_ip : "");
  if (n_headers) {
    entries = calloc(n_headers, sizeof(*entries));
    eptrs = calloc(n_headers, sizeof(*eptrs));
    if (!entries || !eptrs)
      goto out;
    for (size_t i = 0; i < n_headers; i++) {
      metadata__headers_entry__init(&entries[i]);
      entries[i].key = headers[i].key;
      entries[i].value = headers[i].value;
      eptrs[i] = &entries[i];
    }
    md.n_headers = n_headers;
    md.headers = eptrs;
  }
  p.metadata = &md;
  if (json) {
    any.value.data = (uint8_t *)json;
    any.value.len = json_len;
    p.body = &any;
  }
  size_t sz = payload__get_packed_size(&p);
  uint8_t *buf = malloc(sz ? sz : 1);
  if (!buf)
    goto out;
  payload__pack(&p, buf);
  *out = buf;
  *out_len = sz;
  rc = 0;
out:
  free(entries);
  free(eptrs);
  return rc;
}

int nc_payload_encode_json(const char *type, const char *client_ip, const cJSON *body,
                           uint8_t **out, size_t *out_len) {
  char *json = cJSON_PrintUnformatted(body);
  if (!json)
    return NC_ENOMEM;
  int rc = nc_payload_encode(type, client_ip, NULL, 0, json, strlen(json), out, out_len);
  cJSON_free(json);
  return rc;
}

cJSON *nc_resp_new(int result_code, int error_code, const char *message) {
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return NULL;
  if (!cJSON_AddNumberToObject(o, "resultCode", result_code) ||
      !cJSON_AddNumberToObject(o, "errorCode", error_code) ||
      !cJSON_AddBoolToObject(o, "success", result_code == 200) ||
      (message && !cJSON_AddStringToObject(o, "message", message))) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

int nc_payload_error(int error_code, const char *message, uint8_t **out, size_t *out_len) {
  cJSON *o = nc_resp_new(500, error_code, message);
  if (!o)
    return NC_ENOMEM;
  int rc = nc_payload_encode_json("ErrorResponse", "", o, out, out_len);
  cJSON_Delete(o);
  return rc;
}
