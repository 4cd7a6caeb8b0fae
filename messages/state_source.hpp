#pragma once

/// Where actors' stored state comes from when they are activated: the seam
/// between the actors and persistence/ (DESIGN.md: actors depend on the
/// abstract snapshot store).

#include "domain/ids.hpp"
#include "domain/snapshot.hpp"

#include <cstdint>
#include <optional>
#include <string_view>

namespace marquee {

/// Thread-safe: the directory calls it from ingest and request threads.
class state_source {
public:
  virtual ~state_source() = default;

  /// The stored snapshot of `user`, or nullopt if none was stored or the
  /// stored value cannot be read (the implementation counts those).
  virtual std::optional<user_snapshot_data> load_user(user_key user) = 0;

  /// The same for a title.
  virtual std::optional<title_snapshot_data> load_title(title_key title) = 0;

  /// Whether state is stored for the user with this id (which this process
  /// may not have interned yet).
  virtual bool has_user(std::string_view id) = 0;

  /// The same for a title.
  virtual bool has_title(std::string_view id) = 0;

  /// Stored values found but not readable (damaged, or of a newer format).
  virtual uint64_t unreadable() const = 0;
};

} // namespace marquee
