/* nc_auth_token: see nc_auth_token.h. */
#include "nc_auth_token.h"

#include "nc_err.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define B64URL sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define TOKEN_MAX 4096

/* base64url("{\"alg\":\"HS256\"}"), the header Nacos writes. */
static const char HEADER[] = "eyJhbGciOiJIUzI1NiJ9";

int nc_auth_key_decode(const char *b64, uint8_t key[NC_AUTH_KEY_MAX], size_t *len) {
  size_t n = 0;
  if (!b64)
    return NC_EINVAL;
  if (sodium_base642bin(key, NC_AUTH_KEY_MAX, b64, strlen(b64), " \t\r\n", &n, NULL,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      n < NC_AUTH_KEY_MIN)
    return NC_EINVAL;
  *len = n;
  return 0;
}

static void mac(const uint8_t *key, size_t key_len, const char *data, size_t n,
                uint8_t out[crypto_auth_hmacsha256_BYTES]) {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key, key_len);
  crypto_auth_hmacsha256_update(&st, (const uint8_t *)data, n);
  crypto_auth_hmacsha256_final(&st, out);
  sodium_memzero(&st, sizeof(st));
}

int nc_auth_token_sign(const uint8_t *key, size_t key_len, const char *user, int64_t exp,
                       char **out) {
  int rc = NC_ENOMEM;
  char *payload = NULL, *tok = NULL;
  cJSON *o = NULL;
  *out = NULL;
  if (!user || !*user || strlen(user) >= NC_AUTH_USER_MAX)
    return NC_EINVAL;
  /* sub then exp: the order Nacos's NacosJwtPayload prints. */
  if (!(o = cJSON_CreateObject()) || !cJSON_AddStringToObject(o, "sub", user) ||
      !cJSON_AddNumberToObject(o, "exp", (double)exp) || !(payload = cJSON_PrintUnformatted(o)))
    goto out;
  size_t pl = strlen(payload);
  size_t p64 = sodium_base64_ENCODED_LEN(pl, B64URL);
  size_t s64 = sodium_base64_ENCODED_LEN(crypto_auth_hmacsha256_BYTES, B64URL);
  size_t hl = sizeof(HEADER) - 1;
  if (!(tok = malloc(hl + 1 + p64 + 1 + s64)))
    goto out;
  memcpy(tok, HEADER, hl);
  tok[hl] = '.';
  sodium_bin2base64(tok + hl + 1, p64, (const uint8_t *)payload, pl, B64URL);
  size_t signed_len = strlen(tok);
  uint8_t sig[crypto_auth_hmacsha256_BYTES];
  mac(key, key_len, tok, signed_len, sig);
  tok[signed_len] = '.';
  sodium_bin2base64(tok + signed_len + 1, s64, sig, sizeof(sig), B64URL);
  *out = tok;
  tok = NULL;
  rc = 0;
out:
  free(tok);
  free(payload);
  cJSON_Delete(o);
  return rc;
}

nc_token_status nc_auth_token_verify(const uint8_t *key, size_t key_len, const char *token,
                                     int64_t now, char *user, size_t cap, int64_t *exp) {
  nc_token_status st = NC_TOKEN_INVALID;
  cJSON *o = NULL;
  char json[TOKEN_MAX];
  uint8_t sig[crypto_auth_hmacsha256_BYTES], want[crypto_auth_hmacsha256_BYTES];
  size_t n = 0;
  if (!token || strnlen(token, TOKEN_MAX) >= TOKEN_MAX)
    return NC_TOKEN_INVALID;
  const char *d1 = strchr(token, '.');
  const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
  if (!d1 || !d2 || strchr(d2 + 1, '.'))
    return NC_TOKEN_INVALID;
  /* The signature first: nothing of an unsigned payload is looked at. */
  if (sodium_base642bin(sig, sizeof(sig), d2 + 1, strlen(d2 + 1), NULL, &n, NULL, B64URL) != 0 ||
      n != sizeof(sig))
    return NC_TOKEN_INVALID;
  mac(key, key_len, token, (size_t)(d2 - token), want);
  if (sodium_memcmp(sig, want, sizeof(sig)) != 0)
    return NC_TOKEN_INVALID;
  if (sodium_base642bin((uint8_t *)json, sizeof(json) - 1, d1 + 1, (size_t)(d2 - d1 - 1), NULL,
                        &n, NULL, B64URL) != 0)
    return NC_TOKEN_INVALID;
  json[n] = '\0';
  if (!(o = cJSON_Parse(json)))
    goto out;
  const cJSON *sub = cJSON_GetObjectItemCaseSensitive(o, "sub");
  const cJSON *ex = cJSON_GetObjectItemCaseSensitive(o, "exp");
  if (!cJSON_IsString(sub) || !*sub->valuestring || strlen(sub->valuestring) >= cap ||
      !cJSON_IsNumber(ex))
    goto out;
  snprintf(user, cap, "%s", sub->valuestring);
  int64_t e = (int64_t)ex->valuedouble;
  if (exp)
    *exp = e;
  st = e >= now ? NC_TOKEN_OK : NC_TOKEN_EXPIRED;
out:
  cJSON_Delete(o);
  return st;
}
