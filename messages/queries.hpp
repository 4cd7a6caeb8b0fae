#pragma once

/// Questions clients and operators ask, and the answers actors give, with
/// ids as keys. The wire turns them into JSON and back.

#include "domain/catalog.hpp"
#include "domain/impressions.hpp"
#include "domain/ranking.hpp"
#include "domain/similarity.hpp"
#include "domain/snapshot.hpp"
#include "domain/trending.hpp"
#include "domain/user_state.hpp"

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace marquee {

/// A genre key that names no genre: a requested genre never seen.
constexpr genre_key no_genre = std::numeric_limits<genre_key>::max();

/// A user key that names no user: a request for a user never seen.
constexpr user_key no_user = std::numeric_limits<user_key>::max();

// -- item similarity ----------------------------------------------------------

/// A shard's titles changed up to a checkpoint's sequence, set aside when
/// the ingest thread's freeze for that sequence reached it.
struct similarity_snapshot {
  std::vector<std::pair<title_key, similarity_record>> titles;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, similarity_snapshot& x) {
  auto n = x.titles.size();
  return f(caf::meta::type_name("similarity_snapshot"), n);
}

/// What a shard holds of one title, for operators.
struct similarity_dump {
  uint32_t plays = 0;
  size_t partners = 0;
  std::vector<neighbour> neighbours;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, similarity_dump& x) {
  return f(caf::meta::type_name("similarity_dump"), x.plays, x.partners);
}

// -- impression history -------------------------------------------------------

/// `P.v1.impressions.<user>`. Empty `titles`: every title with impressions;
/// `windows` is never empty (the wire fills in the configured ones).
struct impressions_query {
  user_key user = 0;
  std::vector<title_key> titles;
  std::vector<int64_t> windows_ms;
  int64_t at = 0;
  /// Whether the client gave `at`; if not, the EMAs are taken at the later
  /// of `at` (now) and the user's newest impression.
  bool at_given = false;
};

struct impressions_result {
  int64_t at = 0;
  std::vector<impression_row> rows;
};

// -- trending -----------------------------------------------------------------

/// `P.v1.rec.trending`, and the trending candidates of a recommendation.
struct trending_query {
  uint32_t k = 10;
  uint32_t window = 0; // index into the configured trending windows
  region_key region = all_regions;
  std::vector<genre_key> genres; // sorted; empty: any
  int64_t at = 0;
  /// Whether the client gave `at`; if not, scores are taken at the later of
  /// `at` (now) and the newest applied play.
  bool at_given = false;
};

struct trending_result {
  int64_t at = 0;
  std::vector<trending_entry> items;
};

// -- recommendations ----------------------------------------------------------

enum class rec_row : uint8_t {
  home,
  because_you_watched,
  continue_watching,
  trending,
};

enum class rec_reason : uint8_t {
  because_you_watched,
  trending,
  popular,
  genre,
  continue_watching,
};

/// `P.v1.rec.user.<user>`.
struct rec_query {
  user_key user = 0;
  uint32_t k = 20;
  rec_row row = rec_row::home;
  int64_t at = 0;
  bool explain = false;
  std::vector<title_key> exclude; // sorted
  std::vector<genre_key> genres;  // sorted; empty: any
  /// The experiment variant (index into the configured ones), forced by
  /// the request or assigned by the hash of the user's id.
  uint32_t variant = 0;
  bool at_given = false; // see trending_query
  /// Answer only once the stream is applied through this sequence (0: no
  /// wait); the edge waits, the recommender never sees it.
  uint64_t after = 0;
};

/// Titles a user was just recommended, for the play-through count.
struct recommended_list {
  std::vector<title_key> titles;
  int64_t at = 0;
  uint32_t variant = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, recommended_list& x) {
  return f(caf::meta::type_name("recommended_list"), x.titles, x.at, x.variant);
}

struct rec_feature {
  std::string name;
  double value = 0;
};

struct rec_item {
  title_key title = 0;
  double score = 0;
  rec_reason reason = rec_reason::trending;
  title_key source = no_title;
  std::vector<rec_feature> features; // only with `explain`
};

struct rec_result {
  rec_row row = rec_row::home;
  std::string variant;
  int64_t at = 0;
  title_key source = no_title;
  std::vector<rec_item> items;
  bool fallback = false;
};

/// What a recommendation needs of a user, read from its actor.
struct user_snapshot {
  user_view view;
  std::vector<play_record> in_progress; // newest first
  std::vector<play_record> recent;      // newest first
  /// Titles shown and never played, with their impression EMA at the
  /// request's time (sorted by title).
  std::vector<std::pair<title_key, double>> fatigue;
};

/// A filter request: which of `titles` may be shown to `view`, in order.
struct filter_query {
  user_view view;
  std::vector<title_key> titles;
  /// Not for one user: keep what any listing may show (available, or with
  /// no catalog entry), as `P.v1.rec.similar` does; `view` is ignored.
  bool listing = false;
};

/// Similar titles for one user, to filter and to rank with what the
/// catalog knows: which of `candidates` pass every filter of `view`, their
/// genre affinity to the genres of `seeds`, and the score with it.
struct rank_query {
  user_view view;
  std::vector<scored_title> candidates;
  std::vector<seed> seeds;
  /// The user's impression fatigue (sorted by title).
  std::vector<std::pair<title_key, double>> fatigue;
  /// The weights of the user's experiment variant.
  ranking_params params;
  /// Rank the first `k` for diversity (see `diversify`).
  uint32_t k = 0;
  /// Trending scores are taken at `at` (at least the newest play).
  int64_t at = 0;
};

/// The candidates that pass, best first.
struct rank_result {
  std::vector<scored_title> items;
};

/// Trending candidates for one user: the best `k` of window `window` that
/// pass every filter of `view`, scored at `at`.
struct candidates_query {
  user_view view;
  uint32_t k = 20;
  uint32_t window = 0;
  int64_t at = 0;
  bool at_given = false; // see trending_query
};

// -- operator state -----------------------------------------------------------

/// The live state of one user actor (`P.v1.admin.<t>.user`).
struct user_dump {
  std::vector<play_record> recent;
  std::vector<title_key> watched;
  std::vector<play_record> in_progress;
  std::vector<feedback_record> feedback;
  user_profile profile;
  std::vector<impression_row> top_impressions; // configured windows
  size_t impressed_titles = 0;
  size_t raw_impressions = 0;
  int64_t newest_impression = 0;
  uint64_t events = 0;
  uint64_t applied_through = 0; // stream sequence, 0 in core mode
  int64_t at = 0;
};

/// The decayed counts of a title in one region at one time.
struct region_scores {
  region_key region = all_regions;
  uint64_t plays = 0;
  std::vector<double> scores; // one per configured trending window
};

/// The live state of one title actor (`P.v1.admin.<t>.title`).
struct title_dump {
  bool has_meta = false;
  title_meta meta;
  uint64_t plays = 0;
  uint64_t impressions = 0;
  int64_t last_play_ts = 0;
  int64_t last_impression_ts = 0;
  uint64_t thumbs_up = 0;
  uint64_t thumbs_down = 0;
  std::vector<region_scores> trending; // all regions first
  uint64_t applied_through = 0;        // stream sequence, 0 in core mode
  int64_t at = 0;
};

// -- inspection ---------------------------------------------------------------
// Only fields that CAF can render are listed; the structs travel locally.

#define MARQUEE_INSPECT_NAME_ONLY(type)                                        \
  template <class Inspector>                                                   \
  typename Inspector::result_type inspect(Inspector& f, type&) {               \
    return f(caf::meta::type_name(#type));                                     \
  }

MARQUEE_INSPECT_NAME_ONLY(impressions_query)
MARQUEE_INSPECT_NAME_ONLY(impressions_result)
MARQUEE_INSPECT_NAME_ONLY(user_dump)
MARQUEE_INSPECT_NAME_ONLY(title_dump)
MARQUEE_INSPECT_NAME_ONLY(user_snapshot_data)
MARQUEE_INSPECT_NAME_ONLY(title_snapshot_data)

#undef MARQUEE_INSPECT_NAME_ONLY

} // namespace marquee
