#include "actors/similarity_actor.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <map>
#include <unordered_set>

namespace marquee {

namespace {

struct similarity_state {
  std::shared_ptr<const similarity_params> params;
  std::unique_ptr<co_play_table> table;
  uint32_t index = 0;
  uint32_t shards = 1;
  /// Stream sequence of the last play applied (0: none, or core mode).
  uint64_t applied_through = 0;
  /// Set aside by freezes, by sequence, until the writer takes them.
  std::map<uint64_t, similarity_snapshot> frozen;
  static inline const char* name = "similarity";

  bool owns(title_key t) const { return t % shards == index; }

  void apply(const co_play_round& round) {
    apply_round(round, *table, applied_through,
                [this](title_key t) { return owns(t); });
  }
};

using similarity_pointer = similarity_actor::stateful_pointer<similarity_state>;

similarity_actor::behavior_type
similarity_actor_impl(similarity_pointer self,
                      std::shared_ptr<const similarity_params> p,
                      uint32_t index, uint32_t shards,
                      std::shared_ptr<const stored_similarity> stored) {
  auto& st = self->state;
  st.params = std::move(p);
  st.table = std::make_unique<co_play_table>(st.params.get());
  st.index = index;
  st.shards = std::max<uint32_t>(1, shards);
  if (stored) {
    // Every title's plays (they normalise), the partners of its own.
    for (const auto& [t, rec] : stored->titles) {
      st.table->set_plays(t, rec.plays);
      if (st.owns(t))
        st.table->set_partners(t, rec.partners);
    }
    st.table->take_changed(); // as stored: nothing to store again
    st.applied_through = stored->sequence;
  }
  return {
    [self](const co_play_batch& batch) {
      if (batch.round)
        self->state.apply(*batch.round);
    },
    [self](const neighbours_query& q) {
      neighbours_result res;
      res.lists.reserve(q.titles.size());
      for (auto t : q.titles) {
        const auto& all = self->state.table->neighbours_of(t);
        auto n = std::min<size_t>(q.n, all.size());
        res.lists.emplace_back(all.begin(), all.begin() + n);
      }
      return res;
    },
    [self](freeze_atom, uint64_t sequence) {
      auto& st = self->state;
      similarity_snapshot snap;
      for (auto t : st.table->take_changed())
        if (st.owns(t))
          snap.titles.emplace_back(t, st.table->record_of(t));
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
    [self](snapshot_atom,
           uint64_t sequence) -> caf::result<similarity_snapshot> {
      auto& frozen = self->state.frozen;
      auto i = frozen.find(sequence);
      if (i == frozen.end())
        return make_error(errc::internal,
                          "no similarity snapshot was set aside at sequence " +
                            std::to_string(sequence));
      auto snap = std::move(i->second);
      frozen.erase(i);
      return snap;
    },
    [self](dump_atom, title_key t) {
      auto& table = *self->state.table;
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

similarity_actor
spawn_similarity_actor(caf::actor_system& sys,
                       std::shared_ptr<const similarity_params> p,
                       uint32_t index, uint32_t shards,
                       std::shared_ptr<const stored_similarity> stored) {
  return sys.spawn(similarity_actor_impl, std::move(p), index, shards,
                   std::move(stored));
}

} // namespace marquee
