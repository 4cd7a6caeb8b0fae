#include "wire/nats_edge.hpp"

#include "actors/checkpointer.hpp"
#include "domain/window.hpp"
#include "ingest/pipeline.hpp"
#include "ingest/stream_ingest.hpp"
#include "wire/received_msg.hpp"
#include "wire/request_codec.hpp"
#include "wire/service_docs.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/logger.hpp>
#include <caf/send.hpp>

#include <nats/nats.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <unordered_set>

namespace marquee {

namespace {

using steady = std::chrono::steady_clock;

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           steady::now().time_since_epoch())
    .count();
}

/// Where a reply goes, and what it needs to be written.
struct reply_ctx {
  std::string reply;
  int64_t started_ns = 0;
  endpoint_id endpoint = endpoint_id::recommend;
  /// The user or title the request named.
  std::string subject_id;
  /// Impression history: names of the titles and windows asked for.
  std::vector<std::string> title_names;
  std::vector<std::string> window_names;
  /// The part of a list the reply carries (impressions; dumps: `limit`).
  reply_page page;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reply_ctx& x) {
  return f(caf::meta::type_name("reply_ctx"), x.reply, x.subject_id);
}

/// A recommendation request that waits for the stream to be applied
/// through `after` (read-your-writes), held by a gateway.
struct deferred_rec {
  uint64_t after = 0;
  std::string body;
  reply_ctx ctx;
};

/// To the gateway holding deferred request `id`: go on, or time out.
struct deferred_due {
  uint64_t id = 0;
  bool timed_out = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, deferred_rec& x) {
  return f(caf::meta::type_name("deferred_rec"), x.after, x.body, x.ctx);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, deferred_due& x) {
  return f(caf::meta::type_name("deferred_due"), x.id, x.timed_out);
}

struct sub_deleter {
  void operator()(natsSubscription* s) const { natsSubscription_Destroy(s); }
};
using sub_ptr = std::unique_ptr<natsSubscription, sub_deleter>;

struct msg_deleter {
  void operator()(natsMsg* m) const { natsMsg_Destroy(m); }
};
using msg_ptr = std::unique_ptr<natsMsg, msg_deleter>;

} // namespace

/// Counts what nats.c may still call back into the edge with a raw pointer,
/// from its own threads: the connection (its disconnected and reconnected
/// handlers, until the closed handler, its last) and each subscription (its
/// message handler, until its completion handler, called after the last
/// message handler has returned). The edge is freed only once it is zero:
/// freeing it when the last actor let go of it, with the connection's
/// handlers still queued, had a handler write into freed memory (issue 10).
class callback_fence {
public:
  void opened() {
    std::lock_guard<std::mutex> guard{mtx_};
    ++open_;
  }

  void done() {
    std::lock_guard<std::mutex> guard{mtx_};
    --open_;
    cv_.notify_all();
  }

  /// Waits until nothing is open; says so every `every` while it waits.
  void wait(std::chrono::milliseconds every) {
    std::unique_lock<std::mutex> guard{mtx_};
    while (!cv_.wait_for(guard, every, [this] { return open_ == 0; }))
      spdlog::warn("NATS client: waiting for {} callback(s) to finish before "
                   "the connection is freed",
                   open_);
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  size_t open_ = 0;
};

void on_callbacks_done(void* closure) {
  static_cast<callback_fence*>(closure)->done();
}

struct nats_edge::impl {
  edge_config cfg;
  edge_deps deps;
  natsConnection* nc = nullptr;
  /// Added to by `start` while the first ones already deliver (the stats
  /// read them): under `subs_mtx` until `start` has returned, constant
  /// after.
  std::vector<sub_ptr> subs;
  std::mutex subs_mtx;
  std::vector<caf::actor> gateways;
  std::atomic<size_t> next_gateway{0};
  /// Core mode: catalog and profile events, routed one by one from their
  /// subscriptions' threads.
  event_router router;
  /// The ingest layer (ADR 26): members' events in core mode, on the thread
  /// of the `events.>` subscription; every event in durable mode, on the
  /// ingest thread.
  std::unique_ptr<ingest_pipeline> pipeline;
  edge_counters counters;
  service_stats stats;
  /// What nats.c may still call back into (see `callback_fence`).
  callback_fence fence;
  std::string prefix_v1; // "P.v1."
  std::atomic<bool> drained{false};
  // Durable mode: the stream reader, and the ingest thread that reads it.
  std::unique_ptr<stream_reader> reader;
  std::unique_ptr<stream_ingest> ingest;
  /// When a failed reply was last logged (steady ns).
  std::atomic<int64_t> last_reply_log_ns{0};
  /// When a failed dead letter was last logged (steady ns).
  std::atomic<int64_t> last_dlq_log_ns{0};
  /// Durable mode: when the event stream was created (ns), part of every
  /// dead letter's identity.
  int64_t stream_created_ns = 0;
  /// Durable mode: the dead letters of sequences up to this one are in the
  /// dead-letter stream already; a replay does not send them again.
  uint64_t dlq_sent_through = 0;

  bool ingest_failed() const { return ingest && ingest->failed(); }
  std::string ingest_failure() const {
    return ingest_failed() ? ingest->failure() : std::string{};
  }
  bool caught_up() const { return !ingest || ingest->caught_up(); }
  uint64_t position() const { return ingest ? ingest->position() : 0; }
  uint64_t behind() const { return ingest ? ingest->behind() : 0; }
  uint64_t skipped() const { return ingest ? ingest->skipped() : 0; }
  checkpointer* checkpoints() const {
    return ingest ? ingest->checkpoints() : nullptr;
  }

  /// Hands an accepted event to `into` with its stream sequence (0 in core
  /// mode).
  static void add_to(ingest_pipeline& into, const decoded_event& ev,
                     uint64_t sequence) {
    std::visit(
      [&](const auto& x) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(x)>, rejection>)
          into.add(x, sequence);
      },
      ev);
  }

  /// Answers 503 while the stream is replayed; true if it did.
  bool refuse_while_replaying(const reply_ctx& ctx) {
    if (ingest_failed()) {
      answer_error(ctx, 503, "event ingest stopped: " + ingest_failure());
      return true;
    }
    if (caught_up())
      return false;
    answer_error(ctx, 503,
                 "replaying the event stream: at sequence " +
                   std::to_string(position()) + ", " +
                   std::to_string(behind()) + " events behind");
    return true;
  }

  impl(edge_config c, edge_deps d)
    : cfg(std::move(c)), deps(std::move(d)), router(deps.dir),
      pipeline(std::make_unique<ingest_pipeline>(
        ingest_deps{deps.params, deps.dir, deps.similarity, deps.applied,
                    deps.load_ring},
        cfg.max_batch)),
      stats(cfg.instance_id, cfg.version) {
    prefix_v1 = cfg.prefix + ".v1.";
  }

  ~impl() {
    if (nc != nullptr) {
      // Closing posts the last callbacks (disconnected, closed, each
      // subscription's completion); they point here, so wait for them.
      natsConnection_Close(nc);
      fence.wait(std::chrono::seconds{5});
    }
    ingest.reset();
    subs.clear();
    reader.reset();
    if (nc != nullptr)
      natsConnection_Destroy(nc);
  }

  // -- publishing -------------------------------------------------------------

  /// The largest message the server takes (its `max_payload`, read from
  /// the connection: it can change with a reconnect to another server).
  size_t max_payload() const {
    auto n = natsConnection_GetMaxPayload(nc);
    return n > 0 ? static_cast<size_t>(n) : size_t{1024 * 1024};
  }

  /// Counts and logs a reply NATS would not send; at most one log line a
  /// second, so a flood of them cannot flood the log.
  void reply_failed(const std::string& subject, size_t bytes, natsStatus st) {
    counters.reply_failures.fetch_add(1, std::memory_order_relaxed);
    auto now = steady_ns();
    auto last = last_reply_log_ns.load(std::memory_order_relaxed);
    if (now - last > 1'000'000'000 &&
        last_reply_log_ns.compare_exchange_strong(last, now))
      spdlog::error("reply of {} bytes to {} not sent: {} ({} such so far)",
                    bytes, subject, natsStatus_GetText(st),
                    counters.reply_failures.load());
  }

  /// Sends a reply body; false if NATS refused it (counted and logged).
  bool publish(const std::string& subject, std::string_view body) {
    auto st = natsConnection_Publish(nc, subject.c_str(), body.data(),
                                     static_cast<int>(body.size()));
    if (st == NATS_OK)
      return true;
    reply_failed(subject, body.size(), st);
    return false;
  }

  void publish_error(const std::string& reply, int code,
                     std::string_view message) {
    natsMsg* raw = nullptr;
    auto body = encode_error(code, message);
    auto st = natsMsg_Create(&raw, reply.c_str(), nullptr, body.data(),
                             static_cast<int>(body.size()));
    if (st != NATS_OK)
      return reply_failed(reply, body.size(), st);
    msg_ptr m{raw};
    auto code_text = std::to_string(code);
    auto sentence = header_text(message);
    natsMsgHeader_Set(raw, "Nats-Service-Error-Code", code_text.c_str());
    natsMsgHeader_Set(raw, "Nats-Service-Error", sentence.c_str());
    st = natsConnection_PublishMsg(nc, raw);
    if (st != NATS_OK)
      reply_failed(reply, body.size(), st);
  }

  /// Replies with a body and records the request in the endpoint stats. A
  /// body the server would refuse (over its max_payload) is never sent:
  /// the client gets a 413 that says how to ask for less instead of
  /// waiting for a reply that never comes.
  // Stats are recorded before the reply leaves, so a client that reads
  // them after its reply sees its own request counted.
  void answer(const reply_ctx& ctx, std::string_view body) {
    auto limit = max_payload();
    if (body.size() > limit) {
      counters.replies_too_large.fetch_add(1, std::memory_order_relaxed);
      return answer_error(ctx, 413,
                          "the reply of " + std::to_string(body.size()) +
                            " bytes is over the NATS server's max_payload "
                            "of " +
                            std::to_string(limit) +
                            " bytes; ask for less (see 'limit' in "
                            "docs/wire.md)");
    }
    stats.record(ctx.endpoint, steady_ns() - ctx.started_ns, nullptr);
    if (!publish(ctx.reply, body))
      publish_error(ctx.reply, 500, "the reply could not be sent");
  }

  /// Replies with an error and records it.
  void answer_error(const reply_ctx& ctx, int code, const std::string& msg) {
    auto line = std::to_string(code) + ":" + msg;
    stats.record(ctx.endpoint, steady_ns() - ctx.started_ns, &line);
    publish_error(ctx.reply, code, msg);
  }

  /// Republishes a rejected event, body unchanged, on `P.v1.dlq.<reason>`.
  /// `sequence` is the event's stream sequence (durable mode), 0 in core
  /// mode: it becomes the dead letter's identity (`Marquee-Sequence`,
  /// `Nats-Msg-Id`), the same when a replay after a crash republishes it.
  /// A body that would not fit the server's max_payload with the headers
  /// is cut, and `Marquee-Original-Size` says how long it was: a dead
  /// letter is always deliverable.
  void dead_letter(std::string_view original_subject, std::string_view body,
                   const rejection& rej, uint64_t sequence) {
    counters.dlq[static_cast<size_t>(rej.reason)].fetch_add(
      1, std::memory_order_relaxed);
    if (sequence > 0 && sequence <= dlq_sent_through) {
      counters.dlq_already_sent.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    auto subject = prefix_v1 + "dlq." + to_string(rej.reason);
    std::vector<std::pair<const char*, std::string>> headers;
    headers.emplace_back("Marquee-Subject", header_text(original_subject));
    headers.emplace_back("Marquee-Error", header_text(rej.message));
    if (sequence > 0) {
      headers.emplace_back("Marquee-Sequence", std::to_string(sequence));
      headers.emplace_back(
        "Nats-Msg-Id",
        dead_letter_id(cfg.stream.name, stream_created_ns, sequence));
    }
    auto limit = max_payload();
    if (body.size() + header_bytes(headers) > limit) {
      headers.emplace_back("Marquee-Original-Size",
                           std::to_string(body.size()));
      auto room = limit - std::min(limit, header_bytes(headers));
      body = body.substr(0, room);
      counters.dlq_truncated.fetch_add(1, std::memory_order_relaxed);
    }
    natsMsg* raw = nullptr;
    auto st = natsMsg_Create(&raw, subject.c_str(), nullptr, body.data(),
                             static_cast<int>(body.size()));
    msg_ptr m{raw};
    for (const auto& [name, value] : headers)
      if (st == NATS_OK)
        st = natsMsgHeader_Set(raw, name, value.c_str());
    if (st == NATS_OK)
      st = natsConnection_PublishMsg(nc, raw);
    if (st != NATS_OK) {
      counters.dlq_publish_failures.fetch_add(1);
      auto now = steady_ns();
      auto last = last_dlq_log_ns.load(std::memory_order_relaxed);
      if (now - last > 1'000'000'000 &&
          last_dlq_log_ns.compare_exchange_strong(last, now))
        spdlog::error("dead letter of {} bytes to {} not sent: {} ({} such "
                      "so far)",
                      body.size(), subject, natsStatus_GetText(st),
                      counters.dlq_publish_failures.load());
    }
  }

  /// The bytes `headers` take on the wire (`NATS/1.0` line, `Name: value`
  /// lines, blank line), as the server counts them against max_payload.
  static size_t
  header_bytes(const std::vector<std::pair<const char*, std::string>>& hs) {
    size_t n = std::strlen("NATS/1.0\r\n") + 2;
    for (const auto& [name, value] : hs)
      n += std::strlen(name) + 2 + value.size() + 2;
    return n;
  }

  caf::actor& gateway() {
    auto i = next_gateway.fetch_add(1, std::memory_order_relaxed);
    return gateways[i % gateways.size()];
  }

  /// The last subject token of `msg`, after `head` (e.g. "P.v1.rec.user.").
  static std::string_view tail(natsMsg* msg, size_t head_len) {
    std::string_view s{natsMsg_GetSubject(msg)};
    return head_len <= s.size() ? s.substr(head_len) : std::string_view{};
  }

  reply_ctx context(natsMsg* msg, endpoint_id ep) {
    reply_ctx ctx;
    if (auto r = natsMsg_GetReply(msg))
      ctx.reply = r;
    ctx.started_ns = steady_ns();
    ctx.endpoint = ep;
    return ctx;
  }

  // -- callbacks --------------------------------------------------------------

  /// Decodes an event published on `subject`; rejects it to the
  /// dead-letter subject or counts it. `now_ms` is its receive time,
  /// `sequence` its stream sequence (0 in core mode).
  std::optional<decoded_event> accept(std::string_view subject,
                                      std::string_view data, int64_t now_ms,
                                      uint64_t sequence) {
    if (subject.size() <= prefix_v1.size())
      return std::nullopt; // not one of ours: subscriptions never do this
    auto ev = decode_event(subject.substr(prefix_v1.size()), data, now_ms,
                           cfg.limits, *deps.ids);
    if (auto rej = std::get_if<rejection>(&ev)) {
      dead_letter(subject, data, *rej, sequence);
      return std::nullopt;
    }
    counters.events[ev.index()].fetch_add(1, std::memory_order_relaxed);
    return ev;
  }

  std::optional<decoded_event> accept(natsMsg* msg) {
    return accept(natsMsg_GetSubject(msg), data_of(msg), deps.now_ms(), 0);
  }

  /// Catalog and profile events: rare, routed one by one.
  void on_event(natsMsg* msg) {
    if (auto ev = accept(msg))
      std::visit(
        [this](const auto& x) {
          if constexpr (!std::is_same_v<std::decay_t<decltype(x)>, rejection>)
            router.route(x);
        },
        *ev);
  }

  /// Plays, impressions and thumbs: batched per actor. The batch leaves
  /// when nothing more waits in this subscription or when it is full, so an
  /// idle stream adds no delay and a busy one sends few messages.
  void on_member_event(natsSubscription* sub, natsMsg* msg) {
    if (auto ev = accept(msg))
      add_to(*pipeline, *ev, 0);
    int pending = 0;
    if (pipeline->pending() > 0 &&
        (natsSubscription_GetPending(sub, &pending, nullptr) != NATS_OK ||
         pending == 0))
      pipeline->flush();
  }

  /// The reply context of a per-user request, with the user's id in
  /// `ctx.subject_id`; nullopt when nobody waits for the reply or after
  /// answering a bad subject with 400. The caller looks the user up when
  /// it may (a recommendation waiting for the stream, only after it).
  std::optional<reply_ctx> begin_user_request(natsMsg* msg, size_t head_len,
                                              endpoint_id ep) {
    auto ctx = context(msg, ep);
    if (ctx.reply.empty() || refuse_while_replaying(ctx))
      return std::nullopt;
    auto token = tail(msg, head_len);
    if (!is_valid_id(token)) {
      answer_error(ctx, 400,
                   "the last subject token must be a valid user id "
                   "(1 to 64 of [A-Za-z0-9_:-])");
      return std::nullopt;
    }
    ctx.subject_id = std::string{token};
    return ctx;
  }

  void on_recommend(natsMsg* msg, size_t head_len) {
    auto ctx = begin_user_request(msg, head_len, endpoint_id::recommend);
    if (!ctx)
      return;
    recommend(std::move(*ctx), data_of(msg));
  }

  /// Decodes a recommendation request and hands it to a gateway, which
  /// holds it first if it must wait for the stream (`after`).
  void recommend(reply_ctx ctx, std::string_view body) {
    auto q = decode_rec_request(no_user, ctx.subject_id, body, deps.now_ms(),
                                *deps.params, *deps.ids);
    if (auto bad = std::get_if<bad_request>(&q))
      return answer_error(ctx, 400, bad->message);
    auto& rq = std::get<rec_query>(q);
    if (rq.after > 0 && !deps.applied)
      return answer_error(ctx, 400,
                          "'after' is a stream sequence: it needs durable "
                          "ingest (ingest.mode = durable)");
    if (rq.after > 0 && deps.applied->applied() < rq.after)
      return caf::anon_send(
        gateway(), deferred_rec{rq.after, std::string{body}, std::move(ctx)});
    // Only now, with the stream applied through 'after': a user first named
    // by the events up to it is known from here on, not necessarily before
    // (looked up earlier, such a user got the cold start of a stranger).
    rq.user =
      deps.dir->known_user(ctx.subject_id, deps.ids->users).value_or(no_user);
    // Answered here, on the thread that received it (ADR 23).
    auto res = marquee::recommend(deps.rec, std::move(rq));
    if (!res)
      return fail(ctx, res.error());
    auto took_us = (steady_ns() - ctx.started_ns) / 1000;
    answer(ctx, encode_rec(ctx.subject_id, *res, took_us, *deps.ids));
  }

  /// Answers `err` with its code and message.
  void fail(const reply_ctx& ctx, const caf::error& err) {
    auto info = describe(err);
    answer_error(ctx, static_cast<int>(info.code), info.message);
  }

  void on_impressions(natsMsg* msg, size_t head_len) {
    auto ctx = begin_user_request(msg, head_len, endpoint_id::impressions);
    if (!ctx)
      return;
    auto user =
      deps.dir->known_user(ctx->subject_id, deps.ids->users).value_or(no_user);
    auto req = decode_impressions_request(user, data_of(msg), deps.now_ms(),
                                          *deps.params, *deps.ids);
    if (auto bad = std::get_if<bad_request>(&req))
      return answer_error(*ctx, 400, bad->message);
    auto& r = std::get<impressions_request>(req);
    ctx->title_names = std::move(r.title_names);
    ctx->window_names = std::move(r.window_names);
    ctx->page = r.page;
    ctx->page.max_bytes = max_payload();
    auto actor = user != no_user ? deps.dir->find_user(user) : std::nullopt;
    if (!actor) {
      // A user without any event: no impressions, every window covered.
      impression_history empty;
      auto rows = empty.query(r.query.titles, r.query.windows_ms, r.query.at,
                              deps.params->user.impressions);
      auto res = impressions_result{
        r.query.at, std::get<std::vector<impression_row>>(std::move(rows))};
      answer(*ctx, encode_impressions(ctx->subject_id, res, ctx->window_names,
                                      ctx->title_names, *deps.ids, ctx->page));
      return;
    }
    caf::anon_send(gateway(), *actor, std::move(r.query), std::move(*ctx));
  }

  void on_trending(natsMsg* msg) {
    auto ctx = context(msg, endpoint_id::trending);
    if (ctx.reply.empty() || refuse_while_replaying(ctx))
      return;
    auto q = decode_trending_request(data_of(msg), deps.now_ms(), *deps.params,
                                     *deps.ids);
    if (auto bad = std::get_if<bad_request>(&q)) {
      answer_error(ctx, 400, bad->message);
      return;
    }
    auto& query = std::get<trending_query>(q);
    auto window_ms = deps.params->trending.windows_ms[query.window];
    auto res = deps.rec.trending->trending(query);
    if (!res)
      return fail(ctx, res.error());
    answer(ctx, encode_trending(*res, window_ms, *deps.ids));
  }

  void on_similar(natsMsg* msg, size_t head_len) {
    auto ctx = context(msg, endpoint_id::similar);
    if (ctx.reply.empty() || refuse_while_replaying(ctx))
      return;
    auto token = tail(msg, head_len);
    if (!is_valid_id(token)) {
      answer_error(ctx, 400,
                   "the last subject token must be a valid title "
                   "id (1 to 64 of [A-Za-z0-9_:-])");
      return;
    }
    auto k = decode_similar_request(data_of(msg), *deps.params);
    if (auto bad = std::get_if<bad_request>(&k)) {
      answer_error(ctx, 400, bad->message);
      return;
    }
    auto key = deps.dir->known_title(token, deps.ids->titles);
    if (!key || !deps.dir->find_title(*key)) {
      answer_error(ctx, 404,
                   "title '" + std::string{token} + "' was never seen");
      return;
    }
    if (!deps.rec.neighbours) {
      answer_error(ctx, 503, "item similarity is off (similarity.window = 0)");
      return;
    }
    ctx.subject_id = std::string{token};
    auto items = similar_titles(deps.rec, *key, std::get<uint32_t>(k));
    answer(ctx, encode_similar(ctx.subject_id, items, *deps.ids));
  }

  void on_admin(natsMsg* msg, size_t head_len) {
    auto ctx = context(msg, endpoint_id::admin);
    if (ctx.reply.empty())
      return;
    // <target>.<verb>: the verb is the last token.
    auto rest = tail(msg, head_len);
    auto dot = rest.find('.');
    auto verb = dot == std::string_view::npos ? rest : rest.substr(dot + 1);
    if (verb == "info") {
      answer(ctx, stats.info_json(cfg.prefix));
    } else if (verb == "stats") {
      answer(ctx, stats_json());
    } else if (verb == "health") {
      answer(ctx, health_json());
    } else if (verb == "actors") {
      answer(ctx, actors_json());
    } else if (verb == "user" || verb == "title") {
      auto lookup = decode_admin_lookup(data_of(msg));
      if (auto bad = std::get_if<bad_request>(&lookup)) {
        answer_error(ctx, 400, bad->message);
        return;
      }
      auto& args = std::get<admin_lookup>(lookup);
      ctx.subject_id = std::move(args.id);
      ctx.page.limit = args.limit;
      auto now = args.at.value_or(deps.now_ms());
      if (verb == "user") {
        auto key = deps.dir->known_user(ctx.subject_id, deps.ids->users);
        auto actor = key ? deps.dir->find_user(*key) : std::nullopt;
        if (!actor)
          return answer_error(
            ctx, 404, "user '" + ctx.subject_id + "' has no live actor");
        caf::anon_send(gateway(), *actor, dump_atom_v, now, std::move(ctx));
      } else {
        auto key = deps.dir->known_title(ctx.subject_id, deps.ids->titles);
        auto actor = key ? deps.dir->find_title(*key) : std::nullopt;
        if (!actor)
          return answer_error(
            ctx, 404, "title '" + ctx.subject_id + "' has no live actor");
        caf::anon_send(gateway(), *actor, dump_atom_v, now, std::move(ctx));
      }
    } else if (verb == "snapshot") {
      take_snapshot(std::move(ctx));
    } else {
      answer_error(ctx, 404,
                   "unknown admin verb '" + std::string{verb} +
                     "'; verbs: info, stats, health, actors, "
                     "user, title, snapshot");
    }
  }

  /// `snapshot`: a checkpoint of everything sent so far, answered once it
  /// is committed.
  void take_snapshot(reply_ctx ctx) {
    auto* checkpoints = this->checkpoints();
    if (!checkpoints)
      return answer_error(ctx, 400,
                          "snapshots need durable ingest (ingest.mode = "
                          "durable); in core mode state is in memory only");
    auto accepted =
      checkpoints->request([this, ctx](const checkpointer::outcome& out) {
        if (!out.error.empty())
          return answer_error(ctx, 500, "the checkpoint failed: " + out.error);
        answer(ctx, "{\"sequence\":" + std::to_string(out.sequence) +
                      ",\"users\":" + std::to_string(out.users) +
                      ",\"titles\":" + std::to_string(out.titles) +
                      ",\"ms\":" + std::to_string(out.took.count()) + "}");
      });
    if (!accepted)
      answer_error(ctx, 503, "stopping: the last checkpoint is taken");
  }

  void on_srv(natsMsg* msg) {
    auto reply = natsMsg_GetReply(msg);
    if (reply == nullptr)
      return;
    std::string_view subject{natsMsg_GetSubject(msg)};
    std::string body;
    if (subject.rfind("$SRV.PING", 0) == 0)
      body = stats.ping_json();
    else if (subject.rfind("$SRV.INFO", 0) == 0)
      body = stats.info_json(cfg.prefix);
    else
      body = stats.stats_json(cfg.prefix);
    publish(reply, body);
  }

  /// "connected", "reconnecting", ... as nats.c names the state.
  const char* connection_state() const {
    switch (natsConnection_Status(nc)) {
    case NATS_CONN_STATUS_CONNECTED:
      return "connected";
    case NATS_CONN_STATUS_RECONNECTING:
      return "reconnecting";
    case NATS_CONN_STATUS_DRAINING_SUBS:
    case NATS_CONN_STATUS_DRAINING_PUBS:
      return "draining";
    case NATS_CONN_STATUS_CLOSED:
      return "closed";
    default:
      return "connecting";
    }
  }

  std::string nats_json() const {
    return std::string{"{\"status\":\""} + connection_state() +
           "\",\"disconnects\":" + std::to_string(counters.disconnects.load()) +
           ",\"reconnects\":" + std::to_string(counters.reconnects.load()) +
           "}";
  }

  /// "ok" while connected; "degraded" with the reason otherwise (the reply
  /// itself then came through a reconnected link, or was queued).
  std::string health_json() const {
    bool failed = ingest_failed();
    bool ok =
      !failed && natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED;
    return std::string{"{\"status\":\""} + (ok ? "ok" : "degraded") +
           "\",\"id\":\"" + cfg.instance_id + "\",\"nats\":" + nats_json() +
           (failed ? ",\"ingest\":" +
                       encode_json_string("stopped: " + ingest_failure())
                   : "") +
           "}";
  }

  std::string actors_json() const {
    return "{\"user\":" + std::to_string(deps.dir->user_count()) +
           ",\"title\":" + std::to_string(deps.dir->title_count()) +
           ",\"similarity\":" + std::to_string(deps.similarity.size()) +
           ",\"gateway\":" + std::to_string(gateways.size()) + "}";
  }

  /// Distinct ids interned per kind, with the cap on new ones
  /// (`limits.max_*`).
  std::string ids_json() const {
    auto one = [](const char* kind, const interner& t) {
      return std::string{"\""} + kind +
             "\":{\"count\":" + std::to_string(t.size()) +
             ",\"limit\":" + std::to_string(t.limit()) + "}";
    };
    const auto& ids = *deps.ids;
    return "{" + one("users", ids.users) + "," + one("titles", ids.titles) +
           "," + one("regions", ids.regions) + "," + one("genres", ids.genres) +
           "}";
  }

  std::string stats_json() {
    static constexpr const char* kinds[] = {"play", "impression", "feedback",
                                            "catalog", "profile"};
    std::string out = "{\"id\":\"" + cfg.instance_id + "\",\"events\":{";
    for (size_t i = 0; i < 5; ++i)
      out += std::string{i ? "," : ""} + "\"" + kinds[i] +
             "\":" + std::to_string(counters.events[i].load());
    out += "},\"dlq\":{";
    for (size_t i = 0; i < dlq_reason_count; ++i)
      out += std::string{i ? "," : ""} + "\"" +
             to_string(static_cast<dlq_reason>(i)) +
             "\":" + std::to_string(counters.dlq[i].load());
    out +=
      "},\"dlq_publish_failures\":" +
      std::to_string(counters.dlq_publish_failures.load()) +
      ",\"dlq_truncated\":" + std::to_string(counters.dlq_truncated.load()) +
      ",\"dlq_already_sent\":" +
      std::to_string(counters.dlq_already_sent.load()) +
      ",\"replies_too_large\":" +
      std::to_string(counters.replies_too_large.load()) +
      ",\"reply_failures\":" + std::to_string(counters.reply_failures.load());
    int64_t dropped = 0;
    {
      std::lock_guard<std::mutex> guard{subs_mtx};
      for (auto& s : subs) {
        int64_t d = 0;
        if (natsSubscription_GetDropped(s.get(), &d) == NATS_OK)
          dropped += d;
      }
    }
    out += ",\"dropped\":" + std::to_string(dropped);
    out += ",\"nats\":" + nats_json();
    out += ",\"store\":{\"restored\":" + std::to_string(deps.dir->restored()) +
           ",\"refused\":" + std::to_string(deps.dir->refused()) +
           ",\"unreadable\":" + std::to_string(deps.dir->unreadable()) +
           ",\"passivated\":" + std::to_string(deps.dir->passivated()) +
           ",\"titles_passivated\":" +
           std::to_string(deps.dir->titles_passivated()) + "}";
    out += std::string{",\"ingest\":{\"mode\":\""} +
           (cfg.durable ? "durable" : "core") +
           "\",\"position\":" + std::to_string(position()) +
           ",\"behind\":" + std::to_string(behind()) + ",\"applied\":" +
           std::to_string(deps.applied ? deps.applied->applied() : 0) +
           ",\"caught_up\":" + (caught_up() ? "true" : "false") +
           ",\"skipped\":" + std::to_string(skipped()) + ",\"checkpoint\":" +
           std::to_string(checkpoints() ? checkpoints()->committed() : 0) +
           ",\"checkpoints\":" +
           std::to_string(checkpoints() ? checkpoints()->count() : 0) + "}";
    out += ",\"actors\":" + actors_json();
    out += ",\"ids\":" + ids_json();
    out += ",\"experiments\":" + experiments_json();
    out += ",\"endpoints\":" + stats.endpoints_json(cfg.prefix) + "}";
    return out;
  }

  /// Per variant: share, requests, titles recommended, plays of them within
  /// the attribution window, and plays per recommended title.
  std::string experiments_json() const {
    const auto& variants = deps.params->experiments.variants;
    const auto& counters = *deps.dir->experiment_stats();
    std::string out = "{";
    for (size_t i = 0; i < variants.size(); ++i) {
      auto c = counters.read(i);
      auto rate = c.recommended > 0 ? static_cast<double>(c.plays) /
                                        static_cast<double>(c.recommended)
                                    : 0.0;
      char rate_text[32];
      std::snprintf(rate_text, sizeof(rate_text), "%.6g", rate);
      out += std::string{i ? "," : ""} + "\"" + variants[i].name +
             "\":{\"share\":" + std::to_string(variants[i].share) +
             ",\"requests\":" + std::to_string(c.requests) +
             ",\"recommended\":" + std::to_string(c.recommended) +
             ",\"plays\":" + std::to_string(c.plays) +
             ",\"play_through\":" + rate_text + "}";
    }
    return out + "}";
  }

  // -- set-up -----------------------------------------------------------------

  using handler = void (*)(natsConnection*, natsSubscription*, natsMsg*, void*);

  bool subscribe(const std::string& subject, const char* queue, handler h,
                 std::string& error) {
    natsSubscription* raw = nullptr;
    auto st = queue != nullptr
                ? natsConnection_QueueSubscribe(&raw, nc, subject.c_str(),
                                                queue, h, this)
                : natsConnection_Subscribe(&raw, nc, subject.c_str(), h, this);
    if (st != NATS_OK) {
      error = "cannot subscribe to " + subject + ": " + natsStatus_GetText(st);
      return false;
    }
    {
      std::lock_guard<std::mutex> guard{subs_mtx};
      subs.emplace_back(raw);
    }
    natsSubscription_SetPendingLimits(raw, cfg.pending_msgs, -1);
    st = natsSubscription_SetOnCompleteCB(raw, on_callbacks_done, &fence);
    if (st != NATS_OK) {
      error = "cannot watch the subscription to " + subject + ": " +
              natsStatus_GetText(st);
      return false;
    }
    fence.opened();
    return true;
  }
};

namespace {

using edge_impl = nats_edge::impl;

/// Publishes the answers of actors. Stateless; a few serve the edge in turn.
caf::behavior gateway_actor(caf::event_based_actor* self,
                            std::shared_ptr<edge_impl> edge) {
  auto budget = std::chrono::milliseconds{edge->deps.params->rec.budget_ms};
  // Requests waiting for the stream, by number.
  auto waiting = std::make_shared<std::unordered_map<uint64_t, deferred_rec>>();
  auto next_id = std::make_shared<uint64_t>(0);
  return {
    [=](deferred_rec& d) {
      auto id = ++*next_id;
      auto me = caf::actor_cast<caf::actor>(self);
      auto after = d.after;
      if (!edge->deps.applied->when_applied(after, [me, id] {
            caf::anon_send(me, deferred_due{id, false});
          }))
        return edge->answer_error(d.ctx, 429,
                                  "too many requests wait for the event "
                                  "stream ('after'); try again later");
      waiting->emplace(id, std::move(d));
      self->delayed_send(self, budget, deferred_due{id, true});
    },
    [=](const deferred_due& due) {
      auto i = waiting->find(due.id);
      if (i == waiting->end())
        return; // answered already
      auto d = std::move(i->second);
      waiting->erase(i);
      if (due.timed_out)
        return edge->answer_error(
          d.ctx, 503,
          "the event stream is not applied through sequence " +
            std::to_string(d.after) + " yet (applied through " +
            std::to_string(edge->deps.applied->applied()) +
            "): 'after' waits at most the time budget of " +
            std::to_string(budget.count()) + " ms");
      edge->recommend(std::move(d.ctx), d.body);
    },
    [=](const user_actor& user, impressions_query& q, reply_ctx& ctx) {
      self->request(user, budget, std::move(q))
        .then(
          [=](const impressions_result& res) {
            edge->answer(ctx, encode_impressions(
                                ctx.subject_id, res, ctx.window_names,
                                ctx.title_names, *edge->deps.ids, ctx.page));
          },
          [=](caf::error& err) { edge->fail(ctx, err); });
    },
    [=](const user_actor& user, dump_atom, int64_t now, reply_ctx& ctx) {
      self->request(user, budget, dump_atom_v, now)
        .then(
          [=](const user_dump& d) {
            edge->answer(ctx,
                         encode_user_dump(ctx.subject_id, d, *edge->deps.params,
                                          *edge->deps.ids, ctx.page.limit));
          },
          [=](caf::error& err) { edge->fail(ctx, err); });
    },
    [=](const title_actor& title, dump_atom, int64_t now, reply_ctx& ctx) {
      self->request(title, budget, dump_atom_v, now)
        .then(
          [=](const title_dump& d) {
            const auto& shards = edge->deps.similarity;
            if (shards.empty())
              return edge->answer(
                ctx, encode_title_dump(ctx.subject_id, d, nullptr,
                                       *edge->deps.params, *edge->deps.ids,
                                       ctx.page.limit));
            auto key = edge->deps.ids->titles.find(ctx.subject_id);
            self
              ->request(shards[key.value_or(0) % shards.size()], budget,
                        dump_atom_v, key.value_or(0))
              .then(
                [=](const similarity_dump& s) {
                  edge->answer(ctx, encode_title_dump(
                                      ctx.subject_id, d, &s, *edge->deps.params,
                                      *edge->deps.ids, ctx.page.limit));
                },
                [=](caf::error& err) { edge->fail(ctx, err); });
          },
          [=](caf::error& err) { edge->fail(ctx, err); });
    },
  };
}

void on_disconnected(natsConnection*, void* closure) {
  auto edge = static_cast<edge_impl*>(closure);
  edge->counters.disconnects.fetch_add(1);
  if (edge->drained.load())
    return; // our own shutdown closes the connection
  if (edge->cfg.durable)
    spdlog::warn("NATS connection lost; reconnecting (durable ingest: "
                 "reading the stream goes on where it stopped)");
  else
    spdlog::warn("NATS connection lost; reconnecting (core ingest: events "
                 "published meanwhile are not seen)");
}

void on_closed(natsConnection*, void* closure) {
  static_cast<edge_impl*>(closure)->fence.done();
}

void on_reconnected(natsConnection* nc, void* closure) {
  static_cast<edge_impl*>(closure)->counters.reconnects.fetch_add(1);
  char url[256] = {0};
  natsConnection_GetConnectedUrl(nc, url, sizeof(url));
  spdlog::info("NATS reconnected to {}", url);
}

/// Ends every subscription callback: frees the message on this thread
/// (wire/received_msg.hpp), and lets go of CAF's logger. Spawning an actor (an
/// activation through the directory) or a scoped actor makes CAF keep a
/// reference to the actor system's logger in a thread-local of the calling
/// thread, and the actor system's destructor waits until the logger is gone;
/// nats.c's shared delivery threads (ADR 27) outlive the actor system, so the
/// reference is dropped after each callback.
struct callback_guard {
  natsMsg* msg;
  ~callback_guard() {
    free_received(msg);
    caf::logger::set_current_actor_system(nullptr);
  }
};

void call_member_event(natsConnection*, natsSubscription* sub, natsMsg* msg,
                       void* closure) {
  callback_guard guard{msg};
  static_cast<edge_impl*>(closure)->on_member_event(sub, msg);
}

template <void (edge_impl::*Fn)(natsMsg*)>
void call(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  callback_guard guard{msg};
  (static_cast<edge_impl*>(closure)->*Fn)(msg);
}

/// Callbacks of subjects whose last token is an id after a fixed head.
template <void (edge_impl::*Fn)(natsMsg*, size_t), int Head>
void call_tail(natsConnection*, natsSubscription*, natsMsg* msg,
               void* closure) {
  callback_guard guard{msg};
  auto self = static_cast<edge_impl*>(closure);
  static constexpr size_t heads[] = {
    sizeof("rec.user.") - 1, sizeof("impressions.") - 1,
    sizeof("rec.similar.") - 1, sizeof("admin.") - 1};
  (self->*Fn)(msg, self->prefix_v1.size() + heads[Head]);
}

} // namespace

std::unique_ptr<nats_edge> nats_edge::start(caf::actor_system& sys,
                                            edge_config cfg, edge_deps deps,
                                            std::string& error) {
  auto ptr = std::make_shared<impl>(std::move(cfg), std::move(deps));
  auto& e = *ptr;
  natsOptions* opts = nullptr;
  if (natsOptions_Create(&opts) != NATS_OK) {
    error = "cannot create NATS options";
    return nullptr;
  }
  natsOptions_SetURL(opts, e.cfg.url.c_str());
  natsOptions_SetName(opts, ("marquee-" + e.cfg.instance_id).c_str());
  // Replies leave at once: the default flusher adds about a millisecond.
  natsOptions_SetSendAsap(opts, true);
  // A daemon reconnects forever.
  // Callbacks run on a shared pool of delivery threads, one per core,
  // instead of a thread per subscription (ADR 27).
  nats_SetMessageDeliveryPoolSize(
    static_cast<int>(std::max<size_t>(1, e.cfg.gateways)));
  natsOptions_UseGlobalMessageDelivery(opts, true);
  natsOptions_SetMaxReconnect(opts, -1);
  natsOptions_SetReconnectWait(opts, 250);
  natsOptions_SetDisconnectedCB(opts, on_disconnected, ptr.get());
  natsOptions_SetReconnectedCB(opts, on_reconnected, ptr.get());
  natsOptions_SetClosedCB(opts, on_closed, ptr.get());
  // Credentials and TLS (docs/security.md); a bad file stops the start here.
  if (!apply_auth(opts, e.cfg.url, e.cfg.auth, error)) {
    natsOptions_Destroy(opts);
    return nullptr;
  }
  auto st = natsConnection_Connect(&e.nc, opts);
  natsOptions_Destroy(opts);
  if (st != NATS_OK) {
    error = "cannot connect to NATS at " + e.cfg.url + ": " + nats_failure(st);
    return nullptr;
  }
  // Open until its closed handler has run (~impl closes it).
  e.fence.opened();
  for (size_t i = 0; i < std::max<size_t>(1, e.cfg.gateways); ++i)
    e.gateways.push_back(sys.spawn(gateway_actor, ptr));
  const auto& p = e.prefix_v1;
  auto admin = p + "admin.";
  // Events: from the durable stream, or from core subscriptions.
  bool ok = true;
  if (e.cfg.durable) {
    stream_ingest::options iopts;
    iopts.max_batch = e.cfg.max_batch;
    iopts.start_sequence = e.cfg.start_sequence;
    iopts.checkpoints.every_events = e.cfg.checkpoint_events;
    iopts.checkpoints.interval = e.cfg.checkpoint_interval;
    iopts.checkpoints.passivation = e.cfg.passivation;
    reader_options ropts;
    ropts.durable = "marquee-" + e.cfg.instance_id;
    ropts.start_sequence = e.cfg.start_sequence;
    ropts.max_ack_pending =
      static_cast<int64_t>(stream_ingest::max_ack_pending(iopts));
    uint64_t last = 0;
    ok = ensure_stream(e.nc, e.cfg.stream, error, &last, &e.stream_created_ns);
    if (ok && e.cfg.stream.dlq) {
      uint64_t newest = 0;
      ok = ensure_dlq_stream(e.nc, e.cfg.stream, e.stream_created_ns, newest,
                             error);
      e.dlq_sent_through = newest;
    }
    if (ok && e.cfg.start_sequence - 1 > last) {
      // New events would take sequences the checkpoint already covers, and
      // actors would skip them as applied: refuse rather than lose them.
      error = "the last checkpoint covers stream sequence " +
              std::to_string(e.cfg.start_sequence - 1) + " but stream " +
              e.cfg.stream.name + " ends at " + std::to_string(last) +
              ": the stream lost events (a power loss before nats-server "
              "synced it, or the stream was deleted); see \"The stream "
              "behind the checkpoint\" in docs/operations.md";
      ok = false;
    }
    if (ok) {
      e.reader = stream_reader::open(e.nc, e.cfg.stream, ropts, error);
      ok = e.reader != nullptr;
    }
    if (ok) {
      iopts.pending_at_open = e.reader->pending_at_open();
      // The time the stream stored an event stands in for a missing `ts`
      // and bounds how far ahead `ts` may be: a replay decodes alike.
      auto accept = [&e](const stream_message& m, ingest_pipeline& into) {
        if (auto ev = e.accept(m.subject, m.data, m.stored_ms, m.sequence))
          impl::add_to(into, *ev, m.sequence);
      };
      e.ingest = std::make_unique<stream_ingest>(
        iopts, *e.reader, *e.pipeline, e.deps.dir, e.deps.checkpoint, accept);
    }
  } else {
    ok = e.subscribe(p + "events.>", nullptr, call_member_event, error) &&
         e.subscribe(p + "catalog.>", nullptr, call<&impl::on_event>, error) &&
         e.subscribe(p + "profile.>", nullptr, call<&impl::on_event>, error);
  }
  // Recommendations are answered on the thread that receives them (ADR 23):
  // one subscription per scheduler thread, in the queue group, so that the
  // server spreads requests over as many threads.
  for (size_t i = 0; i < std::max<size_t>(1, e.cfg.gateways); ++i)
    ok = ok && e.subscribe(p + "rec.user.*", "q",
                           call_tail<&impl::on_recommend, 0>, error);
  ok =
    ok &&
    e.subscribe(p + "impressions.*", "q", call_tail<&impl::on_impressions, 1>,
                error) &&
    e.subscribe(p + "rec.similar.*", "q", call_tail<&impl::on_similar, 2>,
                error) &&
    e.subscribe(p + "rec.trending", "q", call<&impl::on_trending>, error) &&
    e.subscribe(admin + e.cfg.instance_id + ".*", nullptr,
                call_tail<&impl::on_admin, 3>, error) &&
    e.subscribe(admin + "all.*", nullptr, call_tail<&impl::on_admin, 3>, error);
  for (const char* verb : {"PING", "INFO", "STATS"}) {
    auto base = std::string{"$SRV."} + verb;
    for (const auto& subject :
         {base, base + ".marquee", base + ".marquee." + e.cfg.instance_id})
      ok = ok && e.subscribe(subject, nullptr, call<&impl::on_srv>, error);
  }
  if (ok) {
    st = natsConnection_FlushTimeout(e.nc, 5000);
    if (st != NATS_OK) {
      error = std::string{"NATS did not confirm the subscriptions: "} +
              natsStatus_GetText(st);
      ok = false;
    }
  }
  if (!ok) {
    for (auto& g : e.gateways)
      caf::anon_send_exit(g, caf::exit_reason::user_shutdown);
    return nullptr;
  }
  if (e.ingest)
    e.ingest->start();
  return std::unique_ptr<nats_edge>{new nats_edge(std::move(ptr))};
}

nats_edge::nats_edge(std::shared_ptr<impl> ptr) : impl_(std::move(ptr)) {
  // nop
}

void nats_edge::drain(std::chrono::milliseconds timeout) {
  if (impl_->drained.exchange(true))
    return;
  // The stream reader first: no new events, the last batch flushed, the
  // last checkpoint taken.
  if (impl_->ingest)
    impl_->ingest->stop();
  for (auto& s : impl_->subs)
    natsSubscription_Drain(s.get());
  for (auto& s : impl_->subs)
    natsSubscription_WaitForDrainCompletion(s.get(), timeout.count());
  for (auto& g : impl_->gateways)
    caf::anon_send_exit(g, caf::exit_reason::user_shutdown);
}

uint64_t nats_edge::stream_position() const {
  return impl_->position();
}

nats_edge::~nats_edge() {
  drain(std::chrono::milliseconds{5000});
}

} // namespace marquee
