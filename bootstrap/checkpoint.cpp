#include "bootstrap/checkpoint.hpp"

#include "persistence/similarity_codec.hpp"
#include "persistence/state_codec.hpp"

#include <caf/scoped_actor.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>

namespace marquee {

namespace {

/// Asks every actor of one kind for its snapshot and encodes it. Requests
/// run ahead of the replies by up to `window`: few round trips, and each
/// reply is found among at most `window` waiting ones (CAF 0.17 scans the
/// replies that arrived out of order at every receive).
template <class Snapshot, class Actor, class ForEach, class Name, class Encode,
          class Also = void (*)(uint32_t, const Snapshot&)>
bool collect(
  caf::scoped_actor& self, ForEach for_each, Name name, Encode encode,
  std::chrono::milliseconds timeout, std::vector<store_record>& records,
  std::string& error, Also also = [](uint32_t, const Snapshot&) {}) {
  constexpr size_t window = 256;
  using handle =
    decltype(self->request(std::declval<Actor>(), timeout, snapshot_atom_v));
  std::deque<std::pair<uint32_t, handle>> asked;
  bool ok = true;
  auto receive_oldest = [&] {
    auto key = asked.front().first;
    asked.front().second.receive(
      [&](Snapshot& snap) {
        records.push_back({name(key), encode(snap)});
        also(key, snap);
      },
      [&](caf::error& err) {
        if (ok)
          error = "an actor did not give its state: " + caf::to_string(err);
        ok = false;
      });
    asked.pop_front();
  };
  for_each([&](uint32_t key, const auto& actor) {
    asked.emplace_back(key, self->request(actor, timeout, snapshot_atom_v));
    if (asked.size() >= window)
      receive_oldest();
  });
  while (!asked.empty())
    receive_oldest();
  return ok;
}

} // namespace

checkpoint_result
checkpoint_some(caf::actor_system& sys, directory& dir, const id_tables& ids,
                lmdb_store& store, const applied_tracker& applied,
                uint64_t sequence, const std::vector<user_key>& users,
                const std::vector<title_key>& titles, checkpoint_extra& extra,
                const similarity_shards& shards,
                std::chrono::milliseconds timeout) {
  checkpoint_result res;
  caf::scoped_actor self{sys};
  std::vector<store_record> records;
  // Users: from their cells, once every event through `sequence` is
  // applied. Changed users are never passivated before they are stored, so
  // each is live; one that is not has nothing new to store.
  if (!users.empty() && !applied.wait_applied(sequence, timeout)) {
    res.error = "the events through stream sequence " +
                std::to_string(sequence) + " were not applied within " +
                std::to_string(timeout.count()) + " ms (applied through " +
                std::to_string(applied.applied()) + ")";
    return res;
  }
  // Users are encoded as they are written, in key order, into one buffer
  // (their values are most of a checkpoint's bytes): no value is held
  // longer than its put.
  std::vector<std::pair<std::string, user_key>> user_keys;
  user_keys.reserve(users.size());
  for (auto key : users) {
    if (dir.live_user_cell(key))
      user_keys.emplace_back(user_store_key(ids.users.name(key)), key);
    else
      spdlog::warn("checkpoint: changed user {} is not live",
                   ids.users.name(key));
  }
  std::sort(user_keys.begin(), user_keys.end());
  res.users = user_keys.size();
  records.reserve(2 * titles.size() + 1);
  // Changed titles without an actor: changed by catalog events alone (a
  // title changed by an event it counts is live until it is stored).
  std::vector<title_key> catalog_only;
  auto each_title = [&](auto f) {
    for (auto key : titles)
      if (auto actor = dir.live_title(key))
        f(key, *actor);
      else
        catalog_only.push_back(key);
  };
  // A title that trending needs at start also gets its entry in the title
  // index (rewritten, the same empty value, each time it is stored).
  std::vector<store_record> index;
  bool ok = collect<title_snapshot_data, title_actor>(
    self, each_title,
    [&](uint32_t key) { return title_store_key(ids.titles.name(key)); },
    [&](const title_snapshot_data& s) { return encode_title_value(s, ids); },
    timeout, records, res.error,
    [&](uint32_t key, const title_snapshot_data& s) {
      if (indexed(s))
        index.push_back(
          {title_index_key(ids.titles.name(key)), title_index_value()});
    });
  // Their stored state (if any) with the catalog's entry, which may be
  // newer than the checkpoint's sequence: a replay from it sets the same
  // entry again.
  for (auto key : catalog_only) {
    auto stored = dir.stored_title_to_store(key);
    if (!stored)
      continue;
    auto snap = snapshot_of(stored->state);
    snap.last_sequence = stored->applied_through;
    auto name = ids.titles.name(key);
    records.push_back({title_store_key(name), encode_title_value(snap, ids)});
    if (indexed(snap))
      index.push_back({title_index_key(name), title_index_value()});
  }
  res.titles = records.size();
  for (auto& rec : index)
    records.push_back(std::move(rec));
  // Every title this store holds is indexed (the start indexes a store
  // that had none).
  records.push_back({std::string{title_index_done_key}, title_index_value()});
  if (!ok)
    return res;
  // What each shard set aside at `sequence` joins what a failed checkpoint
  // left (newer wins).
  for (const auto& shard : shards.actors) {
    checkpoint_extra part;
    bool got = false;
    self->request(shard, timeout, snapshot_atom_v, sequence)
      .receive(
        [&](similarity_snapshot& snap) {
          part.titles = std::move(snap.titles);
          got = true;
        },
        [&](caf::error& err) {
          res.error =
            "a similarity shard did not give its state: " + caf::to_string(err);
        });
    if (!got)
      return res;
    extra.update_with(std::move(part));
  }
  for (const auto& [user, ring] : extra.rings)
    records.push_back(
      {ring_store_key(ids.users.name(user)), encode_ring_value(ring, ids)});
  for (const auto& [title, rec] : extra.titles)
    records.push_back({similarity_store_key(ids.titles.name(title)),
                       encode_similarity_value(rec, ids)});
  // Every other key sorts before "u/": the puts go in key order.
  std::sort(records.begin(), records.end(),
            [](const auto& x, const auto& y) { return x.key < y.key; });
  std::string value;
  auto produce = [&](const lmdb_store::put_fn& put) {
    for (const auto& r : records)
      if (auto ec = put(r.key, r.value))
        return ec;
    for (const auto& [store_key, key] : user_keys) {
      // Live when it was listed; one passivated since had nothing new
      // (changed users are pinned until stored), so it is skipped.
      auto cell = dir.live_user_cell(key);
      if (!cell)
        continue;
      encode_user_value(cell->snapshot(), ids, value);
      if (auto ec = put(store_key, value))
        return ec;
    }
    return std::error_code{};
  };
  if (auto ec = store.write_checkpoint(produce, sequence))
    res.error = "cannot write the checkpoint: " + ec.message();
  return res;
}

std::shared_ptr<const stored_similarity>
load_similarity(id_tables& ids, const lmdb_store& store, uint64_t sequence,
                std::string& error) {
  auto out = std::make_shared<stored_similarity>();
  out->sequence = sequence;
  std::vector<std::string> keys;
  if (auto ec = store.keys_with_prefix("s/", keys)) {
    error = "cannot list stored similarity: " + ec.message();
    return nullptr;
  }
  size_t unreadable = 0;
  for (const auto& key : keys) {
    auto title = ids.titles.intern_known(std::string_view{key}.substr(2));
    std::string value;
    similarity_record rec;
    if (!title || store.get(key, value) ||
        decode_similarity_value(value, ids, rec)) {
      ++unreadable;
      continue;
    }
    out->titles.emplace_back(*title, std::move(rec));
  }
  if (unreadable > 0)
    spdlog::warn("{} stored similarity values were unreadable and are left "
                 "out (their titles start again from their next plays)",
                 unreadable);
  return out;
}

std::vector<title_key> load_ring(id_tables& ids, const lmdb_store& store,
                                 user_key user) {
  std::string value;
  std::vector<title_key> ring;
  if (store.get(ring_store_key(ids.users.name(user)), value) ||
      decode_ring_value(value, ids, ring))
    return {};
  return ring;
}

size_t restore_trending(trending_cell& trending, id_tables& ids,
                        lmdb_store& store, uint64_t sequence,
                        const trending_params& p, std::string& error) {
  std::string value;
  bool whole = !store.get(title_index_done_key, value);
  std::vector<std::string> keys;
  auto prefix = whole ? title_index_prefix : std::string_view{"t/"};
  if (auto ec = store.keys_with_prefix(prefix, keys)) {
    error = "cannot list stored titles: " + ec.message();
    return 0;
  }
  size_t n = 0;
  size_t unreadable = 0;
  std::vector<store_record> index;
  for (const auto& key : keys) {
    auto id = std::string_view{key}.substr(prefix.size());
    title_snapshot_data snap;
    if (store.get(title_store_key(id), value) ||
        decode_title_value(value, ids, snap)) {
      ++unreadable;
      continue;
    }
    if (!indexed(snap))
      continue; // only shown: neither told nor interned
    auto title = ids.titles.intern_known(id);
    auto state = restore_title(snap, p);
    if (!title || !state) {
      ++unreadable;
      continue;
    }
    announce_title(trending, *title, *state);
    ++n;
    if (!whole)
      index.push_back({title_index_key(id), title_index_value()});
  }
  if (unreadable > 0)
    spdlog::warn("{} stored titles were unreadable and are left out of "
                 "trending (their next event activates them empty)",
                 unreadable);
  // A fresh store has nothing to index: its first checkpoint marks the
  // index whole.
  if (!whole && !keys.empty()) {
    index.push_back({std::string{title_index_done_key}, title_index_value()});
    if (auto ec = store.write_checkpoint(std::move(index), sequence)) {
      error = "cannot write the title index: " + ec.message();
      return 0;
    }
    spdlog::info("indexed the {} stored titles trending needs of {}", n,
                 keys.size());
  }
  return n;
}

} // namespace marquee
