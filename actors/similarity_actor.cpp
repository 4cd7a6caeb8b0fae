#include "actors/similarity_actor.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace marquee {

namespace {

struct similarity_state {
  std::shared_ptr<const similarity_params> params;
  std::unique_ptr<co_play_table> table;
  uint32_t index = 0;
  uint32_t shards = 1;
  /// Stream sequence of the last play applied (0: none, or core mode).
  uint64_t applied_through = 0;
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
                      uint32_t index, uint32_t shards) {
  auto& st = self->state;
  st.params = std::move(p);
  st.table = std::make_unique<co_play_table>(st.params.get());
  st.index = index;
  st.shards = std::max<uint32_t>(1, shards);
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
                       uint32_t index, uint32_t shards) {
  return sys.spawn(similarity_actor_impl, std::move(p), index, shards);
}

} // namespace marquee
