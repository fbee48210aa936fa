#!/usr/bin/env python3
"""Writes the seed corpora in tests/fuzz/corpus/<target>/ (run from anywhere).

The seeds are real messages as the SDKs and nacos-c's own programs send them:
Payloads of the Nacos gRPC requests (bodies as nacos-sdk-go 2.x sends them),
HTTP/1.1 requests of the server's API, agent socket lines, an agent cache
file and server HTTP/2 frames. Not made here, kept as they are: h2/captured_*
(recorded from a real nacosd by capture_h2.py) and regression inputs (files
named crash-*, as a fuzzer found them)."""
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(num << 3 | 2) + varint(len(data)) + data


def payload(typ, body, client_ip="10.0.0.9", headers=None):
    """A serialized Payload: Metadata{type=3, clientIp=8, headers=7} = 2, Any{value=2} = 3."""
    md = field(3, typ) + field(8, client_ip)
    for k, v in (headers or {}).items():
        md += field(7, field(1, k) + field(2, v))
    out = field(2, md)
    if body is not None:
        raw = body if isinstance(body, (bytes, str)) else json.dumps(body, separators=(",", ":"))
        out += field(3, field(2, raw))
    return out


def rec(kind, data):
    """fuzz_util.h framing: kind, 16-bit little-endian length, bytes."""
    if isinstance(data, str):
        data = data.encode()
    return bytes([kind]) + struct.pack("<H", len(data)) + data


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


HDR = {"app": "fuzz", "accessToken": ""}
INSTANCE = {"ip": "10.0.0.5", "port": 8848, "weight": 1.0, "enabled": True, "healthy": True,
            "ephemeral": True, "clusterName": "DEFAULT", "serviceName": "demo.svc",
            "metadata": {"version": "1"}}


def dispatch():
    ns = {"namespace": "public", "groupName": "DEFAULT_GROUP", "serviceName": "demo.svc",
          "headers": HDR, "module": "naming"}
    reg = dict(ns, type="registerInstance", instance=INSTANCE, requestId="1")
    dereg = dict(reg, type="deregisterInstance", requestId="2")
    batch = dict(ns, type="batchRegisterInstance", requestId="3",
                 instances=[INSTANCE, dict(INSTANCE, port=8849)])
    sub = dict(ns, clusters="", subscribe=True, requestId="4")
    query = dict(ns, cluster="", healthyOnly=False, udpPort=0, requestId="5")
    listq = dict(ns, pageNo=1, pageSize=10, selector="", requestId="6")
    cfg = {"dataId": "app.properties", "group": "DEFAULT_GROUP", "tenant": "",
           "module": "config", "headers": HDR}
    pub = dict(cfg, content="a=1\nb=2\n", casMd5="", additionMap={"type": "properties"},
               requestId="7")
    cq = dict(cfg, tag="", requestId="8")
    rm = dict(cfg, tag="", requestId="9")
    listen = {"listen": True, "module": "config", "headers": HDR, "requestId": "10",
              "configListenContexts": [{"dataId": "app.properties", "group": "DEFAULT_GROUP",
                                        "tenant": "", "md5": ""}]}
    hist = {"dataId": "app.properties", "group": "DEFAULT_GROUP", "namespace": "",
            "requestId": "11"}
    # one message per seed, as kind 0 (registered SDK connection A)
    singles = {
        "instance_register": payload("InstanceRequest", reg, headers=HDR),
        "instance_deregister": payload("InstanceRequest", dereg),
        "batch_instance": payload("BatchInstanceRequest", batch),
        "persistent_instance": payload("PersistentInstanceRequest",
                                       dict(reg, instance=dict(INSTANCE, ephemeral=False))),
        "subscribe": payload("SubscribeServiceRequest", sub),
        "service_query": payload("ServiceQueryRequest", query),
        "service_list": payload("ServiceListRequest", listq),
        "config_publish": payload("ConfigPublishRequest", pub, headers=HDR),
        "config_query": payload("ConfigQueryRequest", cq),
        "config_remove": payload("ConfigRemoveRequest", rm),
        "config_listen": payload("ConfigBatchListenRequest", listen),
        "config_list": payload("NcConfigListRequest", {"namespace": "", "pageNo": 1,
                                                       "pageSize": 20, "requestId": "12"}),
        "config_history": payload("NcConfigHistoryRequest", hist),
        "config_history_get": payload("NcConfigHistoryGetRequest", dict(hist, id="1")),
        "config_rollback": payload("NcConfigRollbackRequest", dict(hist, historyId="1")),
        "health_check": payload("HealthCheckRequest", {"headers": {}, "requestId": "13"}),
        "server_check": payload("ServerCheckRequest", {"headers": {}, "requestId": "14"}),
        "body_not_object": payload("InstanceRequest", "[1,2]"),
        # issue 12: weight 1e999 was pushed as null; ports out of range
        "instance_bad_numbers": payload("InstanceRequest", '{"namespace":"public",'
                                        '"groupName":"DEFAULT_GROUP","serviceName":"demo.svc",'
                                        '"type":"registerInstance","instance":{"ip":"10.0.0.5",'
                                        '"port":1e20,"weight":1e999,"ephemeral":true}}'),
        "no_body": payload("ConfigQueryRequest", None),
        "unknown_type": payload("NoSuchRequest", {}),
    }
    for name, p in singles.items():
        write("dispatch", name, rec(0, p))
    # sequences: publish then query then listen; register+subscribe (push + ack);
    # B's own setup then a request; the cluster peer's member report
    write("dispatch", "seq_config", rec(0, singles["config_publish"]) +
          rec(0, singles["config_listen"]) + rec(0, singles["config_query"]) +
          rec(0, payload("ConfigPublishRequest", dict(pub, content="a=2"))) +
          rec(0, singles["config_history"]) + rec(0, singles["config_remove"]))
    write("dispatch", "seq_naming", rec(0, singles["subscribe"]) +
          rec(0, singles["instance_register"]) + rec(0, singles["service_query"]) +
          rec(0, singles["batch_instance"]) + rec(0, singles["instance_deregister"]))
    setup = {"clientVersion": "Nacos-Java-Client:v2.3.0", "tenant": "",
             "labels": {"source": "sdk", "module": "config", "AppName": "b"},
             "abilityTable": {}, "headers": {}}
    write("dispatch", "seq_setup_b", rec(3, payload("ConnectionSetupRequest", setup)) +
          rec(1, singles["config_query"]) + rec(1, singles["health_check"]))
    report = {"node": {"ip": "10.0.0.3", "port": 8848, "state": "UP",
                       "extendInfo": {"version": "0.1.0"}, "address": "10.0.0.3:8848"},
              "headers": {}, "requestId": "15"}
    write("dispatch", "member_report", rec(2, payload("MemberReportRequest", report)))
    client = {"clientId": "10.0.0.7:51234#true",
              "attributes": {"clientAttributes": {"revision": 3}},
              "namespaces": ["public"], "groupNames": ["DEFAULT_GROUP"],
              "serviceNames": ["demo.svc"],
              "instancePublishInfos": [{"ip": "10.0.0.7", "port": 9000, "healthy": True,
                                        "cluster": "DEFAULT",
                                        "extendDatum": {"weight": 1.0, "enabled": True}}],
              "batchInstanceData": {"namespaces": [], "groupNames": [], "serviceNames": [],
                                    "batchInstancePublishInfos": []}}
    b64 = __import__("base64").b64encode(json.dumps(client).encode()).decode()
    for op in ("CHANGE", "DELETE", "QUERY"):
        dd = {"distroKey": {"resourceKey": client["clientId"],
                            "resourceType": "Nacos:Naming:v2:ClientData",
                            "targetServer": "127.0.0.1:8848"}, "type": op}
        if op == "CHANGE":
            dd["content"] = b64
        write("dispatch", "distro_" + op.lower(),
              rec(2, payload("DistroDataRequest", {"distroData": dd, "dataOperation": op,
                                                   "ncOwner": "10.0.0.3:8848",
                                                   "headers": {}, "requestId": "16"})))
    verify = {"clients": {client["clientId"]: 3}}
    write("dispatch", "distro_verify", rec(2, payload("DistroDataRequest", {
        "distroData": {"distroKey": {"resourceKey": "", "resourceType":
                                     "nacos-c:Naming:v2:ClientDigest"},
                       "content": __import__("base64").b64encode(
                           json.dumps(verify).encode()).decode()},
        "dataOperation": "VERIFY", "ncOwner": "10.0.0.3:8848", "requestId": "17"})))
    write("dispatch", "distro_snapshot", rec(2, payload("DistroDataRequest", {
        "distroData": {"distroKey": {"resourceKey": "", "resourceType":
                                     "Nacos:Naming:v2:ClientData"}},
        "dataOperation": "SNAPSHOT", "ncOffset": 0, "ncMaxBytes": 65536, "requestId": "18"})))
    write("dispatch", "config_cluster_sync", rec(0, singles["config_publish"]) + rec(2, payload(
        "ConfigChangeClusterSyncRequest", {"dataId": "app.properties", "group": "DEFAULT_GROUP",
                                           "tenant": "", "lastModified": 1700000000000,
                                           "isBeta": False, "requestId": "19",
                                           "headers": {}, "module": "config"})))
    write("dispatch", "stream_junk", rec(4, payload("NotifySubscriberResponse",
                                                    {"requestId": "99", "resultCode": 200})) +
          rec(4, b"\x12\x05junk"))


def http():
    h = "Host: 127.0.0.1:8848\r\nUser-Agent: Nacos-Java-Client:v2.3.0\r\n"
    reqs = {
        "health": "GET /health HTTP/1.1\r\n" + h + "\r\n",
        "metrics": "GET /metrics HTTP/1.1\r\n" + h + "Connection: close\r\n\r\n",
        "readiness": "GET /nacos/v1/console/health/readiness HTTP/1.1\r\n" + h + "\r\n",
        "loader_current": "GET /nacos/v2/core/loader/current HTTP/1.1\r\n" + h + "\r\n",
        "loader_reload_current": "GET /nacos/v2/core/loader/reloadCurrent?count=0&"
                                 "redirectAddress=10.0.0.3%3A8848 HTTP/1.1\r\n" + h + "\r\n",
        "loader_reload_client": "GET /nacos/v2/core/loader/reloadClient?connectionId="
                                "1700000000000_10.0.0.1_40001&redirectAddress=10.0.0.3:8848"
                                " HTTP/1.1\r\n" + h + "\r\n",
        "cluster_nodes": "GET /nacos/v1/core/cluster/nodes?withInstances=false&pageNo=1&"
                         "pageSize=10&keyword= HTTP/1.1\r\n" + h + "\r\n",
        "cluster_self": "GET /nacos/v1/core/cluster/self HTTP/1.1\r\n" + h + "\r\n",
        "cluster_v2_list": "GET /nacos/v2/core/cluster/node/list?address=10.0.0&state=UP"
                           " HTTP/1.1\r\n" + h + "\r\n",
        "cluster_v2_self_health": "GET /nacos/v2/core/cluster/node/self/health HTTP/1.1\r\n" +
                                  h + "\r\n",
        "post_form": "POST /nacos/v2/core/loader/reloadCurrent HTTP/1.1\r\n" + h +
                     "Content-Type: application/x-www-form-urlencoded\r\n"
                     "Content-Length: 41\r\n\r\ncount=1&redirectAddress=10.0.0.3%3A8848",
        "login_form": "POST /nacos/v1/auth/users/login HTTP/1.1\r\n" + h +
                      "Content-Type: application/x-www-form-urlencoded\r\n"
                      "Content-Length: 30\r\n\r\nusername=nacos&password=s%20cr+t",
        "chunked": "POST /nacos/v1/cs/configs HTTP/1.1\r\n" + h +
                   "Transfer-Encoding: chunked\r\nContent-Type: application/x-www-form-"
                   "urlencoded\r\n\r\n9\r\ndataId=a&\r\n7\r\ngroup=g\r\n0\r\n\r\n",
        "pipelined": "GET /health HTTP/1.1\r\n" + h + "\r\nGET /nacos/v1/core/cluster/health"
                     " HTTP/1.1\r\n" + h + "\r\nDELETE /health HTTP/1.1\r\n" + h + "\r\n",
        "http10": "GET /nacos/v2/core/cluster/node/self HTTP/1.0\r\n\r\n",
        "not_found": "PUT /nacos/v1/ns/instance?serviceName=a&ip=1.2.3.4&port=80 HTTP/1.1\r\n" +
                     h + "Content-Length: 0\r\n\r\n",
    }
    for name, r in reqs.items():
        write("http", name, r)


def agent_lines():
    def line(**kw):
        return json.dumps(kw, separators=(",", ":")) + "\n"
    inst = dict(service="demo.svc", group="DEFAULT_GROUP", namespace="", ip="10.0.0.5",
                port=8080, cluster="DEFAULT", weight=1.0, healthy=True, enabled=True,
                ephemeral=True, metadata={"version": "1"})
    cfg = dict(data_id="app.properties", group="DEFAULT_GROUP", namespace="")
    seeds = {
        "hello": line(id=1, op="agent.hello", app="fuzz", protocol=1),
        "status": line(id=2, op="agent.status"),
        "register": line(id=3, op="naming.register", **inst),
        "register_detached": line(id=4, op="naming.register", detached=True, **inst),
        "deregister": line(id=5, op="naming.deregister", service="demo.svc", ip="10.0.0.5",
                           port=8080),
        "subscribe": line(id=6, op="naming.subscribe", service="demo.svc", group="DEFAULT_GROUP",
                          namespace="", clusters=["DEFAULT"]),
        "unsubscribe": line(id=7, op="naming.unsubscribe", service="demo.svc"),
        "instances": line(id=8, op="naming.instances", service="demo.svc", healthy_only=True),
        "services": line(id="s", op="naming.services", namespace="", group="DEFAULT_GROUP",
                         pageNo=1, pageSize=100),
        "config_get": line(id=9, op="config.get", **cfg),
        "config_publish": line(id=10, op="config.publish", content="a=1\n", cas_md5="", **cfg),
        "config_remove": line(id=11, op="config.remove", **cfg),
        "config_listen": line(id=12, op="config.listen", **cfg),
        "config_unlisten": line(id=13, op="config.unlisten", **cfg),
        "config_list": line(id=14, op="config.list", namespace="", dataId="app*", pageNo=1,
                            pageSize=10),
        "config_history": line(id=15, op="config.history", namespace="", group="DEFAULT_GROUP",
                               dataId="app.properties", pageSize=30),
        "config_history_version": line(id=16, op="config.history", namespace="",
                                       group="DEFAULT_GROUP", dataId="app.properties",
                                       historyId=3),
        "config_rollback": line(id=17, op="config.rollback", namespace="",
                                group="DEFAULT_GROUP", dataId="app.properties", historyId=3),
        "malformed": "{\"id\":1,\"op\":\n[1,2]\n{\"op\":5}\n{\"id\":{},\"op\":\"x\"}\n",
        "unknown_op": line(id=18, op="naming.frobnicate"),
        # issue 12: a float port was converted to int (undefined behaviour), weight 1e999
        "bad_numbers": '{"id":19,"op":"naming.register","service":"a","ip":"1.2.3.4",'
                       '"port":1e20}\n{"id":20,"op":"naming.register","service":"a",'
                       '"ip":"1.2.3.4","port":80,"weight":1e999}\n{"id":21,'
                       '"op":"naming.deregister","service":"a","ip":"1.2.3.4","port":-1e300}\n',
    }
    for name, l in seeds.items():
        write("agent", name, l)
    # one app's session: hello, register twice, subscribe, listen, get, leave
    write("agent", "session", seeds["hello"] + seeds["register"] + seeds["register"] +
          seeds["subscribe"] + seeds["config_listen"] + seeds["config_get"] +
          seeds["instances"] + seeds["status"] + seeds["deregister"] + seeds["unsubscribe"] +
          seeds["config_unlisten"])
    write("agent", "pipelined_crlf", (seeds["hello"] + seeds["status"]).replace("\n", "\r\n"))


def cache():
    """First byte: even = the service's host-list file, odd = the config file (fuzz_cache.c)."""
    host = {"ip": "10.0.0.5", "port": 8080, "weight": 1.0, "healthy": True, "enabled": True,
            "ephemeral": True, "cluster": "DEFAULT", "metadata": {"version": "1"},
            "instance_id": "10.0.0.5#8080#DEFAULT#DEFAULT_GROUP@@demo.svc"}
    hosts = {"namespace": "", "group": "DEFAULT_GROUP", "service": "demo.svc",
             "hosts": [host, dict(host, ip="10.0.0.6", healthy=False, cluster="B",
                                  instance_id="10.0.0.6#8080#B#DEFAULT_GROUP@@demo.svc")]}
    write("cache", "hosts", b"\0" + json.dumps(hosts).encode())
    write("cache", "hosts_empty", b"\0" + json.dumps(dict(hosts, hosts=[])).encode())
    content = "a=1\nb=\u00e9\n"
    conf = {"namespace": "", "group": "DEFAULT_GROUP", "data_id": "app.properties",
            "content": content,
            "md5": __import__("hashlib").md5(content.encode()).hexdigest()}
    write("cache", "config", b"\1" + json.dumps(conf).encode())
    write("cache", "config_torn", b"\1" + json.dumps(conf).encode()[:40])


def frame(typ, flags, sid, pl=b""):
    return struct.pack(">I", len(pl))[1:] + bytes([typ, flags]) + struct.pack(">I", sid) + pl


def hpack_lit(name, value):
    """Literal header field without indexing, new name, no Huffman (RFC 7541 6.2.2)."""
    name, value = name.encode(), value.encode()
    assert len(name) < 127 and len(value) < 127
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def grpc_msg(body, compressed=0):
    return bytes([compressed]) + struct.pack(">I", len(body)) + body


def h2():
    """What a gRPC server sends back to nc_h2_client: unary calls on streams 1 and 3, the
    bidi stream on 5 (fuzz_h2.c), in the shape the gRPC C core answers nacosd's."""
    settings = frame(4, 0, 0, struct.pack(">HI", 3, 100) + struct.pack(">HI", 4, 4194304) +
                     struct.pack(">HI", 6, 16384))
    ack = frame(4, 1, 0)
    ok_hdr = b"\x88" + hpack_lit("content-type", "application/grpc")
    trailers = hpack_lit("grpc-status", "0")

    def answer(sid, body, status="0"):
        return (frame(1, 4, sid, ok_hdr) + frame(0, 0, sid, grpc_msg(body)) +
                frame(1, 5, sid, hpack_lit("grpc-status", status)))
    check = payload("ServerCheckResponse", {"resultCode": 200, "errorCode": 0, "success": True,
                                            "connectionId": "1700000000000_127.0.0.1_50000",
                                            "supportAbilityNegotiation": False})
    health = payload("HealthCheckResponse", {"resultCode": 200, "errorCode": 0,
                                             "success": True})
    notify = payload("NotifySubscriberRequest", {
        "requestId": "7", "module": "naming",
        "serviceInfo": {"name": "demo.svc", "groupName": "DEFAULT_GROUP", "clusters": "",
                        "cacheMillis": 10000, "lastRefTime": 1700000000000, "checksum": "",
                        "allIPs": False, "reachProtectionThreshold": False,
                        "hosts": [dict(INSTANCE, instanceId="10.0.0.5#8848#DEFAULT#"
                                                            "DEFAULT_GROUP@@demo.svc")]}})
    write("h2", "unary_ok", settings + ack + answer(1, check) + answer(3, health))
    write("h2", "unary_status_only", settings + ack + frame(1, 5, 1, b"\x88" + hpack_lit(
        "content-type", "application/grpc") + hpack_lit("grpc-status", "14") + hpack_lit(
        "grpc-message", "unavailable")) + frame(1, 5, 3, b"\x8d"))  # :status 404
    m = grpc_msg(notify)
    write("h2", "bidi_push_split", settings + ack + frame(1, 4, 5, ok_hdr) +
          frame(0, 0, 5, m[:3]) + frame(0, 0, 5, m[3:20]) + frame(0, 0, 5, m[20:]) +
          frame(0, 0, 5, grpc_msg(notify)) + frame(1, 5, 5, trailers))
    write("h2", "two_messages_unary", settings + ack + frame(1, 4, 1, ok_hdr) +
          frame(0, 0, 1, grpc_msg(check) + grpc_msg(check)) + frame(1, 5, 1, trailers))
    write("h2", "compressed", settings + ack + frame(1, 4, 1, ok_hdr) +
          frame(0, 0, 1, grpc_msg(check, compressed=1)) + frame(1, 5, 1, trailers))
    write("h2", "goaway_rst_ping", settings + ack + frame(6, 0, 0, b"12345678") +
          frame(8, 0, 0, struct.pack(">I", 65536)) + frame(3, 0, 3, struct.pack(">I", 8)) +
          answer(1, health) + frame(7, 0, 0, struct.pack(">II", 5, 0)))
    write("h2", "too_big", settings + ack + frame(1, 4, 1, ok_hdr) +
          frame(0, 0, 1, b"\x00" + struct.pack(">I", 1 << 30) + b"xx"))
    write("h2", "http_503", settings + ack + frame(1, 5, 1, b"\x00\x07:status\x03503"))


if __name__ == "__main__":
    dispatch()
    http()
    agent_lines()
    cache()
    h2()
