#include "persistence/state_codec.hpp"

#include "persistence/name_order.hpp"
#include "persistence/payload_archive.hpp"
#include "persistence/value_codec.hpp"

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include <algorithm>
#include <optional>
#include <stdexcept>

namespace marquee {

template <class Archive>
void serialize(Archive& ar, user_snapshot_data& s) {
  ar(s.last_sequence, s.events_applied, s.windows, s.recent_titles, s.recent_ts,
     s.recent_progress, s.watched, s.progress_titles, s.progress_ts,
     s.progress_values, s.feedback_titles, s.feedback_ts, s.feedback_values,
     s.has_max_age, s.max_age, s.has_region, s.region, s.has_play_region,
     s.play_region, s.play_region_ts, s.impression_titles, s.impression_counts,
     s.impression_last_ts, s.impression_emas, s.raw_ts, s.raw_titles,
     s.newest_ts, s.covered_from);
}

template <class Archive>
void serialize(Archive& ar, title_snapshot_data& s) {
  ar(s.last_sequence, s.windows, s.has_meta, s.name, s.genres, s.min_age,
     s.year, s.regions, s.available, s.impressions, s.thumbs_up, s.thumbs_down,
     s.last_play_ts, s.last_impression_ts, s.plays, s.trending_regions,
     s.trending_plays, s.decayed_values, s.decayed_refs);
}

namespace {

/// Collects the keys a snapshot names in one key space, then numbers them
/// by their ids' sorted order: the value's dictionary.
class dictionary_builder {
public:
  explicit dictionary_builder(const interner& table) : table_(table) {
    // nop
  }

  /// Records every key it is called with.
  key_visitor collector() {
    return [this](uint32_t key) { keys_.push_back(key); };
  }

  /// Sorts the ids; afterwards `position` maps keys to dictionary slots.
  void finish() {
    std::sort(keys_.begin(), keys_.end());
    keys_.erase(std::unique(keys_.begin(), keys_.end()), keys_.end());
    std::vector<named> order;
    order.reserve(keys_.size());
    for (uint32_t i = 0; i < keys_.size(); ++i)
      order.emplace_back(table_.name(keys_[i]), i);
    sort_by_name(order);
    slots_.resize(keys_.size());
    names_.clear();
    names_.reserve(keys_.size());
    for (uint32_t slot = 0; slot < order.size(); ++slot) {
      slots_[order[slot].number] = slot;
      names_.push_back(order[slot].name);
    }
  }

  key_map position() const {
    return [this](uint32_t key) -> std::optional<uint32_t> {
      auto i = std::lower_bound(keys_.begin(), keys_.end(), key);
      if (i == keys_.end() || *i != key)
        return std::nullopt;
      return slots_[static_cast<size_t>(i - keys_.begin())];
    };
  }

  /// The ids in slot order (views into the interner).
  const std::vector<std::string_view>& names() const { return names_; }

  size_t size() const { return keys_.size(); }

private:
  const interner& table_;
  /// Distinct keys, ascending once finished; `slots_` parallel to them.
  std::vector<uint32_t> keys_;
  std::vector<uint32_t> slots_;
  std::vector<std::string_view> names_;
};

/// Interns a value's dictionary; nullopt if an entry is not a valid token.
std::optional<std::vector<uint32_t>>
intern_all(const std::vector<std::string>& names, interner& table,
           bool ids_only) {
  std::vector<uint32_t> keys;
  keys.reserve(names.size());
  for (const auto& name : names) {
    bool ok = ids_only ? is_valid_id(name)
                       : !name.empty() && name.size() <= max_id_length;
    auto key = ok ? table.intern_known(name) : std::nullopt;
    if (!key)
      return std::nullopt;
    keys.push_back(*key);
  }
  return keys;
}

key_map from_slots(const std::vector<uint32_t>& keys) {
  return [&keys](uint32_t slot) -> std::optional<uint32_t> {
    if (slot >= keys.size())
      return std::nullopt;
    return keys[slot];
  };
}

} // namespace

namespace {

/// The two key spaces a snapshot names, and how strict their ids are.
struct key_spaces {
  const interner& first;
  const interner& second;
};

struct key_tables {
  interner& first;
  interner& second;
  bool first_are_ids; // title ids, or shorter tokens (regions, genres)
};

template <class Snapshot>
void encode_value(const Snapshot& s, value_kind kind, uint16_t version,
                  key_spaces spaces, std::string& out) {
  dictionary_builder first{spaces.first};
  dictionary_builder second{spaces.second};
  visit_keys(s, first.collector(), second.collector());
  first.finish();
  second.finish();
  // Every key was collected just above: only a snapshot that breaks its own
  // invariants (a bug) fails here.
  auto local = remap_keys(s, first.position(), second.position());
  if (!local)
    throw std::logic_error("a snapshot to store is inconsistent");
  out.reserve(value_header_size + 1024 + 64 * first.size());
  write_value_into(out, kind, version, [&](payload_writer& ar) {
    write_names(ar, first.names());
    write_names(ar, second.names());
    ar(*local);
  });
}

template <class Snapshot>
std::string encode_value(const Snapshot& s, value_kind kind, uint16_t version,
                         key_spaces spaces) {
  std::string out;
  encode_value(s, kind, version, spaces, out);
  return out;
}

/// Brings a payload of an older format version to this build's; false
/// when it is inconsistent.
bool upgrade(user_snapshot_data& s, uint16_t version) {
  if (version >= 2)
    return true;
  // Version 1 kept EMAs for every impression title; a title shown once has
  // 1 in every window, and version 2 keeps EMAs only for the others.
  auto n = s.impression_titles.size();
  if (s.impression_counts.size() != n ||
      s.impression_emas.size() != n * s.windows)
    return false;
  std::vector<double> kept;
  for (size_t i = 0; i < n; ++i) {
    auto first =
      s.impression_emas.begin() + static_cast<ptrdiff_t>(i * s.windows);
    auto last = first + s.windows;
    if (s.impression_counts[i] > 1)
      kept.insert(kept.end(), first, last);
    else if (!std::all_of(first, last, [](double v) { return v == 1.0; }))
      return false;
  }
  if (kept.empty())
    s.windows = 0;
  s.impression_emas = std::move(kept);
  return true;
}

bool upgrade(title_snapshot_data&, uint16_t) {
  return true;
}

template <class Snapshot>
std::error_code decode_value(std::string_view value, value_kind kind,
                             uint16_t version, key_tables tables,
                             Snapshot& out) {
  framed_value framed;
  if (auto ec = unframe_value(value, kind, version, framed))
    return ec;
  std::vector<std::string> first_names;
  std::vector<std::string> second_names;
  Snapshot local;
  if (!read_payload(framed.payload,
                    [&](auto& ar) { ar(first_names, second_names, local); }) ||
      !upgrade(local, framed.version))
    return persistence_errc::undecodable;
  auto first = intern_all(first_names, tables.first, tables.first_are_ids);
  auto second = intern_all(second_names, tables.second, false);
  if (!first || !second)
    return persistence_errc::undecodable;
  auto mapped = remap_keys(local, from_slots(*first), from_slots(*second));
  if (!mapped)
    return persistence_errc::undecodable;
  out = std::move(*mapped);
  return {};
}

} // namespace

std::string encode_user_value(const user_snapshot_data& s,
                              const id_tables& ids) {
  return encode_value(s, value_kind::user, user_value_version,
                      {ids.titles, ids.regions});
}

void encode_user_value(const user_snapshot_data& s, const id_tables& ids,
                       std::string& out) {
  encode_value(s, value_kind::user, user_value_version,
               {ids.titles, ids.regions}, out);
}

std::error_code decode_user_value(std::string_view value, id_tables& ids,
                                  user_snapshot_data& out) {
  return decode_value(value, value_kind::user, user_value_version,
                      {ids.titles, ids.regions, true}, out);
}

std::string encode_title_value(const title_snapshot_data& s,
                               const id_tables& ids) {
  return encode_value(s, value_kind::title, title_value_version,
                      {ids.regions, ids.genres});
}

std::error_code decode_title_value(std::string_view value, id_tables& ids,
                                   title_snapshot_data& out) {
  return decode_value(value, value_kind::title, title_value_version,
                      {ids.regions, ids.genres, false}, out);
}

std::string user_store_key(std::string_view user_id) {
  return "u/" + std::string{user_id};
}

std::string title_index_key(std::string_view title_id) {
  return std::string{title_index_prefix} + std::string{title_id};
}

std::string title_index_value() {
  return frame_value(value_kind::index, 1, {});
}

std::string title_store_key(std::string_view title_id) {
  return "t/" + std::string{title_id};
}

} // namespace marquee
