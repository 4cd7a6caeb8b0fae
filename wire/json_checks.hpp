#pragma once

/// Checks of parsed JSON that the parser itself does not make.
///
/// Thread-safe: pure functions of their arguments (a thread-local scratch
/// buffer is reused, so warm calls allocate nothing).

#include <simdjson.h>

#include <optional>
#include <string>

namespace marquee {

/// The first member name that appears twice in one object anywhere in
/// `root` (RFC 7493, I-JSON: member names must be unique; without this
/// check `{"title":"t1","title":"bad id"}` would be read as `t1`), or
/// nullopt. Names are compared after unescaping, so `"a"` and `"\u0061"`
/// are the same name. A name longer than 64 bytes is cut, with "...".
/// The name is as the sender wrote it: escape it before it goes anywhere
/// that control characters matter (headers).
std::optional<std::string> duplicate_key(simdjson::dom::element root);

} // namespace marquee
