#pragma once

/// The checkpoint schedule of an ingest thread, and passivation.
///
/// The ingest thread is the only sender of events. It reports every user
/// and title it changed and, between batches, calls `tick` with the stream
/// sequence it has sent. When a checkpoint is due (`every_events` events or
/// `interval` since the last one, a request, or more live users than the
/// budget), `tick` hands the changed actors and the sequence S to a writer
/// thread of its own and returns at once: ingest goes on while the writer
/// asks the actors for their state (the requests queue behind the events up
/// to S in each mailbox) and stores it with S in one transaction. An actor
/// may already have applied events after S when it answers; that is sound,
/// because it stores the last sequence it applied and a replay from S+1
/// skips what it has.
///
/// After a commit, `tick` passivates users and titles that are idle or
/// beyond their budgets, except those changed since the checkpoint began:
/// everything the others applied is stored, so they can leave memory and
/// come back from the store. One checkpoint is in flight at a time.
///
/// Thread rules: `request` from any thread; the rest from the ingest
/// thread.

#include "actors/directory.hpp"
#include "messages/actors.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace marquee {

/// State stored with a checkpoint besides the actors': item similarity.
/// The ingest thread captures what it owns at the checkpoint's sequence
/// (the play rings of users who played since the last one) and tells the
/// shards to set aside their changed titles at that point in their
/// mailboxes; the writer collects those. When a write fails, its extra goes
/// into the next checkpoint under the newer one.
struct checkpoint_extra {
  std::vector<std::pair<user_key, std::vector<title_key>>> rings;
  std::vector<std::pair<title_key, similarity_record>> titles;

  bool empty() const { return rings.empty() && titles.empty(); }

  /// Adds `newer`; where both name a user or title, `newer` wins.
  void update_with(checkpoint_extra&& newer);
};

class checkpointer {
public:
  struct options {
    /// A checkpoint is due this many events after the last one...
    uint64_t every_events = 50'000;
    /// ...or this long after it, if anything changed.
    std::chrono::milliseconds interval{30'000};
    /// Which users and titles leave memory after a checkpoint (zeros:
    /// none).
    directory::passivation passivation;
  };

  /// How one checkpoint went.
  struct outcome {
    /// Every event up to this stream sequence is stored.
    uint64_t sequence = 0;
    size_t users = 0;
    size_t titles = 0;
    std::chrono::milliseconds took{0};
    /// Empty on success; otherwise why nothing was stored.
    std::string error;
  };

  /// Stores the state of the given actors with `sequence` in one
  /// transaction; returns "" or why not. Runs on the writer thread.
  using write_fn = std::function<std::string(
    uint64_t sequence, const std::vector<user_key>& users,
    const std::vector<title_key>& titles, checkpoint_extra& extra)>;

  /// Captures the extra of a checkpoint at `sequence`; runs on the ingest
  /// thread when the checkpoint begins.
  using begin_fn = std::function<checkpoint_extra(uint64_t sequence)>;

  /// Called on the ingest thread with the outcome of the checkpoint that
  /// began after the request.
  using done_fn = std::function<void(const outcome&)>;

  /// `committed` is the sequence of the last checkpoint in the store.
  checkpointer(options opts, std::shared_ptr<directory> dir, write_fn write,
               uint64_t committed, begin_fn begin = nullptr);

  /// Waits for the checkpoint in flight, if any, and stops the writer.
  ~checkpointer();

  checkpointer(const checkpointer&) = delete;
  checkpointer& operator=(const checkpointer&) = delete;

  void changed_user(user_key user) { dirty_users_.insert(user); }
  void changed_title(title_key title) { dirty_titles_.insert(title); }
  /// Counts events sent since the last checkpoint began.
  void sent(size_t events) { since_ += events; }

  /// Between batches: collects the checkpoint that finished (returned, so
  /// that the caller acknowledges the stream through its sequence),
  /// passivates after a commit, and starts a checkpoint at `position` if
  /// one is due.
  std::optional<outcome> tick(uint64_t position);

  /// Asks for a checkpoint now; `done` gets its outcome. False (and `done`
  /// is dropped) once `finish` has begun: no checkpoint will follow.
  bool request(done_fn done);

  /// At drain, once ingest has stopped: waits for the checkpoint in flight,
  /// then takes a last one at `position`. Returns the outcomes in order.
  std::vector<outcome> finish(uint64_t position);

  /// The sequence of the last committed checkpoint.
  uint64_t committed() const { return committed_.load(); }
  /// Checkpoints committed by this process.
  uint64_t count() const { return count_.load(); }
  /// Whether a checkpoint is being written.
  bool busy() const { return busy_.load(); }

private:
  struct job {
    uint64_t sequence = 0;
    std::vector<user_key> users;
    std::vector<title_key> titles;
    std::vector<done_fn> waiters;
    checkpoint_extra extra;
    std::chrono::steady_clock::time_point started;
    outcome result;
  };

  bool due(uint64_t position) const;
  void start(uint64_t position);
  /// The finished job, if any; `wait` blocks until the one in flight ends.
  std::unique_ptr<job> take_finished(bool wait);
  outcome conclude(std::unique_ptr<job> j);
  void passivate();
  void run_writer();

  options opts_;
  std::shared_ptr<directory> dir_;
  /// The directory's clock of last-use times.
  directory::clock_fn clock_;
  write_fn write_;
  begin_fn begin_;
  /// The extra of a failed write, for the next checkpoint.
  checkpoint_extra carried_;

  // Owned by the ingest thread.
  key_set dirty_users_;
  key_set dirty_titles_;
  uint64_t since_ = 0;
  std::chrono::steady_clock::time_point last_start_;
  std::chrono::steady_clock::time_point last_sweep_;
  /// After a failed write, the next is not due before this (except at
  /// `finish`): a failing store is not hammered.
  std::chrono::steady_clock::time_point retry_at_;
  bool retrying_ = false;

  // Requests from any thread.
  std::mutex requests_mu_;
  std::vector<done_fn> requests_;
  std::atomic<bool> requested_{false};
  bool closed_ = false; // under requests_mu_

  // The job handed to the writer, and its result.
  std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<job> pending_;  // to be written
  std::unique_ptr<job> finished_; // written (or failed)
  bool stop_ = false;
  std::atomic<bool> busy_{false};
  std::atomic<uint64_t> committed_;
  std::atomic<uint64_t> count_{0};
  std::thread writer_;
};

} // namespace marquee
