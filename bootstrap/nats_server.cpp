#include "bootstrap/nats_server.hpp"

#include <algorithm>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <thread>

namespace marquee {

namespace {

using std::chrono::milliseconds;
using clock_type = std::chrono::steady_clock;

// How often `start` and `stop` look at the child.
constexpr milliseconds poll_interval{10};

// Exit status of a child that could not exec, as a shell's.
constexpr int exec_failed_status = 127;

// Highest fd closed in the child when close_range is unavailable and the
// fd limit is unknown.
constexpr int fallback_fd_limit = 1024;

// Owns one file descriptor.
class unique_fd {
public:
  explicit unique_fd(int fd = -1) : fd_(lift(fd)) {
    // nop
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = lift(fd);
  }

private:
  // The child's stdio are dup2 targets 0..2, so our fds must stay above them
  // even when the parent runs with stdio closed.
  static int lift(int fd) {
    if (fd < 0 || fd > STDERR_FILENO)
      return fd;
    int high = ::fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    ::close(fd);
    return high;
  }

  int fd_;
};

// Resolves `name` as execvp would, but before fork; empty if not found.
std::string find_executable(const std::string& name) {
  auto is_executable = [](const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           ::access(path.c_str(), X_OK) == 0;
  };
  if (name.empty() || name.find('/') != std::string::npos)
    return is_executable(name) ? name : std::string{};
  const char* env = ::getenv("PATH");
  std::string dirs = env != nullptr ? env : "/usr/local/bin:/usr/bin:/bin";
  for (size_t begin = 0;;) {
    auto end = dirs.find(':', begin);
    auto dir = dirs.substr(begin, end - begin);
    auto candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (is_executable(candidate))
      return candidate;
    if (end == std::string::npos)
      return {};
    begin = end + 1;
  }
}

// Reads the client port from a ports file, `{"nats":["nats://h:p",...]}`;
// nullopt while the file is missing or only partly written.
std::optional<int> read_ports_file(const std::string& path) {
  std::ifstream in{path};
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  const std::string key = "\"nats\":[\"";
  auto begin = text.find(key);
  if (begin == std::string::npos)
    return std::nullopt;
  begin += key.size();
  auto end = text.find('"', begin);
  auto colon = text.rfind(':', end);
  if (end == std::string::npos || colon == std::string::npos || colon < begin)
    return std::nullopt;
  int port = 0;
  auto last = text.data() + end;
  auto [ptr, ec] = std::from_chars(text.data() + colon + 1, last, port);
  if (ec != std::errc{} || ptr != last || port <= 0 || port > 65535)
    return std::nullopt;
  return port;
}

// Returns whether a TCP connection to `host`:`port` succeeds. The server
// binds a local address, so connect completes or fails at once.
bool accepts_connections(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  auto service = std::to_string(port);
  if (::getaddrinfo(host.c_str(), service.c_str(), &hints, &found) != 0)
    return false;
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard{found,
                                                             &::freeaddrinfo};
  for (auto ai = found; ai != nullptr; ai = ai->ai_next) {
    unique_fd fd{
      ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol)};
    // EINTR leaves the connect pending; the next poll simply tries again.
    if (fd.get() >= 0 && ::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0)
      return true;
  }
  return false;
}

// Returns the last line of `file` after `offset`; empty if there is none.
// The last line `pid` wrote to `file` after `offset`: the server's lines
// start with "[<pid>] ". Another server (one shutting down on the same
// data directory) may write to the same log; its lines are skipped. Lines
// without such a prefix (flag errors, panics) count as the server's.
std::string last_line(const std::string& file, int64_t offset, pid_t pid) {
  if (file.empty())
    return {};
  std::ifstream in{file, std::ios::binary};
  in.seekg(offset);
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  auto own = "[" + std::to_string(pid) + "] ";
  std::string found;
  size_t begin = 0;
  while (begin < text.size()) {
    auto end = text.find('\n', begin);
    if (end == std::string::npos)
      end = text.size();
    auto line = text.substr(begin, end - begin);
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    bool other =
      !line.empty() && line[0] == '[' && line.rfind(own, 0) != 0 &&
      line.find("] ") != std::string::npos &&
      std::all_of(line.begin() + 1,
                  line.begin() + static_cast<ptrdiff_t>(line.find("] ")),
                  [](char c) { return c >= '0' && c <= '9'; });
    if (!line.empty() && !other)
      found = line;
    begin = end + 1;
  }
  return found;
}

// Everything the child needs, prepared before fork: between fork and exec
// only async-signal-safe calls are allowed.
struct child_plan {
  const char* path;
  char* const* argv;
  pid_t parent;
  int null_fd;   // stdin and stdout
  int stderr_fd; // the log file or /dev/null
  int report_fd; // close-on-exec pipe; receives errno if exec fails
  int max_fd;
  const struct sigaction* default_action;
};

[[noreturn]] void exec_child(const child_plan& p) {
  // Own process group: a terminal's Ctrl-C must reach only the parent, which
  // stops the server after the service has drained.
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != p.parent) // the parent died before prctl took effect
    ::_exit(exec_failed_status);
  // Ignored signals and the blocked mask survive exec; the server must see
  // SIGTERM whatever the parent does with it.
  for (int sig = 1; sig < NSIG; ++sig)
    ::sigaction(sig, p.default_action, nullptr);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::dup2(p.null_fd, STDIN_FILENO);
  ::dup2(p.null_fd, STDOUT_FILENO);
  ::dup2(p.stderr_fd, STDERR_FILENO);
  // close_range needs Linux 5.11 for CLOEXEC; older kernels get the loop.
  if (::close_range(STDERR_FILENO + 1, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
    for (int fd = STDERR_FILENO + 1; fd < p.max_fd; ++fd)
      if (fd != p.report_fd)
        ::close(fd);
  ::execv(p.path, p.argv);
  int err = errno;
  [[maybe_unused]] auto n = ::write(p.report_fd, &err, sizeof err);
  ::_exit(exec_failed_status);
}

} // namespace

nats_server_process::nats_server_process(std::string runtime_dir)
  : runtime_dir_(std::move(runtime_dir)) {
  // nop
}

nats_server_process::~nats_server_process() {
  stop();
}

std::unique_ptr<nats_server_process>
nats_server_process::start(const nats_server_options& opts,
                           std::string& error) {
  auto fail = [&error](std::string reason) {
    error = "nats-server: " + reason;
    return nullptr;
  };
  auto os_error = [](std::string what) {
    return what + ": " + std::strerror(errno);
  };
  if (opts.host.empty() || opts.port < 0 || opts.port > 65535)
    return fail("invalid listen address");
  if (opts.jetstream && opts.store_dir.empty())
    return fail("store_dir is required when jetstream is enabled");
  auto path = find_executable(opts.executable);
  if (path.empty())
    return fail("executable '" + opts.executable + "' not found");
  std::error_code ec;
  auto tmp = std::filesystem::temp_directory_path(ec);
  auto dir = ((ec ? "/tmp" : tmp) / "marquee-nats-XXXXXX").string();
  if (::mkdtemp(dir.data()) == nullptr)
    return fail(os_error("cannot create " + dir));
  // From here on the object owns the directory and, after fork, the child.
  std::unique_ptr<nats_server_process> self{new nats_server_process{dir}};
  unique_fd null_fd{::open("/dev/null", O_RDWR | O_CLOEXEC)};
  if (null_fd.get() < 0)
    return fail(os_error("cannot open /dev/null"));
  unique_fd log_fd;
  if (!opts.log_file.empty()) {
    log_fd.reset(::open(opts.log_file.c_str(),
                        O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (log_fd.get() < 0)
      return fail(os_error("cannot open log file " + opts.log_file));
    self->log_file_ = opts.log_file;
    self->log_offset_ = ::lseek(log_fd.get(), 0, SEEK_END);
  }
  // Port -1 lets the server bind a port the OS picks, so no other process can
  // take it between choosing and binding; the ports file tells us which.
  auto port = opts.port == 0 ? std::string{"-1"} : std::to_string(opts.port);
  std::vector<std::string> args{
    path, "-a", opts.host, "-p", port, "--ports_file_dir", dir};
  if (opts.jetstream)
    args.insert(args.end(), {"-js", "-sd", opts.store_dir});
  // With -l the server can reopen its log on SIGUSR1; stderr goes there too
  // for what it prints before its logger runs (flag errors, panics).
  if (!opts.log_file.empty())
    args.insert(args.end(), {"-l", opts.log_file});
  args.insert(args.end(), opts.extra_args.begin(), opts.extra_args.end());
  std::vector<char*> argv;
  for (auto& arg : args)
    argv.push_back(arg.data());
  argv.push_back(nullptr);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
    return fail(os_error("pipe"));
  unique_fd report_in{pipe_fds[0]};
  unique_fd report_out{pipe_fds[1]};
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  auto max_fd = ::sysconf(_SC_OPEN_MAX);
  child_plan plan{path.c_str(),
                  argv.data(),
                  ::getpid(),
                  null_fd.get(),
                  log_fd.get() >= 0 ? log_fd.get() : null_fd.get(),
                  report_out.get(),
                  max_fd > 0 ? static_cast<int>(max_fd) : fallback_fd_limit,
                  &default_action};
  pid_t pid = ::fork();
  if (pid < 0)
    return fail(os_error("fork"));
  if (pid == 0)
    exec_child(plan);
  self->pid_ = pid;
  self->reaped_ = false;
  // The server names the file after its argv[0] and pid.
  self->ports_file_ = dir + "/" +
                      std::filesystem::path{path}.filename().string() + "_" +
                      std::to_string(pid) + ".ports";
  report_out.reset();
  int child_errno = 0;
  ssize_t n;
  do
    n = ::read(report_in.get(), &child_errno, sizeof child_errno);
  while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    self->reap(true);
    return fail("cannot execute " + path + ": " + std::strerror(child_errno));
  }
  if (!self->await_ready(opts.host, opts.start_timeout, error)) {
    self->kill_hard();
    return nullptr;
  }
  return self;
}

bool nats_server_process::await_ready(const std::string& host,
                                      milliseconds timeout,
                                      std::string& error) {
  auto deadline = clock_type::now() + timeout;
  for (;;) {
    if (reap(false)) {
      error = describe_exit();
      return false;
    }
    // The server writes the ports file once it listens; connecting confirms.
    auto port = read_ports_file(ports_file_);
    if (port && accepts_connections(host, *port)) {
      port_ = *port;
      auto bracketed =
        host.find(':') == std::string::npos ? host : "[" + host + "]";
      url_ = "nats://" + bracketed + ":" + std::to_string(port_);
      return true;
    }
    if (clock_type::now() >= deadline) {
      error = "nats-server: did not accept connections within " +
              std::to_string(timeout.count()) + " ms";
      return false;
    }
    std::this_thread::sleep_for(poll_interval);
  }
}

std::string nats_server_process::describe_exit() const {
  std::string reason = "nats-server: exited early";
  if (exit_status_ != -1 && WIFEXITED(exit_status_))
    reason += " with status " + std::to_string(WEXITSTATUS(exit_status_));
  else if (exit_status_ != -1 && WIFSIGNALED(exit_status_))
    reason += " on signal " + std::to_string(WTERMSIG(exit_status_));
  auto line = last_line(log_file_, log_offset_, pid_);
  return line.empty() ? reason : reason + ": " + line;
}

bool nats_server_process::reap(bool block) {
  if (reaped_)
    return true;
  int status = 0;
  pid_t rc;
  do
    rc = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  while (rc < 0 && errno == EINTR);
  if (rc == 0)
    return false;
  // rc < 0 is ECHILD: someone else reaped it (or SIGCHLD is ignored).
  reaped_ = true;
  exit_status_ = rc == pid_ ? status : -1;
  return true;
}

bool nats_server_process::running() {
  return !reap(false);
}

void nats_server_process::stop(milliseconds grace) {
  if (!reap(false)) {
    ::kill(pid_, SIGTERM);
    auto deadline = clock_type::now() + grace;
    while (!reap(false) && clock_type::now() < deadline)
      std::this_thread::sleep_for(poll_interval);
    kill_hard();
  }
  // A clean exit removes the ports file, a killed server leaves it behind.
  std::error_code ec;
  std::filesystem::remove_all(runtime_dir_, ec);
}

void nats_server_process::kill_hard() {
  if (reaped_)
    return;
  ::kill(pid_, SIGKILL);
  reap(true);
}

} // namespace marquee
