// The durable event stream on a real nats-server with JetStream: creation,
// Nats-Msg-Id deduplication, reading from a sequence, acknowledgement, and
// survival of a server restart.

#include "bootstrap/nats_server.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/temp_dir.hpp"
#include "wire/event_stream.hpp"
#include "wire/nats_client.hpp"

#include <catch2/catch.hpp>
#include <nats/nats.h>

#include <numeric>
#include <thread>

using namespace marquee;
using marquee::testing::eventually;
using marquee::testing::temp_dir;

namespace {

struct js_ctx {
  jsCtx* js = nullptr;
  explicit js_ctx(natsConnection* nc) {
    REQUIRE(natsConnection_JetStream(&js, nc, nullptr) == NATS_OK);
  }
  ~js_ctx() { jsCtx_Destroy(js); }
};

/// What the server says of the reader's consumer "marquee".
struct consumer_state {
  bool found = false;
  uint64_t delivered = 0; ///< stream sequence of the last delivered
  int64_t waiting = 0;    ///< pull requests standing
  int64_t redelivered = 0;
};

/// Safe on any thread (no assertions).
consumer_state consumer_of(natsConnection* nc, const std::string& stream) {
  jsCtx* js = nullptr;
  jsConsumerInfo* ci = nullptr;
  consumer_state out;
  if (natsConnection_JetStream(&js, nc, nullptr) == NATS_OK &&
      js_GetConsumerInfo(&ci, js, stream.c_str(), "marquee", nullptr,
                         nullptr) == NATS_OK) {
    out.found = true;
    out.delivered = ci->Delivered.Stream;
    out.waiting = ci->NumWaiting;
    out.redelivered = ci->NumRedelivered;
  }
  if (ci != nullptr)
    jsConsumerInfo_Destroy(ci);
  jsCtx_Destroy(js);
  return out;
}

struct stream_fixture {
  temp_dir dir{"marquee-stream"};
  std::unique_ptr<nats_server_process> server;
  natsConnection* nc = nullptr;
  std::unique_ptr<nats_client> producer;
  stream_config cfg;

  stream_fixture() { start(0); }

  ~stream_fixture() { disconnect(); }

  void start(int port) {
    nats_server_options opts;
    opts.port = port;
    opts.store_dir = (dir.path() / "js").string();
    std::string error;
    server = nats_server_process::start(opts, error);
    INFO(error);
    REQUIRE(server);
    REQUIRE(natsConnection_ConnectTo(&nc, server->url().c_str()) == NATS_OK);
    producer = nats_client::connect(server->url(), error);
    REQUIRE(producer);
  }

  /// Stops the server and starts it again on its port and store, leaving
  /// the connections to reconnect.
  void restart_server() {
    nats_server_options opts;
    opts.port = server->port();
    opts.store_dir = (dir.path() / "js").string();
    server->stop();
    std::string error;
    server = nats_server_process::start(opts, error);
    INFO(error);
    REQUIRE(server);
  }

  void disconnect() {
    producer.reset();
    if (nc != nullptr)
      natsConnection_Destroy(nc);
    nc = nullptr;
  }

  void publish(const std::string& tail, const std::string& body,
               const std::string& msg_id = "") {
    std::string error;
    std::vector<std::pair<std::string, std::string>> headers;
    if (!msg_id.empty())
      headers.emplace_back("Nats-Msg-Id", msg_id);
    REQUIRE(producer->publish("marquee.v1." + tail, body, headers, error));
    REQUIRE(producer->flush(std::chrono::milliseconds{5000}, error));
  }

  std::unique_ptr<stream_reader>
  reader(uint64_t start,
         std::chrono::milliseconds ack_wait = std::chrono::minutes{1}) {
    reader_options opts;
    opts.start_sequence = start;
    opts.ack_wait = ack_wait;
    opts.consumer_check = std::chrono::milliseconds{200};
    std::string error;
    auto r = stream_reader::open(nc, cfg, opts, error);
    INFO(error);
    REQUIRE(r);
    return r;
  }

  /// A message handed out, copied: the reader's views into its buffers
  /// last only until its next fetch.
  struct owned_message {
    uint64_t sequence = 0;
    uint64_t pending = 0;
    int64_t stored_ms = 0;
    std::string subject;
    std::string data;
  };

  /// Everything the reader hands out within a short while.
  static std::vector<owned_message> drain(stream_reader& r) {
    std::vector<owned_message> all;
    for (;;) {
      std::string error;
      auto batch = r.fetch(100, std::chrono::milliseconds{300}, error);
      REQUIRE(error.empty());
      if (batch.empty())
        return all;
      for (const auto& m : batch)
        all.push_back({m.sequence, m.pending, m.stored_ms,
                       std::string{m.subject}, std::string{m.data}});
    }
  }

  template <class Message>
  static std::vector<uint64_t> sequences(const std::vector<Message>& xs) {
    std::vector<uint64_t> out;
    for (const auto& x : xs)
      out.push_back(x.sequence);
    return out;
  }
};

} // namespace

TEST_CASE_METHOD(stream_fixture,
                 "the stream keeps every event once, a repeated Nats-Msg-Id "
                 "only once",
                 "[integration][stream]") {
  std::string error;
  REQUIRE(ensure_stream(nc, cfg, error));
  REQUIRE(ensure_stream(nc, cfg, error)); // idempotent
  publish("events.play.u1", R"({"title":"t1"})", "id-1");
  publish("events.play.u1", R"({"title":"t1"})", "id-1"); // a retry
  publish("catalog.t1", R"({"name":"One"})", "id-2");
  publish("profile.u1", R"({"region":"US"})");
  publish("rec.trending", "{}"); // not an event: not in the stream
  auto r = reader(1);
  auto all = drain(*r);
  REQUIRE(sequences(all) == std::vector<uint64_t>{1, 2, 3});
  CHECK(all[0].subject == "marquee.v1.events.play.u1");
  CHECK(all[0].data == R"({"title":"t1"})");
  CHECK(all[1].subject == "marquee.v1.catalog.t1");
  CHECK(all[2].subject == "marquee.v1.profile.u1");
  CHECK(all[2].pending == 0);
  CHECK(r->delivered_through() == 3);
}

TEST_CASE_METHOD(stream_fixture,
                 "a reader starts at the sequence it is given and "
                 "acknowledges through a sequence",
                 "[integration][stream]") {
  std::string error;
  REQUIRE(ensure_stream(nc, cfg, error));
  for (int i = 1; i <= 5; ++i)
    publish("events.play.u" + std::to_string(i), R"({"title":"t1"})");
  {
    auto r = reader(3);
    CHECK(sequences(drain(*r)) == std::vector<uint64_t>{3, 4, 5});
    CHECK(r->ack_through(4, error));
    CHECK(r->ack_through(4, error)); // nothing left to ack below 5: fine
  }
  auto again = reader(5);
  CHECK(sequences(drain(*again)) == std::vector<uint64_t>{5});
}

TEST_CASE_METHOD(stream_fixture,
                 "a message the server redelivers is not handed out twice",
                 "[integration][stream]") {
  std::string error;
  REQUIRE(ensure_stream(nc, cfg, error));
  publish("events.play.u1", R"({"title":"t1"})");
  publish("events.play.u2", R"({"title":"t2"})");
  auto r = reader(1, std::chrono::milliseconds{500});
  CHECK(sequences(drain(*r)) == std::vector<uint64_t>{1, 2});
  // Not acknowledged: past the ack wait the server sends them again.
  std::vector<stream_message> again;
  REQUIRE(eventually([&] {
    auto batch = r->fetch(100, std::chrono::milliseconds{50}, error);
    again.insert(again.end(), batch.begin(), batch.end());
    return consumer_of(nc, cfg.name).redelivered >= 2;
  }));
  CHECK(again.empty());
  CHECK(drain(*r).empty());
  CHECK(r->ack_through(2, error));
  publish("events.play.u3", R"({"title":"t3"})");
  CHECK(sequences(drain(*r)) == std::vector<uint64_t>{3});
}

TEST_CASE_METHOD(stream_fixture,
                 "a stream of the same name with other subjects is left "
                 "alone, with a clear error",
                 "[integration][stream]") {
  std::string error;
  REQUIRE(ensure_stream(nc, cfg, error));
  stream_config other = cfg;
  other.prefix = "elsewhere";
  CHECK_FALSE(ensure_stream(nc, other, error));
  CHECK_THAT(error, Catch::Contains("exists with other subjects"));
}

TEST_CASE_METHOD(stream_fixture,
                 "events in the stream survive a restart of nats-server",
                 "[integration][stream]") {
  std::string error;
  REQUIRE(ensure_stream(nc, cfg, error));
  publish("events.play.u1", R"({"title":"t1"})");
  publish("events.play.u2", R"({"title":"t2"})");
  auto port = server->port();
  disconnect();
  server->stop();
  start(port);
  auto r = reader(1);
  CHECK(sequences(drain(*r)) == std::vector<uint64_t>{1, 2});
}

TEST_CASE_METHOD(stream_fixture,
                 "when the server skips ahead, the reader reads the missing "
                 "sequences from the stream, in order and unchanged",
                 "[integration][stream]") {
  std::string error;
  REQUIRE(ensure_stream(nc, cfg, error));
  for (int i = 1; i <= 8; ++i)
    publish("events.play.u" + std::to_string(i),
            R"({"title":"t)" + std::to_string(i) + R"("})");
  auto expected = drain(*reader(1));
  REQUIRE(expected.size() == 8);
  auto r = reader(1);
  // The server's consumer jumps to 5, as when messages it delivered were
  // lost with a connection or a server that died.
  js_ctx js{nc};
  REQUIRE(js_DeleteConsumer(js.js, cfg.name.c_str(), "marquee", nullptr,
                            nullptr) == NATS_OK);
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = "marquee";
  cc.AckPolicy = js_AckAll;
  cc.DeliverPolicy = js_DeliverByStartSequence;
  cc.OptStartSeq = 5;
  jsConsumerInfo* ci = nullptr;
  REQUIRE(js_AddConsumer(&ci, js.js, cfg.name.c_str(), &cc, nullptr, nullptr) ==
          NATS_OK);
  jsConsumerInfo_Destroy(ci);
  auto all = drain(*r);
  REQUIRE(sequences(all) == sequences(expected));
  for (size_t i = 0; i < all.size(); ++i) {
    CHECK(all[i].subject == expected[i].subject);
    CHECK(all[i].data == expected[i].data);
    CHECK(all[i].stored_ms == expected[i].stored_ms);
  }
  CHECK(r->skipped() == 0);
}

TEST_CASE_METHOD(stream_fixture,
                 "sequences no longer in the stream are skipped and counted",
                 "[integration][stream]") {
  std::string error;
  REQUIRE(ensure_stream(nc, cfg, error));
  js_ctx js{nc};
  for (int i = 1; i <= 3; ++i)
    publish("events.play.u1", R"({"title":"t1"})");
  REQUIRE(js_PurgeStream(js.js, cfg.name.c_str(), nullptr, nullptr) == NATS_OK);
  for (int i = 4; i <= 7; ++i)
    publish("events.play.u1", R"({"title":"t1"})");
  REQUIRE(js_DeleteMsg(js.js, cfg.name.c_str(), 6, nullptr, nullptr) ==
          NATS_OK);
  auto r = reader(1);
  CHECK(sequences(drain(*r)) == std::vector<uint64_t>{4, 5, 7});
  CHECK(r->skipped() == 4); // 1 to 3 purged, 6 deleted
}

TEST_CASE_METHOD(stream_fixture,
                 "a consumer deleted under a reader is created again after "
                 "the last sequence handed out",
                 "[integration][stream]") {
  std::string error;
  REQUIRE(ensure_stream(nc, cfg, error));
  for (int i = 1; i <= 3; ++i)
    publish("events.play.u1", R"({"title":"t1"})");
  auto r = reader(1);
  REQUIRE(sequences(drain(*r)) == std::vector<uint64_t>{1, 2, 3});
  js_ctx js{nc};
  REQUIRE(js_DeleteConsumer(js.js, cfg.name.c_str(), "marquee", nullptr,
                            nullptr) == NATS_OK);
  publish("events.play.u1", R"({"title":"t1"})");
  publish("events.play.u1", R"({"title":"t1"})");
  std::vector<uint64_t> got;
  std::vector<std::string> errors;
  for (int i = 0; i < 20 && got.size() < 2; ++i) {
    error.clear();
    for (auto& m : r->fetch(100, std::chrono::milliseconds{200}, error))
      got.push_back(m.sequence);
    if (!error.empty())
      errors.push_back(error);
  }
  for (const auto& e : errors)
    INFO(e);
  CHECK(got == std::vector<uint64_t>{4, 5});
  REQUIRE_FALSE(errors.empty());
  CHECK_THAT(errors.front(), Catch::Contains("created again at sequence 4"));
  CHECK(r->broken().empty());
}

TEST_CASE_METHOD(stream_fixture,
                 "a stream that goes backwards under a reader stops it with "
                 "the reason",
                 "[integration][stream]") {
  std::string error;
  REQUIRE(ensure_stream(nc, cfg, error));
  for (int i = 1; i <= 3; ++i)
    publish("events.play.u1", R"({"title":"t1"})");
  auto r = reader(1);
  REQUIRE(sequences(drain(*r)) == std::vector<uint64_t>{1, 2, 3});
  js_ctx js{nc};
  REQUIRE(js_DeleteStream(js.js, cfg.name.c_str(), nullptr, nullptr) ==
          NATS_OK);
  REQUIRE(ensure_stream(nc, cfg, error));
  publish("events.play.u1", R"({"title":"t1"})");
  for (int i = 0; i < 20 && r->broken().empty(); ++i) {
    error.clear();
    CHECK(r->fetch(100, std::chrono::milliseconds{200}, error).empty());
  }
  CHECK_THAT(r->broken(),
             Catch::Contains("went backwards") && Catch::Contains("ends at 1"));
  error.clear();
  CHECK(r->fetch(100, std::chrono::milliseconds{50}, error).empty());
  CHECK(error == r->broken());
}

TEST_CASE_METHOD(stream_fixture,
                 "a fetch never hands out more than it asks for, whatever "
                 "an earlier pull request brought (nats.c#749)",
                 "[integration][stream]") {
  std::string error;
  REQUIRE(ensure_stream(nc, cfg, error));
  publish("events.play.u0", R"({"title":"t0"})");
  auto r = reader(1);
  auto first = r->fetch(500, std::chrono::seconds{10}, error);
  INFO(error);
  REQUIRE(sequences(first) == std::vector<uint64_t>{1});
  // The pull request of that fetch stands for 499 more: 400 events reach
  // the reader before it asks again, and far more than the next fetches
  // ask for.
  for (int i = 1; i <= 400; ++i)
    publish("events.play.u" + std::to_string(i), R"({"title":"t1"})");
  REQUIRE(
    eventually([&] { return consumer_of(nc, cfg.name).delivered == 401; }));
  std::vector<uint64_t> got;
  for (int n : {10, 1, 7, 2, 500}) {
    auto batch = r->fetch(n, std::chrono::seconds{1}, error);
    REQUIRE(error.empty());
    REQUIRE_FALSE(batch.empty());
    CHECK(batch.size() <= static_cast<size_t>(n));
    for (const auto& m : batch)
      got.push_back(m.sequence);
  }
  for (const auto& m : drain(*r))
    got.push_back(m.sequence);
  std::vector<uint64_t> want(400);
  std::iota(want.begin(), want.end(), uint64_t{2});
  CHECK(got == want);
}

TEST_CASE_METHOD(stream_fixture,
                 "a fetch hands out what arrived without waiting for a full "
                 "batch",
                 "[integration][stream]") {
  std::string error;
  REQUIRE(ensure_stream(nc, cfg, error));
  auto r = reader(1);
  // Published once the fetch's pull request stands at the server.
  bool published = false;
  std::thread later{[&] {
    std::string why;
    published =
      eventually([&] { return consumer_of(nc, cfg.name).waiting > 0; }) &&
      producer->publish("marquee.v1.events.play.u1", R"({"title":"t1"})", {},
                        why) &&
      producer->flush(std::chrono::milliseconds{5000}, why);
  }};
  auto start = std::chrono::steady_clock::now();
  auto got = r->fetch(500, std::chrono::seconds{60}, error);
  auto took = std::chrono::steady_clock::now() - start;
  later.join();
  REQUIRE(published);
  INFO(error);
  CHECK(sequences(got) == std::vector<uint64_t>{1});
  // Far below the 60 s a fetch waiting for 500 messages would take.
  CHECK(took < std::chrono::seconds{30});
}

TEST_CASE_METHOD(stream_fixture,
                 "after a reconnect the reader acknowledges its newest "
                 "acknowledgement again",
                 "[integration][stream]") {
  // A server killed before it stored the acks restarts with an older ack
  // floor and may hold back new messages until they come again.
  std::string error;
  REQUIRE(ensure_stream(nc, cfg, error));
  for (int i = 1; i <= 3; ++i)
    publish("events.play.u1", R"({"title":"t1"})");
  auto r = reader(1);
  REQUIRE(sequences(drain(*r)) == std::vector<uint64_t>{1, 2, 3});
  REQUIRE(r->ack_through(3, error));
  restart_server();
  natsConnection* spy_nc = nullptr;
  natsSubscription* spy = nullptr;
  REQUIRE(natsConnection_ConnectTo(&spy_nc, server->url().c_str()) == NATS_OK);
  REQUIRE(natsConnection_SubscribeSync(&spy, spy_nc, "$JS.ACK.>") == NATS_OK);
  REQUIRE(natsConnection_Flush(spy_nc) == NATS_OK);
  natsMsg* ack = nullptr;
  REQUIRE(eventually(
    [&] {
      r->fetch(10, std::chrono::milliseconds{50}, error);
      return natsSubscription_NextMsg(&ack, spy, 1) == NATS_OK;
    },
    std::chrono::seconds{15}));
  std::string subject = natsMsg_GetSubject(ack);
  std::string body{natsMsg_GetData(ack),
                   static_cast<size_t>(natsMsg_GetDataLength(ack))};
  natsMsg_Destroy(ack);
  natsSubscription_Destroy(spy);
  natsConnection_Destroy(spy_nc);
  CHECK(body == "+ACK");
  // $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>...
  CHECK_THAT(subject, Catch::StartsWith("$JS.ACK.MARQUEE.marquee.1.3.3."));
}

TEST_CASE_METHOD(stream_fixture,
                 "a consumer that delivers nothing while the stream holds "
                 "more is created again after the last sequence handed out",
                 "[integration][stream]") {
  // As when a nats-server killed with -9 restores a consumer's state
  // wrongly: here another client takes the deliveries, so the server
  // counts them delivered and would send them again only after the ack
  // wait (a minute).
  std::string error;
  REQUIRE(ensure_stream(nc, cfg, error));
  publish("events.play.u1", R"({"title":"t1"})");
  auto r = reader(1);
  REQUIRE(sequences(drain(*r)) == std::vector<uint64_t>{1});
  r.reset(); // its standing request goes with its subscription
  r = reader(2);
  for (int i = 2; i <= 4; ++i)
    publish("events.play.u1", R"({"title":"t1"})");
  natsMsg* stolen = nullptr;
  REQUIRE(natsConnection_RequestString(
            &stolen, nc, "$JS.API.CONSUMER.MSG.NEXT.MARQUEE.marquee",
            R"({"batch":3})", 5000) == NATS_OK);
  natsMsg_Destroy(stolen);
  REQUIRE(eventually([&] { return consumer_of(nc, cfg.name).delivered == 4; }));
  std::vector<uint64_t> got;
  std::vector<std::string> errors;
  REQUIRE(eventually(
    [&] {
      for (auto& m : r->fetch(100, std::chrono::milliseconds{50}, error))
        got.push_back(m.sequence);
      if (!error.empty())
        errors.push_back(error);
      return got.size() >= 3;
    },
    std::chrono::seconds{20}));
  CHECK(got == std::vector<uint64_t>{2, 3, 4});
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors.front(),
             Catch::Contains("delivered nothing while stream MARQUEE held "
                             "sequences 2 to 4") &&
               Catch::Contains("created again at sequence 2"));
}
