/* The short names the agent integration tests (test_agent_*.c,
 * test_nacosctl.c) use for the shared harness in tests/support:
 * nc_testagent.h (agent process + JSON-lines client) and nc_testproc.h
 * (nacosd, /metrics). Only aliases live here; the code is in the support
 * library. */
#ifndef AGENT_ITEST_H
#define AGENT_ITEST_H

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "nc_testagent.h"
#include "nc_testproc.h"

typedef nc_test_agent test_agent;
typedef nc_tc tc;

#define agent_start nc_test_agent_start
#define agent_stop nc_test_agent_stop
#define tc_open nc_tc_open
#define tc_close nc_tc_close
#define tc_eof nc_tc_eof
#define tc_send_raw nc_tc_send_raw
#define tc_sendf nc_tc_sendf
#define tc_read nc_tc_read
#define tc_call nc_tc_call
#define tc_ok nc_tc_ok
#define tc_call_ok nc_tc_call_ok
#define wait_changed_hosts nc_tc_wait_changed_hosts
#define tc_errcode nc_tc_errcode
#define tc_wait_event nc_tc_wait_event
#define hosts_count nc_tc_hosts_count
#define status_int nc_tc_status_int
#define wait_status nc_tc_wait_status
#define nacosd_metric nc_test_nacosd_metric

#endif
