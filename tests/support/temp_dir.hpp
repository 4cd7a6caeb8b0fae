#pragma once

/// A fresh temporary directory for one test, removed with everything in it
/// when the object goes.

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace marquee::testing {

class temp_dir {
public:
  explicit temp_dir(const std::string& prefix = "marquee-test") {
    auto tmpl =
      (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    path_ = mkdtemp(tmpl.data());
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

private:
  std::filesystem::path path_;
};

} // namespace marquee::testing
