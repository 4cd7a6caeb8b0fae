#include "persistence/lmdb_store.hpp"
#include "persistence/value_codec.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <thread>

using namespace marquee;
using marquee::testing::temp_dir;

namespace {

std::unique_ptr<lmdb_store> open_store(const std::string& dir,
                                       size_t initial = size_t{1} << 20,
                                       size_t max = size_t{1} << 30) {
  std::error_code ec;
  std::string detail;
  auto store = lmdb_store::open({dir, initial, max}, ec, detail);
  INFO(detail);
  REQUIRE(store != nullptr);
  return store;
}

std::string value_of(const lmdb_store& store, const std::string& key) {
  std::string out;
  REQUIRE_FALSE(store.get(key, out));
  return out;
}

uint64_t sequence_of(const lmdb_store& store) {
  uint64_t seq = 99;
  REQUIRE_FALSE(store.checkpoint_sequence(seq));
  return seq;
}

/// Runs `body` in a child process; returns its wait status.
template <class F>
int in_child(F body) {
  auto pid = fork();
  if (pid == 0) {
    body();
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

/// Bytes of disk given to `<dir>/data.mdb` (not its apparent size).
size_t allocated_bytes(const std::string& dir) {
  struct stat st {};
  REQUIRE(::stat((dir + "/data.mdb").c_str(), &st) == 0);
  return static_cast<size_t>(st.st_blocks) * 512;
}

} // namespace

TEST_CASE("a checkpoint stores its records and sequence, and they survive a "
          "reopen",
          "[persistence][lmdb]") {
  temp_dir dir;
  {
    auto store = open_store(dir.str());
    CHECK(sequence_of(*store) == 0);
    std::string out;
    CHECK(store->get("u/nobody", out) == persistence_errc::not_found);
    REQUIRE_FALSE(store->write_checkpoint(
      {{"u/b", "two"}, {"u/a", "one"}, {"t/x", "three"}}, 42));
    CHECK(sequence_of(*store) == 42);
    CHECK(value_of(*store, "u/a") == "one");
    REQUIRE_FALSE(store->write_checkpoint({{"u/a", "one again"}}, 43));
  }
  auto store = open_store(dir.str());
  CHECK(sequence_of(*store) == 43);
  CHECK(value_of(*store, "u/a") == "one again");
  CHECK(value_of(*store, "u/b") == "two");
  CHECK(value_of(*store, "t/x") == "three");
}

TEST_CASE("a full map grows and the checkpoint is retried, up to the maximum",
          "[persistence][lmdb]") {
  temp_dir dir;
  auto store = open_store(dir.str(), size_t{256} << 10, size_t{64} << 20);
  auto initial = store->map_bytes();
  // Pages are written with write(2), not in the map (ADR 28): data.mdb takes
  // on disk what it holds, not its map size.
  CHECK(allocated_bytes(dir.str()) < initial);
  std::vector<store_record> big;
  for (int i = 0; i < 2000; ++i)
    big.push_back({"u/" + std::to_string(i), std::string(2000, 'v')});
  REQUIRE_FALSE(store->write_checkpoint(big, 7));
  CHECK(store->map_bytes() > initial);
  CHECK(sequence_of(*store) == 7);
  CHECK(value_of(*store, "u/1999").size() == 2000);
  SECTION("past the maximum the checkpoint fails and the last one stays") {
    std::vector<store_record> huge;
    for (int i = 0; i < 40; ++i)
      huge.push_back({"t/" + std::to_string(i), std::string(2 << 20, 'h')});
    CHECK(store->write_checkpoint(huge, 8) == persistence_errc::map_limit);
    CHECK(sequence_of(*store) == 7);
    std::string out;
    CHECK(store->get("t/0", out) == persistence_errc::not_found);
  }
}

TEST_CASE("a checkpoint that the disk has no room for fails, and the last "
          "one stays",
          "[persistence][lmdb]") {
  temp_dir dir;
  {
    auto store = open_store(dir.str(), size_t{1} << 20, size_t{64} << 20);
    REQUIRE_FALSE(store->write_checkpoint({{"u/a", "one"}}, 1));
  }
  // A file size limit stands in for a full disk: the commit's writes fail
  // (EFBIG) in a child process, which must end normally.
  auto status = in_child([&] {
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit{size_t{1} << 20, size_t{1} << 20};
    if (setrlimit(RLIMIT_FSIZE, &limit) != 0)
      _exit(3);
    std::error_code ec;
    std::string detail;
    auto store = lmdb_store::open(
      {dir.str(), size_t{1} << 20, size_t{64} << 20}, ec, detail);
    if (!store)
      _exit(4);
    std::vector<store_record> big;
    for (int i = 0; i < 2000; ++i)
      big.push_back({"u/" + std::to_string(i), std::string(2000, 'v')});
    auto err = store->write_checkpoint(big, 2);
    uint64_t seq = 0;
    if (!err || store->checkpoint_sequence(seq) || seq != 1)
      _exit(5);
    _exit(0);
  });
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  auto store = open_store(dir.str(), size_t{1} << 20, size_t{64} << 20);
  CHECK(sequence_of(*store) == 1);
  CHECK(value_of(*store, "u/a") == "one");
}

TEST_CASE("the map grows while other threads read, and they read whole "
          "values throughout",
          "[persistence][lmdb]") {
  temp_dir dir;
  auto store = open_store(dir.str(), size_t{256} << 10, size_t{256} << 20);
  REQUIRE_FALSE(
    store->write_checkpoint({{"u/seed", std::string(100, 's')}}, 1));
  std::atomic<bool> done{false};
  std::atomic<uint64_t> reads{0};
  std::atomic<uint64_t> bad{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r)
    readers.emplace_back([&] {
      while (!done.load()) {
        std::string out;
        if (store->get("u/seed", out) || out != std::string(100, 's'))
          bad.fetch_add(1);
        reads.fetch_add(1);
      }
    });
  // Each checkpoint needs a larger map than the one before.
  for (int round = 0; round < 8; ++round) {
    std::vector<store_record> records;
    for (int i = 0; i < 300 << round / 2; ++i)
      records.push_back({"t/" + std::to_string(round) + "/" + std::to_string(i),
                         std::string(2000, 'v')});
    REQUIRE_FALSE(store->write_checkpoint(records, 2 + round));
  }
  done.store(true);
  for (auto& t : readers)
    t.join();
  CHECK(store->map_bytes() > size_t{256} << 10);
  CHECK(reads.load() > 0);
  CHECK(bad.load() == 0);
}

TEST_CASE("a second opener of the same data directory fails at once, naming "
          "the holder",
          "[persistence][lmdb][lock]") {
  temp_dir dir;
  auto store = open_store(dir.str());
  auto started = std::chrono::steady_clock::now();
  std::error_code ec;
  std::string detail;
  auto second = lmdb_store::open({dir.str()}, ec, detail);
  CHECK(second == nullptr);
  CHECK(ec == persistence_errc::locked);
  CHECK_THAT(detail, Catch::Contains("in use by another marquee process") &&
                       Catch::Contains(std::to_string(getpid())));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds{1});
  // Another process is refused the same way.
  auto status = in_child([&] {
    std::error_code cec;
    std::string cdetail;
    auto other = lmdb_store::open({dir.str()}, cec, cdetail);
    _exit(other == nullptr && cec == persistence_errc::locked ? 0 : 1);
  });
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  SECTION("once the holder closes, the directory opens again") {
    store.reset();
    auto again = lmdb_store::open({dir.str()}, ec, detail);
    CHECK(again != nullptr);
  }
}

TEST_CASE("a process killed in the middle of a checkpoint commit leaves the "
          "previous checkpoint whole",
          "[persistence][lmdb][crash]") {
  temp_dir dir;
  {
    auto store = open_store(dir.str());
    REQUIRE_FALSE(store->write_checkpoint({{"u/a", "v1"}, {"u/b", "v1"}}, 1));
  }
  for (int sig : {SIGKILL, SIGTERM}) {
    INFO("signal " << sig);
    auto status = in_child([&] {
      std::error_code ec;
      std::string detail;
      auto store = lmdb_store::open({dir.str()}, ec, detail);
      if (!store)
        _exit(3);
      // The commit is held open here, and the process dies in it (with the
      // default action: the test framework's handlers stay out of it).
      signal(sig, SIG_DFL);
      store->set_before_commit([sig] { kill(getpid(), sig); });
      store->write_checkpoint({{"u/a", "v2"}, {"u/c", "v2"}}, 2);
      _exit(4);
    });
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == sig);
    auto store = open_store(dir.str());
    CHECK(sequence_of(*store) == 1);
    CHECK(value_of(*store, "u/a") == "v1");
    CHECK(value_of(*store, "u/b") == "v1");
    std::string out;
    CHECK(store->get("u/c", out) == persistence_errc::not_found);
  }
}

TEST_CASE("a stored value whose bytes changed is detected by its checksum",
          "[persistence][lmdb]") {
  temp_dir dir;
  auto store = open_store(dir.str());
  auto value = frame_value(value_kind::user, 1, "the state of u/a");
  REQUIRE_FALSE(store->write_checkpoint({{"u/a", value}}, 1));
  auto damaged = value;
  damaged.back() = static_cast<char>(damaged.back() ^ 0x20);
  REQUIRE_FALSE(store->write_checkpoint({{"u/a", damaged}}, 2));
  framed_value out;
  CHECK(unframe_value(value_of(*store, "u/a"), value_kind::user, 1, out) ==
        persistence_errc::bad_checksum);
}

TEST_CASE("the keys of a prefix are listed in order, and only those",
          "[persistence][lmdb]") {
  temp_dir dir;
  auto store = open_store(dir.str());
  REQUIRE_FALSE(store->write_checkpoint(
    {{"t/b", "1"}, {"t/a", "1"}, {"u/a", "1"}, {"s", "1"}, {"t", "1"}}, 1));
  std::vector<std::string> keys;
  REQUIRE_FALSE(store->keys_with_prefix("t/", keys));
  CHECK(keys == std::vector<std::string>{"t/a", "t/b"});
  keys.clear();
  REQUIRE_FALSE(store->keys_with_prefix("x/", keys));
  CHECK(keys.empty());
}

TEST_CASE("a checkpoint written by a producer stores what it puts from a "
          "reused buffer; a full map runs it again, and its error ends the "
          "checkpoint",
          "[persistence][lmdb]") {
  temp_dir dir;
  auto store = open_store(dir.str(), size_t{256} << 10, size_t{64} << 20);
  REQUIRE_FALSE(store->write_checkpoint({{"u/keep", "old"}}, 1));
  int runs = 0;
  std::string buffer;
  auto produce = [&](const lmdb_store::put_fn& put) {
    ++runs;
    for (int i = 0; i < 2000; ++i) {
      buffer.assign(2000, static_cast<char>('a' + i % 26));
      if (auto ec = put("u/" + std::to_string(i), buffer))
        return ec;
    }
    return std::error_code{};
  };
  REQUIRE_FALSE(store->write_checkpoint(produce, 2));
  CHECK(runs > 1); // 4 MB in a 256 KB map: it grew, and ran again
  CHECK(sequence_of(*store) == 2);
  CHECK(value_of(*store, "u/0") == std::string(2000, 'a'));
  CHECK(value_of(*store, "u/1999") == std::string(2000, 'a' + 1999 % 26));
  CHECK(value_of(*store, "u/keep") == "old");
  SECTION("a producer's error ends the checkpoint; the last one stays") {
    auto failing = [](const lmdb_store::put_fn& put) {
      if (auto ec = put("u/0", "new"))
        return ec;
      return std::make_error_code(std::errc::io_error);
    };
    CHECK(store->write_checkpoint(failing, 3) ==
          std::make_error_code(std::errc::io_error));
    CHECK(sequence_of(*store) == 2);
    CHECK(value_of(*store, "u/0") == std::string(2000, 'a'));
  }
}
