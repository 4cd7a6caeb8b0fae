#include "ingest/stream_ingest.hpp"

#include <spdlog/spdlog.h>

#include <pthread.h>

#include <chrono>

namespace marquee {

stream_ingest::stream_ingest(options opts, event_source& source,
                             ingest_pipeline& pipeline,
                             std::shared_ptr<directory> dir,
                             checkpointer::write_fn write, accept_fn accept)
  : opts_(std::move(opts)), source_(source), pipeline_(pipeline),
    accept_(std::move(accept)) {
  // Nothing after the checkpoint: serving at once.
  caught_up_.store(opts_.pending_at_open == 0);
  behind_.store(opts_.pending_at_open);
  position_.store(opts_.start_sequence - 1);
  if (write) {
    // At the checkpoint's sequence, on the ingest thread: the rings that
    // changed, and a freeze to every shard behind the rounds sent so far.
    auto begin = [this](uint64_t sequence) {
      return pipeline_.begin_checkpoint(sequence);
    };
    checkpoints_ = std::make_unique<checkpointer>(
      opts_.checkpoints, std::move(dir), std::move(write),
      opts_.start_sequence - 1, begin);
    pipeline_.report_changes_to(checkpoints_.get());
  }
}

stream_ingest::~stream_ingest() {
  stopping_.store(true);
  if (thread_.joinable())
    thread_.join();
  pipeline_.report_changes_to(nullptr);
}

void stream_ingest::start() {
  thread_ = std::thread{[this] {
    pthread_setname_np(pthread_self(), "mq.ingest");
    run();
  }};
}

void stream_ingest::stop() {
  stopping_.store(true);
  if (thread_.joinable())
    thread_.join();
  if (checkpoints_) {
    // Ingest has stopped: the last checkpoint covers everything applied.
    for (const auto& out : checkpoints_->finish(position_.load()))
      checkpointed(out);
  }
}

void stream_ingest::checkpointed(const checkpointer::outcome& out) {
  if (!out.error.empty()) {
    spdlog::error("checkpoint at stream sequence {} failed: {}; the next "
                  "one will retry",
                  out.sequence, out.error);
    return;
  }
  spdlog::debug("checkpoint at stream sequence {}: {} users, {} titles in "
                "{} ms",
                out.sequence, out.users, out.titles, out.took.count());
  std::string ack_error;
  if (!source_.ack_through(out.sequence, ack_error))
    spdlog::warn("acknowledging the event stream: {}", ack_error);
}

void stream_ingest::tick_checkpoints() {
  if (!checkpoints_)
    return;
  if (auto out = checkpoints_->tick(position_.load()))
    checkpointed(*out);
}

bool stream_ingest::ack_limited() const {
  // The server may be holding back messages because too many wait for an
  // ack (a checkpoint is slow): then an empty fetch does not mean the
  // replay has caught up.
  auto acked = checkpoints_ ? checkpoints_->committed() : position_.load();
  return position_.load() - acked + opts_.max_batch >= max_ack_pending(opts_);
}

void stream_ingest::run() {
  std::string error;
  bool warned = false;
  while (!stopping_.load()) {
    error.clear();
    const auto& msgs = source_.fetch(static_cast<int>(opts_.max_batch),
                                     std::chrono::milliseconds{250}, error);
    if (!source_.broken().empty()) {
      spdlog::error("event ingest stopped: {}", source_.broken());
      failure_ = source_.broken();
      failed_.store(true);
      caught_up_.store(false);
      break;
    }
    if (!error.empty()) {
      if (!warned)
        spdlog::warn("reading the event stream: {}", error);
      warned = true;
      // Checkpoints of what was read go on (LMDB needs no server).
      tick_checkpoints();
      std::this_thread::sleep_for(std::chrono::milliseconds{100});
      continue;
    }
    warned = false;
    if (source_.skipped() != skipped_.load()) {
      spdlog::warn("{} events were no longer in the stream when they were "
                   "due (aged out, purged or deleted): never applied",
                   source_.skipped() - skipped_.load());
      skipped_.store(source_.skipped());
    }
    if (msgs.empty()) {
      if (!ack_limited()) { // nothing more to read for now
        caught_up_.store(true);
        behind_.store(0);
      }
      tick_checkpoints();
      continue;
    }
    pipeline_.open_round();
    for (const auto& m : msgs)
      accept_(m, pipeline_);
    const auto& last = msgs.back();
    pipeline_.close_round(last.sequence);
    position_.store(last.sequence);
    behind_.store(last.pending);
    if (last.pending == 0)
      caught_up_.store(true);
    if (checkpoints_)
      checkpoints_->sent(msgs.size());
    tick_checkpoints();
  }
}

} // namespace marquee
