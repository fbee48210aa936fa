/* nacos-agent and ConnectResetRequest. nacosd has no trigger for a reset,
 * so two minimal in-process fake Nacos servers (the project's nc_gsrv
 * transport plus just enough of the protocol: ServerCheck, HealthCheck,
 * ConnectionSetup, generic OK replies) stand in for the cluster. The agent
 * connects to one; that one sends ConnectResetRequest naming the other;
 * the agent must ack it, move to the named server and redo its state
 * there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent_itest.h"
#include "nc_err.h"
#include "nc_grpc.h"
#include "nc_grpc_server.h"
#include "nc_json.h"
#include "nc_payload.h"
#include "nc_testproc.h"

#include <pthread.h>

typedef struct fake {
  nc_gsrv *g;
  int grpc_port;
  int main_port; /* what the agent's list says; only used as a name */
  pthread_mutex_t mu;
  uint64_t stream; /* the agent's bidi stream once set up, else 0 */
  int server_checks;
  int batch_registers;
  int subscribes;
  char reset_ack_id[32]; /* requestId of a ConnectResetResponse received */
} fake;

static fake fakes[2];

static void reply(nc_gsrv_unary *call, const char *type, cJSON *body) {
  uint8_t *out = NULL;
  size_t len = 0;
  if (nc_payload_encode_json(type, "", body, &out, &len) == 0)
    nc_gsrv_unary_reply(call, out, len);
  else
    nc_gsrv_unary_reply(call, NULL, 0);
  free(out);
  cJSON_Delete(body);
}

static void on_event(void *ud, nc_gsrv_ev *ev) {
  fake *f = ud;
  nc_msg *m = NULL;
  if ((ev->type == NC_GSRV_EV_UNARY || ev->type == NC_GSRV_EV_STREAM_MSG) &&
      nc_payload_decode(ev->data, ev->len, &m) != 0)
    m = NULL;
  pthread_mutex_lock(&f->mu);
  if (ev->type == NC_GSRV_EV_UNARY) {
    cJSON *b = nc_resp_ok();
    char rtype[128] = "ErrorResponse";
    if (m) {
      size_t n = strlen(m->type);
      if (n > 7 && !strcmp(m->type + n - 7, "Request"))
        snprintf(rtype, sizeof(rtype), "%.*sResponse", (int)(n - 7), m->type);
      if (!strcmp(m->type, "ServerCheckRequest")) {
        f->server_checks++;
        cJSON_AddStringToObject(b, "connectionId", "fake-conn");
      } else if (!strcmp(m->type, "BatchInstanceRequest")) {
        f->batch_registers++;
      } else if (!strcmp(m->type, "SubscribeServiceRequest")) {
        f->subscribes++;
        cJSON *si = cJSON_AddObjectToObject(b, "serviceInfo");
        cJSON_AddStringToObject(si, "name", nc_json_str(m->body, "serviceName", ""));
        cJSON_AddStringToObject(si, "groupName", nc_json_str(m->body, "groupName", ""));
        cJSON_AddArrayToObject(si, "hosts");
      }
    }
    pthread_mutex_unlock(&f->mu);
    reply(ev->call, rtype, b);
    goto out;
  }
  if (ev->type == NC_GSRV_EV_STREAM_MSG && m) {
    if (!strcmp(m->type, "ConnectionSetupRequest"))
      f->stream = ev->stream_id;
    else if (!strcmp(m->type, "ConnectResetResponse"))
      snprintf(f->reset_ack_id, sizeof(f->reset_ack_id), "%s",
               nc_json_str(m->body, "requestId", "?"));
  } else if (ev->type == NC_GSRV_EV_STREAM_CLOSED && f->stream == ev->stream_id) {
    f->stream = 0;
  }
  pthread_mutex_unlock(&f->mu);
out:
  nc_msg_free(m);
  nc_gsrv_ev_free(ev);
}

static int fake_get(fake *f, int *field) {
  pthread_mutex_lock(&f->mu);
  int v = *field;
  pthread_mutex_unlock(&f->mu);
  return v;
}

static uint64_t fake_stream(fake *f) {
  pthread_mutex_lock(&f->mu);
  uint64_t v = f->stream;
  pthread_mutex_unlock(&f->mu);
  return v;
}

static void test_connect_reset_moves_agent_to_named_server(void **state) {
  (void)state;
  char dir[256], servers[160];
  test_agent ag;
  nc_grpc_init();
  for (int i = 0; i < 2; i++) {
    memset(&fakes[i], 0, sizeof(fakes[i]));
    pthread_mutex_init(&fakes[i].mu, NULL);
    fakes[i].main_port = 1001 + i;
    nc_gsrv_opts o = {0};
    o.host = "127.0.0.1";
    assert_int_equal(nc_gsrv_start(&o, on_event, &fakes[i], &fakes[i].g, &fakes[i].grpc_port), 0);
  }
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  snprintf(servers, sizeof(servers), "127.0.0.1:%d#%d,127.0.0.1:%d#%d", fakes[0].main_port,
           fakes[0].grpc_port, fakes[1].main_port, fakes[1].grpc_port);
  assert_int_equal(agent_start(&ag, dir, servers, NULL), 0);
  tc *app = tc_open(ag.sock);
  assert_true(wait_status(app, "connected", 1, 10000) >= 0);
  cJSON *r = tc_call(app, 1,
                     "{\"id\":1,\"op\":\"naming.register\",\"service\":\"rs\",\"ip\":\"10.6.0.1\","
                     "\"port\":1}");
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r, "applied")));
  cJSON_Delete(r);
  assert_true(tc_call_ok(app, 2, "{\"id\":2,\"op\":\"naming.subscribe\",\"service\":\"rs\"}"));

  int cur = fake_stream(&fakes[0]) ? 0 : 1, other = 1 - cur;
  assert_true(fake_stream(&fakes[cur]) != 0);
  assert_int_equal(fake_get(&fakes[other], &fakes[other].server_checks), 0);
  assert_int_equal(fake_get(&fakes[cur], &fakes[cur].batch_registers), 1);

  /* The server in use asks the agent to go to the other one. */
  char body[256];
  uint8_t *buf = NULL;
  size_t len = 0;
  snprintf(body, sizeof(body),
           "{\"headers\":{},\"requestId\":\"77\",\"serverIp\":\"127.0.0.1\",\"serverPort\":\"%d\","
           "\"connectionId\":\"fake-conn\",\"module\":\"internal\"}",
           fakes[other].main_port);
  assert_int_equal(nc_payload_encode("ConnectResetRequest", "", NULL, 0, body, strlen(body), &buf,
                                     &len),
                   0);
  assert_int_equal(nc_gsrv_stream_send(fakes[cur].g, fake_stream(&fakes[cur]), buf, len), 0);
  free(buf);

  char want[64];
  snprintf(want, sizeof(want), "127.0.0.1:%d", fakes[other].main_port);
  cJSON *ev = tc_wait_event(app, "agent.upstream", "server", want, 5000);
  assert_non_null(ev);
  assert_string_equal(cJSON_GetObjectItem(ev, "state")->valuestring, "connected");
  cJSON_Delete(ev);
  pthread_mutex_lock(&fakes[cur].mu);
  assert_string_equal(fakes[cur].reset_ack_id, "77");
  pthread_mutex_unlock(&fakes[cur].mu);
  /* Redone on the new server. */
  long long t0 = nc_test_now_ms();
  while ((fake_get(&fakes[other], &fakes[other].batch_registers) < 1 ||
          fake_get(&fakes[other], &fakes[other].subscribes) < 1) &&
         nc_test_now_ms() - t0 < 5000)
    nc_test_sleep_ms(20);
  assert_int_equal(fake_get(&fakes[other], &fakes[other].batch_registers), 1);
  assert_int_equal(fake_get(&fakes[other], &fakes[other].subscribes), 1);
  assert_int_equal(fake_get(&fakes[other], &fakes[other].server_checks), 1);
  assert_true(status_int(app, "reconnects") == 1);
  tc_close(app);
  assert_int_equal(agent_stop(&ag), 0);
  for (int i = 0; i < 2; i++) {
    nc_gsrv_stop(fakes[i].g);
    pthread_mutex_destroy(&fakes[i].mu);
  }
  nc_test_rmtree(dir);
  nc_grpc_shutdown();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_connect_reset_moves_agent_to_named_server),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
