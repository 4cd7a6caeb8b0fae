#include "actors/checkpointer.hpp"

#include <pthread.h>

#include <algorithm>
#include <unordered_set>

namespace marquee {

using steady = std::chrono::steady_clock;

void checkpoint_extra::update_with(checkpoint_extra&& newer) {
  auto merge = [](auto& older, auto&& fresh) {
    if (older.empty()) {
      older = std::move(fresh);
      return;
    }
    using key = decltype(older.front().first);
    std::unordered_set<key> replaced;
    for (const auto& [k, v] : fresh)
      replaced.insert(k);
    older.erase(std::remove_if(
                  older.begin(), older.end(),
                  [&](const auto& kv) { return replaced.count(kv.first) > 0; }),
                older.end());
    for (auto& kv : fresh)
      older.push_back(std::move(kv));
  };
  merge(rings, std::move(newer.rings));
  merge(titles, std::move(newer.titles));
}

checkpointer::checkpointer(options opts, std::shared_ptr<directory> dir,
                           write_fn write, uint64_t committed, begin_fn begin)
  : opts_(std::move(opts)), dir_(std::move(dir)), clock_(dir_->clock()),
    write_(std::move(write)), begin_(std::move(begin)),
    last_start_(steady::now()), last_sweep_(steady::now()),
    committed_(committed) {
  writer_ = std::thread{[this] {
    pthread_setname_np(pthread_self(), "mq.checkpoint");
    run_writer();
  }};
}

checkpointer::~checkpointer() {
  {
    std::lock_guard<std::mutex> guard{mu_};
    stop_ = true;
  }
  cv_.notify_all();
  writer_.join();
}

void checkpointer::run_writer() {
  std::unique_lock<std::mutex> lock{mu_};
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || pending_ != nullptr; });
    if (!pending_)
      return; // stopped, nothing left to write
    auto j = std::move(pending_);
    lock.unlock();
    j->result.error = write_(j->sequence, j->users, j->titles, j->extra);
    j->result.sequence = j->sequence;
    j->result.users = j->users.size();
    j->result.titles = j->titles.size();
    j->result.took = std::chrono::duration_cast<std::chrono::milliseconds>(
      steady::now() - j->started);
    lock.lock();
    finished_ = std::move(j);
    cv_.notify_all();
  }
}

bool checkpointer::due(uint64_t position) const {
  auto now = steady::now();
  if (now < retry_at_)
    return false;
  if (requested_.load() || retrying_)
    return true;
  const auto& p = opts_.passivation;
  if ((p.max_users > 0 && dir_->user_count() > p.max_users) ||
      (p.max_titles > 0 && dir_->title_count() > p.max_titles))
    return true;
  bool changed = position != committed_.load() || !dirty_users_.empty() ||
                 !dirty_titles_.empty();
  if (!changed) // idle users still leave memory in time
    return now - last_sweep_ >= opts_.interval;
  return since_ >= opts_.every_events || now - last_start_ >= opts_.interval;
}

void checkpointer::start(uint64_t position) {
  std::vector<done_fn> waiters;
  {
    std::lock_guard<std::mutex> guard{requests_mu_};
    waiters.swap(requests_);
    requested_.store(false);
  }
  last_start_ = steady::now();
  since_ = 0;
  retrying_ = false;
  if (position == committed_.load() && dirty_users_.empty() &&
      dirty_titles_.empty()) {
    // Nothing new to store: the last checkpoint already covers it all.
    outcome same;
    same.sequence = position;
    for (auto& done : waiters)
      done(same);
    passivate();
    return;
  }
  auto j = std::make_unique<job>();
  j->sequence = position;
  j->waiters = std::move(waiters);
  j->started = last_start_;
  if (begin_) {
    carried_.update_with(begin_(position));
    j->extra = std::move(carried_);
    carried_ = {};
  }
  j->users = dirty_users_.take();
  j->titles = dirty_titles_.take();
  busy_.store(true);
  {
    std::lock_guard<std::mutex> guard{mu_};
    pending_ = std::move(j);
  }
  cv_.notify_all();
}

std::unique_ptr<checkpointer::job> checkpointer::take_finished(bool wait) {
  if (!busy_.load())
    return nullptr;
  std::unique_lock<std::mutex> lock{mu_};
  if (wait)
    cv_.wait(lock, [this] { return finished_ != nullptr; });
  return std::move(finished_);
}

checkpointer::outcome checkpointer::conclude(std::unique_ptr<job> j) {
  busy_.store(false);
  if (j->result.error.empty()) {
    committed_.store(j->sequence);
    count_.fetch_add(1);
  } else {
    // Nothing was stored: these actors go into the next checkpoint, which
    // waits a moment.
    retry_at_ =
      steady::now() + std::min(opts_.interval, std::chrono::milliseconds{1000});
    retrying_ = true;
    dirty_users_.insert(j->users.begin(), j->users.end());
    dirty_titles_.insert(j->titles.begin(), j->titles.end());
    carried_ = std::move(j->extra);
  }
  for (auto& done : j->waiters)
    done(j->result);
  if (j->result.error.empty())
    passivate();
  return std::move(j->result);
}

void checkpointer::passivate() {
  last_sweep_ = steady::now();
  const auto& p = opts_.passivation;
  if (p.idle_ms <= 0 && p.max_users == 0 && p.max_titles == 0)
    return;
  // Actors changed since the last checkpoint began have state not yet
  // stored: they stay.
  auto now = clock_();
  dir_->passivate_users(
    [this](user_key user) { return dirty_users_.contains(user); }, p, now);
  dir_->passivate_titles(
    [this](title_key title) { return dirty_titles_.contains(title); }, p, now);
}

std::optional<checkpointer::outcome> checkpointer::tick(uint64_t position) {
  std::optional<outcome> result;
  if (auto j = take_finished(false))
    result = conclude(std::move(j));
  if (!busy_.load() && due(position))
    start(position);
  return result;
}

bool checkpointer::request(done_fn done) {
  std::lock_guard<std::mutex> guard{requests_mu_};
  if (closed_)
    return false;
  requests_.push_back(std::move(done));
  requested_.store(true);
  return true;
}

std::vector<checkpointer::outcome> checkpointer::finish(uint64_t position) {
  std::vector<outcome> out;
  {
    // Requests from now on are refused: the last checkpoint answers those
    // made before.
    std::lock_guard<std::mutex> guard{requests_mu_};
    closed_ = true;
  }
  if (auto j = take_finished(true))
    out.push_back(conclude(std::move(j)));
  start(position);
  if (auto j = take_finished(true))
    out.push_back(conclude(std::move(j)));
  return out;
}

} // namespace marquee
