#pragma once
// Owning handles for libnats objects in the tests: each one destroyed by its libnats
// destroy function; and js_client, a plain connection with its JetStream context.
#include <nats/nats.h>

#include <catch2/catch.hpp>
#include <memory>

#include "server_process.hpp"

namespace testing_support {

template <class T, void (*Destroy)(T*)>
struct nats_deleter {
  void operator()(T* p) const { Destroy(p); }
};

using conn_ptr = std::unique_ptr<natsConnection, nats_deleter<natsConnection, natsConnection_Destroy>>;
using sub_ptr = std::unique_ptr<natsSubscription, nats_deleter<natsSubscription, natsSubscription_Destroy>>;
using msg_ptr = std::unique_ptr<natsMsg, nats_deleter<natsMsg, natsMsg_Destroy>>;
using js_ptr = std::unique_ptr<jsCtx, nats_deleter<jsCtx, jsCtx_Destroy>>;
using kv_ptr = std::unique_ptr<kvStore, nats_deleter<kvStore, kvStore_Destroy>>;
using entry_ptr = std::unique_ptr<kvEntry, nats_deleter<kvEntry, kvEntry_Destroy>>;
using watcher_ptr = std::unique_ptr<kvWatcher, nats_deleter<kvWatcher, kvWatcher_Destroy>>;
using status_ptr = std::unique_ptr<kvStatus, nats_deleter<kvStatus, kvStatus_Destroy>>;
using stream_info_ptr = std::unique_ptr<jsStreamInfo, nats_deleter<jsStreamInfo, jsStreamInfo_Destroy>>;
using pub_ack_ptr = std::unique_ptr<jsPubAck, nats_deleter<jsPubAck, jsPubAck_Destroy>>;

// natsConnection_Connect for a login that signs the nonce (nkey or JWT). libnats 3.4
// drops a signature whose first byte is 0 from CONNECT (one login in 256, against any
// server), which the server refuses: a refused login is tried again with a new
// connection and nonce, twice at most. A login that should be refused still is.
inline natsStatus connect_signing(natsConnection** c, natsOptions* o) {
  natsStatus st = natsConnection_Connect(c, o);
  for (int retry = 0; retry < 2 && st == NATS_CONNECTION_AUTH_FAILED; ++retry) st = natsConnection_Connect(c, o);
  return st;
}

// A JetStream-enabled server with its own store directory (removed afterwards).
struct js_server {
  temp_dir store;
  server_process s{{"-js", "-sd", store.path}};
};

// A libnats connection (no reconnect) and its JetStream context.
struct js_client {
  conn_ptr nc;
  js_ptr js;

  explicit js_client(const server_process& s) {
    natsOptions* o = nullptr;
    REQUIRE(natsOptions_Create(&o) == NATS_OK);
    natsOptions_SetURL(o, s.url().c_str());
    natsOptions_SetAllowReconnect(o, false);
    natsConnection* c = nullptr;
    auto st = natsConnection_Connect(&c, o);
    natsOptions_Destroy(o);
    REQUIRE(st == NATS_OK);
    nc.reset(c);
    jsCtx* j = nullptr;
    REQUIRE(natsConnection_JetStream(&j, c, nullptr) == NATS_OK);
    js.reset(j);
  }
};

}  // namespace testing_support
