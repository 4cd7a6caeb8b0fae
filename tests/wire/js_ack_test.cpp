// JetStream reply subjects read in place (NATS ADR-15). The reader's use of
// them against a real nats-server is in tests/integration/
// event_stream_test.cpp (sequences, pending counts and stored times).

#include "wire/js_ack.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace marquee;

TEST_CASE("both forms of a JetStream reply subject are read",
          "[wire][js_ack]") {
  struct row {
    std::string reply;
    js_ack_meta want;
  };
  for (const auto& [reply, want] : std::initializer_list<row>{
         // The first form, as nats-server 2.9 sends it.
         {"$JS.ACK.MARQUEE.marquee.1.42.40.1733140000123456789.7",
          {1, 42, 40, 1733140000123456789, 7}},
         {"$JS.ACK.S.c.3.18446744073709551615.1.0.0",
          {3, 18446744073709551615u, 1, 0, 0}},
         // The second form: domain, account hash, and tokens after pending.
         {"$JS.ACK.hub.ACCHASH.MARQUEE.marquee.2.42.40.1733140000123456789.7."
          "r4nd0m",
          {2, 42, 40, 1733140000123456789, 7}},
         {"$JS.ACK._.ACCHASH.MARQUEE.marquee.1.5.4.1733140000000000000.0.x.y",
          {1, 5, 4, 1733140000000000000, 0}},
       }) {
    INFO(reply);
    auto got = parse_js_ack(reply);
    REQUIRE(got);
    CHECK(got->delivered == want.delivered);
    CHECK(got->stream_sequence == want.stream_sequence);
    CHECK(got->consumer_sequence == want.consumer_sequence);
    CHECK(got->timestamp_ns == want.timestamp_ns);
    CHECK(got->pending == want.pending);
  }
}

TEST_CASE("anything else is not a JetStream reply subject", "[wire][js_ack]") {
  for (const char* reply : {
         "", "_INBOX.abc.def", "$JS.ACK", "$JS.ACK.", "$JS.API.INFO",
         "$JS.ACK.S.c.1.2.3.4",                      // a token short
         "$JS.ACK.S.c.1.2.3.4.5.6",                  // 8: neither form
         "$JS.ACK.S.c.1.2.x.4.5",                    // not a number
         "$JS.ACK.S.c.1.2.3.4.-5",                   // negative
         "$JS.ACK.S.c.1.2.3.4.5 ",                   // trailing junk
         "$JS.ACK..c.1.2.3.4.5",                     // no stream
         "$JS.ACK.S.c.1.99999999999999999999.3.4.5", // overflow
         "$JS.ACK.d.a.S.c.1.2.3.4",                  // second form, short
         "$JS.ACK.d.a.S.c.1.2.3.4.5", // second form without its token
       }) {
    INFO(reply);
    CHECK_FALSE(parse_js_ack(reply));
  }
}
