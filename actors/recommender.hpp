#pragma once

/// The recommender: assembles the rows of `P.v1.rec.user.<user>` from the
/// user's state, the similarity shards and the trending lists.
///
/// `recommend` answers on the calling thread: it reads the user's cell,
/// the shards' cells and the trending cell under their locks, one after
/// the other, and never waits for an actor (ADR 23). The NATS edge calls
/// it on the thread that received the request (or, for a request that
/// waits for the stream, on the gateway that held it).
///
/// `home` and `because_you_watched` rank the neighbours of the user's
/// recent plays (domain/ranking.hpp), filter them through the catalog,
/// and fill up with trending titles; a row with no similar title left is
/// trending, marked `fallback`.

#include "actors/directory.hpp"
#include "actors/similarity_actor.hpp"
#include "actors/trending_actor.hpp"
#include "domain/params.hpp"
#include "messages/actors.hpp"

#include <caf/expected.hpp>

#include <memory>
#include <vector>

namespace marquee {

/// What a recommendation reads.
struct rec_sources {
  std::shared_ptr<const service_params> params;
  std::shared_ptr<directory> dir;
  std::shared_ptr<const trending_cell> trending;
  /// The best neighbours of a title (null: similarity is off); the
  /// service reads them from the shards' cells (`neighbours_from`).
  neighbour_fn neighbours;
};

/// The answer to `q`, or why there is none (400 for an unknown variant or
/// an `at` before the newest applied play). Counts the answer for its
/// variant and remembers its titles in the user's cell.
caf::expected<rec_result> recommend(const rec_sources& src, rec_query q);

/// `P.v1.rec.similar.<title>`: the best `k` neighbours of `title` that any
/// listing may show (the catalog's listing filter), best first; empty when
/// similarity is off.
std::vector<neighbour> similar_titles(const rec_sources& src, title_key title,
                                      uint32_t k);

} // namespace marquee
