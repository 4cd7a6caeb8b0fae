#include "persistence/similarity_codec.hpp"

#include "persistence/errors.hpp"
#include "persistence/name_order.hpp"
#include "persistence/payload_archive.hpp"
#include "persistence/value_codec.hpp"

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include <algorithm>
#include <cmath>

namespace marquee {

namespace {

/// The sorted, distinct ids of `keys`, and each key's slot among them.
struct dictionary {
  std::vector<std::string_view> names; // views into the interner
  std::vector<uint32_t> slots;         // parallel to the keys given

  dictionary(const std::vector<title_key>& keys, const interner& titles) {
    names.reserve(keys.size());
    slots.reserve(keys.size());
    for (auto k : keys)
      names.push_back(titles.name(k));
    auto sorted = names;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    for (const auto& n : names)
      slots.push_back(static_cast<uint32_t>(
        std::lower_bound(sorted.begin(), sorted.end(), n) - sorted.begin()));
    names = std::move(sorted);
  }
};

/// Interns the dictionary and maps slots to keys; false if any id or slot
/// is invalid.
bool resolve(const std::vector<std::string>& names,
             const std::vector<uint32_t>& slots, interner& titles,
             std::vector<title_key>& out) {
  std::vector<title_key> keys;
  keys.reserve(names.size());
  for (const auto& n : names) {
    auto k = is_valid_id(n) ? titles.intern_known(n) : std::nullopt;
    if (!k)
      return false;
    keys.push_back(*k);
  }
  out.clear();
  for (auto s : slots) {
    if (s >= keys.size())
      return false;
    out.push_back(keys[s]);
  }
  return true;
}

} // namespace

std::string encode_similarity_value(const similarity_record& r,
                                    const id_tables& ids) {
  // Partners in id order: the same state encodes to the same bytes. A
  // title's partners are distinct titles, so the sorted ids are the value's
  // dictionary as they are, each partner in its own slot (what `dictionary`
  // computes, without sorting a second time: checkpoints encode every
  // changed title's whole list).
  std::vector<named> order;
  order.reserve(r.partners.size());
  for (uint32_t i = 0; i < r.partners.size(); ++i)
    order.emplace_back(ids.titles.name(r.partners[i].title), i);
  sort_by_name(order);
  std::vector<std::string_view> names;
  std::vector<uint32_t> slots;
  std::vector<float> weights;
  std::vector<uint32_t> supports;
  names.reserve(order.size());
  slots.reserve(order.size());
  weights.reserve(order.size());
  supports.reserve(order.size());
  for (const auto& x : order) {
    slots.push_back(static_cast<uint32_t>(names.size()));
    names.push_back(x.name);
    weights.push_back(r.partners[x.number].weight);
    supports.push_back(r.partners[x.number].support);
  }
  return write_value(
    value_kind::similarity, similarity_value_version,
    [&](payload_writer& ar) {
      write_names(ar, names);
      ar(r.plays, slots, weights, supports);
    },
    64 + 24 * names.size());
}

std::error_code decode_similarity_value(std::string_view value, id_tables& ids,
                                        similarity_record& out) {
  framed_value framed;
  if (auto ec = unframe_value(value, value_kind::similarity,
                              similarity_value_version, framed))
    return ec;
  std::vector<std::string> names;
  uint32_t plays = 0;
  std::vector<uint32_t> slots;
  std::vector<float> weights;
  std::vector<uint32_t> supports;
  bool read = framed.version >= 2
                ? read_payload(framed.payload,
                               [&](auto& ar) {
                                 ar(names, plays, slots, weights, supports);
                               })
                : read_payload(framed.payload, [&](auto& ar) {
                    ar(names, plays, slots, weights);
                  });
  if (!read || slots.size() != weights.size())
    return persistence_errc::undecodable;
  if (framed.version < 2) {
    // Not stored: the least support the weight allows.
    // (A NaN weight gets 1 here and is refused below.)
    for (auto w : weights)
      supports.push_back(
        w > 1 ? static_cast<uint32_t>(std::min(std::ceil(w), 4e9f)) : 1);
  }
  if (supports.size() != weights.size())
    return persistence_errc::undecodable;
  std::vector<title_key> keys;
  if (!resolve(names, slots, ids.titles, keys))
    return persistence_errc::undecodable;
  out.plays = plays;
  out.partners.clear();
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!(weights[i] > 0) || supports[i] == 0) // also refuses NaN
      return persistence_errc::undecodable;
    out.partners.push_back({keys[i], weights[i], supports[i]});
  }
  return {};
}

std::string encode_ring_value(const std::vector<title_key>& ring,
                              const id_tables& ids) {
  dictionary dict{ring, ids.titles};
  return write_value(
    value_kind::ring, ring_value_version,
    [&](payload_writer& ar) {
      write_names(ar, dict.names);
      ar(dict.slots);
    },
    32 + 16 * ring.size());
}

std::error_code decode_ring_value(std::string_view value, id_tables& ids,
                                  std::vector<title_key>& out) {
  framed_value framed;
  if (auto ec =
        unframe_value(value, value_kind::ring, ring_value_version, framed))
    return ec;
  std::vector<std::string> names;
  std::vector<uint32_t> slots;
  if (!read_payload(framed.payload, [&](auto& ar) { ar(names, slots); }))
    return persistence_errc::undecodable;
  if (!resolve(names, slots, ids.titles, out))
    return persistence_errc::undecodable;
  return {};
}

std::string similarity_store_key(std::string_view title_id) {
  return "s/" + std::string{title_id};
}

std::string ring_store_key(std::string_view user_id) {
  return "r/" + std::string{user_id};
}

} // namespace marquee
