#include "actors/similarity_actor.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>
#include <unordered_set>

namespace marquee {

similarity_cell::similarity_cell(
  std::shared_ptr<const similarity_params> p, uint32_t shard, uint32_t count,
  std::shared_ptr<const stored_similarity> stored)
  : params(std::move(p)), table(params.get()), index(shard),
    shards(std::max<uint32_t>(1, count)) {
  if (stored) {
    // Every title's plays (they normalise), the partners of its own.
    for (const auto& [t, rec] : stored->titles) {
      table.set_plays(t, rec.plays);
      if (owns(t))
        table.set_partners(t, rec.partners);
    }
    table.take_changed(); // as stored: nothing to store again
    applied_through = stored->sequence;
  }
}

std::vector<neighbour> similarity_cell::neighbours(title_key title,
                                                   uint32_t n) {
  std::lock_guard<std::mutex> guard{mu};
  const auto& all = table.neighbours_of(title);
  return {all.begin(), all.begin() + std::min<size_t>(n, all.size())};
}

neighbour_fn
neighbours_from(std::vector<std::shared_ptr<similarity_cell>> cells) {
  if (cells.empty())
    return nullptr;
  return [cells = std::move(cells)](title_key title, uint32_t n) {
    return cells[title % cells.size()]->neighbours(title, n);
  };
}

namespace {

similarity_actor::behavior_type
similarity_actor_impl(similarity_actor::pointer,
                      std::shared_ptr<similarity_cell> cell) {
  return {
    [cell](const co_play_batch& batch) {
      if (!batch.round)
        return;
      std::lock_guard<std::mutex> guard{cell->mu};
      apply_round(*batch.round, cell->table, cell->applied_through,
                  [&](title_key t) { return cell->owns(t); });
    },
    [cell](freeze_atom, uint64_t sequence) {
      auto& st = *cell;
      std::lock_guard<std::mutex> guard{st.mu};
      similarity_snapshot snap;
      for (auto t : st.table.take_changed())
        if (st.owns(t))
          snap.titles.emplace_back(t, st.table.record_of(t));
      // A freeze the writer never collected (it failed before asking) is
      // superseded: the next one takes over its titles.
      if (!st.frozen.empty()) {
        auto older = std::move(st.frozen.begin()->second);
        st.frozen.clear();
        std::unordered_set<title_key> fresh;
        for (const auto& kv : snap.titles)
          fresh.insert(kv.first);
        for (auto& kv : older.titles)
          if (fresh.count(kv.first) == 0)
            snap.titles.push_back(std::move(kv));
      }
      st.frozen.emplace(sequence, std::move(snap));
    },
    [cell](snapshot_atom,
           uint64_t sequence) -> caf::result<similarity_snapshot> {
      std::lock_guard<std::mutex> guard{cell->mu};
      auto& frozen = cell->frozen;
      auto i = frozen.find(sequence);
      if (i == frozen.end())
        return make_error(errc::internal,
                          "no similarity snapshot was set aside at sequence " +
                            std::to_string(sequence));
      auto snap = std::move(i->second);
      frozen.erase(i);
      return snap;
    },
    [cell](dump_atom, title_key t) {
      std::lock_guard<std::mutex> guard{cell->mu};
      auto& table = cell->table;
      similarity_dump d;
      d.plays = table.plays(t);
      d.partners = table.partners_of(t).size();
      const auto& all = table.neighbours_of(t);
      d.neighbours.assign(all.begin(),
                          all.begin() + std::min<size_t>(10, all.size()));
      return d;
    },
  };
}

} // namespace

similarity_actor spawn_similarity_actor(caf::actor_system& sys,
                                        std::shared_ptr<similarity_cell> cell) {
  return sys.spawn(similarity_actor_impl, std::move(cell));
}

similarity_shards spawn_similarity_shards(
  caf::actor_system& sys, std::shared_ptr<const similarity_params> p,
  uint32_t count, std::shared_ptr<const stored_similarity> stored) {
  similarity_shards out;
  for (uint32_t i = 0; i < count; ++i) {
    auto cell = std::make_shared<similarity_cell>(p, i, count, stored);
    out.actors.push_back(spawn_similarity_actor(sys, cell));
    out.cells.push_back(std::move(cell));
  }
  return out;
}

} // namespace marquee
