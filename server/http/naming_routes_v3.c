/* naming_routes_v3: the naming paths of Nacos 3.x over the v2 handlers
 * (naming/controllers/v3 of Nacos 3.x):
 *   /nacos/v3/client/ns/instance (InstanceOpenApiController): POST
 *     registers, or with heartBeat=true beats ("ok", or code 21003 when
 *     the instance is unknown, so the client registers again); DELETE
 *     deregisters; GET /list answers the enabled hosts themselves as data
 *     (not a ServiceInfo).
 *   /nacos/v3/admin/ns/instance (+ /list) and /nacos/v3/admin/ns/service
 *     (+ /list): the v2 answers (InstanceControllerV3 and
 *     ServiceControllerV3 take the same forms; namespace "public").
 *   PUT /nacos/v3/admin/ns/instance/partial: only the fields given change
 *     the instance's override (as PATCH /v1/ns/instance).
 * Not served: the catalog page of /service/list?withInstances, /service/subscribers,
 * /service/selector/types. Writes go to the responsible member like the
 * v1/v2 ones. */
#include "naming_routes_int.h"

#include <stdio.h>
#include <string.h>

void nc_nrt_v3_client_instance(void *ud, nc_http_req *r) {
  if (!strcmp(nc_http_method(r), "DELETE"))
    nc_nrt_dispatch(ud, r, 1, NRT_DEREGISTER);
  else if (nc_nrt_to_bool(nc_nrt_param(r, "heartBeat"), 0))
    nc_nrt_dispatch(ud, r, 1, NRT_HEARTBEAT);
  else
    nc_nrt_dispatch(ud, r, 1, NRT_REGISTER);
}

void nc_nrt_v3_admin_partial(void *ud, nc_http_req *r) { nc_nrt_dispatch(ud, r, 1, NRT_PATCH); }

void nc_nrt_v3_client_list(void *ud, nc_http_req *r) {
  nc_nroutes *nr = ud;
  svc_ref s;
  if (nc_nrt_parse_svc(r, 1, &s) || !nc_nrt_permitted(nr, r, &s, 'r'))
    return;
  cJSON *info = nc_naming_service_info(nr->naming, s.ns, s.group, s.name,
                                       nc_nrt_param(r, "clusterName"), 0);
  cJSON *hosts = info ? cJSON_DetachItemFromObject(info, "hosts") : NULL;
  cJSON_Delete(info);
  if (!hosts) {
    nc_nrt_fail(r, 1, 500, E_SERVER, "out of memory");
    return;
  }
  nc_nrt_ok_json(r, 1, hosts);
}

void nc_nrt_v3_admin_service(void *ud, nc_http_req *r) { nc_nrt_service_v2(ud, r); }
void nc_nrt_v3_admin_service_list(void *ud, nc_http_req *r) { nc_nrt_service_list_v2(ud, r); }
