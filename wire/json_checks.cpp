#include "wire/json_checks.hpp"

#include <algorithm>
#include <string_view>
#include <vector>

namespace marquee {

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

/// Objects up to this many members are compared pairwise; larger ones are
/// sorted, so a body of thousands of members stays linearithmic.
constexpr size_t pairwise_limit = 16;

/// Longest name quoted back: a 60 KB member name makes no better message.
constexpr size_t quoted_name_limit = 64;

std::string quoted(std::string_view name) {
  if (name.size() <= quoted_name_limit)
    return std::string{name};
  return std::string{name.substr(0, quoted_name_limit)} + "...";
}

std::optional<std::string> duplicate_in(simdjson::dom::object obj,
                                        std::vector<std::string_view>& names) {
  names.clear();
  for (auto field : obj)
    names.push_back(field.key);
  if (names.size() <= pairwise_limit) {
    for (size_t i = 1; i < names.size(); ++i)
      for (size_t j = 0; j < i; ++j)
        if (names[i] == names[j])
          return quoted(names[i]);
    return std::nullopt;
  }
  std::sort(names.begin(), names.end());
  auto it = std::adjacent_find(names.begin(), names.end());
  if (it != names.end())
    return quoted(*it);
  return std::nullopt;
}

std::optional<std::string> walk(element e,
                                std::vector<std::string_view>& names) {
  switch (e.type()) {
  case element_type::OBJECT: {
    simdjson::dom::object obj;
    if (e.get_object().get(obj) != simdjson::SUCCESS)
      return std::nullopt;
    if (auto dup = duplicate_in(obj, names))
      return dup;
    for (auto field : obj)
      if (auto dup = walk(field.value, names))
        return dup;
    return std::nullopt;
  }
  case element_type::ARRAY: {
    simdjson::dom::array items;
    if (e.get_array().get(items) != simdjson::SUCCESS)
      return std::nullopt;
    for (auto item : items)
      if (auto dup = walk(item, names))
        return dup;
    return std::nullopt;
  }
  default:
    return std::nullopt;
  }
}

} // namespace

std::optional<std::string> duplicate_key(element root) {
  thread_local std::vector<std::string_view> names;
  return walk(root, names);
}

} // namespace marquee
