#include "coordinator.hpp"

#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cpu_meter.hpp"
#include "endpoint.hpp"
#include "histogram.hpp"
#include "proc_status.hpp"
#include "relay_metrics.hpp"

namespace parley::loadgen {

namespace {

struct Child {
  pid_t pid = -1;
  int to = -1;    // its stdin
  int from = -1;  // its stdout
  std::string buffer;
  std::string at_barrier;
  bool eof = false;
};

struct Merged {
  std::map<std::string, std::uint64_t> counts;
  std::map<std::string, Histogram> histograms;
  std::vector<std::string> errors;
};

std::vector<std::string> worker_args(const Options& o, const char* self, int index) {
  auto num = [](auto v) { std::ostringstream s; s << v; return s.str(); };
  std::vector<std::string> args{self, "--scenario", o.scenario, "--relay", o.relay, "--prefix", o.prefix,
          "--workers", num(o.workers), "--worker-index", num(index),
          "--concurrency", num(o.concurrency), "--timeout", num(o.timeout_seconds), "--connections", num(o.connections),
          "--pairs", num(o.pairs), "--window", num(o.window), "--rate", num(o.rate),
          "--warmup", num(o.warmup_seconds), "--duration", num(o.duration_seconds),
          "--payload-bytes", num(o.payload_bytes), "--messages", num(o.messages),
          "--members", num(o.members), "--group-messages", num(o.group_messages),
          "--group-window", num(o.group_window), "--media-transfers", num(o.media_transfers),
          "--media-files", num(o.media_files), "--media-bytes", num(o.media_bytes),
          "--media-chunk-bytes", num(o.media_chunk_bytes)};
  if (o.no_register) args.push_back("--no-register");
  if (!o.gateways.empty()) {
    args.push_back("--gateways");
    args.push_back(o.gateways);
  }
  return args;
}

Child spawn(const std::vector<std::string>& args) {
  int in[2], out[2];
  if (::pipe(in) != 0 || ::pipe(out) != 0) throw std::runtime_error("pipe failed");
  Child c;
  c.pid = ::fork();
  if (c.pid < 0) throw std::runtime_error("fork failed");
  if (c.pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::close(in[0]); ::close(in[1]); ::close(out[0]); ::close(out[1]);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::perror("parley-loadgen: exec worker");
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  c.to = in[1];
  c.from = out[0];
  return c;
}

void merge_line(Merged& m, const std::string& line) {
  std::istringstream in(line);
  std::string tag, key;
  in >> tag;
  if (tag == "@error") {
    std::string rest;
    std::getline(in, rest);
    m.errors.push_back(rest.empty() ? rest : rest.substr(1));
    return;
  }
  in >> key;
  std::uint64_t a = 0, b = 0;
  if (tag == "@count") {
    in >> a;
    m.counts[key] += a;
  } else if (tag == "@max") {
    in >> a;
    m.counts[key] = std::max(m.counts[key], a);
  } else if (tag == "@hist") {
    in >> a >> b;
    m.histograms[key].add(a, b);
  }
}

class Table {
 public:
  explicit Table(std::string label) : label_(label.empty() ? label : "[" + label + "] ") {}
  void row(const std::string& figure, double value, const std::string& unit, int decimals = 0) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
    std::printf("| %s%s | %s | %s |\n", label_.c_str(), figure.c_str(), text, unit.c_str());
  }

 private:
  std::string label_;
};

}  // namespace

int coordinate(Options o, const char* self_path) {
  ::signal(SIGPIPE, SIG_IGN);
  if (o.prefix.empty() && o.no_register) {
    std::fprintf(stderr, "parley-loadgen: --no-register needs the --prefix of the run that registered\n");
    return 2;
  }
  if (o.prefix.empty()) {
    // Fresh names per run, so a relay data directory can serve several runs.
    static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    o.prefix = "lg";
    for (int i = 0; i < 6; ++i) o.prefix += kAlphabet[randombytes_uniform(36)];
  }
  if ((o.scenario == "replay" || o.scenario == "fanout") && o.workers != 1) {
    std::fprintf(stderr, "parley-loadgen: %s uses one worker\n", o.scenario.c_str());
    o.workers = 1;
  }
  auto rss = [&] { return o.relay_pid > 0 ? rss_kib(o.relay_pid) : -1L; };
  auto slab = [] { return proc_kib("/proc/meminfo", "Slab"); };

  // fanout: the relay's own histogram of the sender's acks, read before and after; what it
  // gained is this run's GroupSends (relay_metrics.hpp).
  const auto relay_endpoint = parse_loopback_endpoint(o.relay, "--relay");
  auto relay_acks = [&]() -> std::optional<RelayHistogram> {
    const auto text = fetch_relay_metrics(relay_endpoint);
    if (!text) return std::nullopt;
    return parse_relay_histogram(*text, "parley_send_ack_seconds", "request=\"group_send\"");
  };
  std::optional<RelayHistogram> relay_acks_before;
  if (o.scenario == "fanout") relay_acks_before = relay_acks();

  std::vector<Child> children;
  for (unsigned i = 0; i < o.workers; ++i)
    children.push_back(spawn(worker_args(o, self_path, static_cast<int>(i))));

  Merged merged;
  long rss_base = -1, rss_half = -1, rss_connected = -1, slab_base = -1, slab_connected = -1;
  // replay: before the drain and its peak; media: before the transfers and their peak;
  // fanout: before the sends and their peak.
  long rss_before = -1, rss_peak = -1;
  // pairs: CPU read when the workers' measured window opens and when it closes. They start
  // it on the "connected" release; this loop wakes every 20 ms, so the readings are at most
  // that late (0.2 % of a 10 s window). fanout: at its "ready" and "fanned" barriers.
  using Clock = std::chrono::steady_clock;
  // Unscheduled until then; each reading is taken once.
  Clock::time_point window_opens = Clock::time_point::max(), window_closes = window_opens;
  CpuReading cpu_open, cpu_close;
  auto read_cpu = [&] {
    CpuReading r;
    if (o.relay_pid > 0) r.server_us = process_cpu_us(o.relay_pid);
    r.client_us = 0;
    for (const auto& c : children) {
      const auto us = process_cpu_us(c.pid);
      if (us < 0 || r.client_us < 0) r.client_us = -1;
      else r.client_us += us;
    }
    r.machine = machine_cpu();
    return r;
  };
  bool failed = false;
  auto on_barrier = [&](const std::string& name) {
    if (name == "registered") {
      rss_base = rss();
      slab_base = slab();
    } else if (name == "half-connected") {
      std::this_thread::sleep_for(std::chrono::duration<double>(o.settle_seconds));
      rss_half = rss();
    } else if (name == "connected" && o.scenario == "idle") {
      std::this_thread::sleep_for(std::chrono::duration<double>(o.settle_seconds));
      rss_connected = rss();
      slab_connected = slab();
    } else if (name == "connected" && o.scenario == "pairs") {
      window_opens = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(o.warmup_seconds));
      window_closes = window_opens + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(o.duration_seconds));
    } else if (name == "filled" || (name == "connected" && o.scenario == "media") ||
               name == "ready") {
      rss_before = rss_peak = rss();
      // fanout: the window is the sends, from the release to the last delivery ("fanned").
      if (name == "ready" && o.scenario == "fanout") cpu_open = read_cpu();
    } else if (name == "fanned") {
      cpu_close = read_cpu();
    }
  };

  std::size_t open = children.size();
  while (open > 0) {
    std::vector<pollfd> fds;
    for (auto& c : children)
      if (!c.eof) fds.push_back({c.from, POLLIN, 0});
    ::poll(fds.data(), fds.size(), 20);
    if (rss_peak >= 0) rss_peak = std::max(rss_peak, rss());
    if (Clock::now() >= window_opens) {
      cpu_open = read_cpu();
      window_opens = Clock::time_point::max();
    }
    if (Clock::now() >= window_closes) {  // after window_opens, so read after it
      cpu_close = read_cpu();
      window_closes = Clock::time_point::max();
    }
    for (auto& c : children) {
      if (c.eof) continue;
      pollfd p{c.from, POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0) continue;
      char chunk[65536];
      const auto n = ::read(c.from, chunk, sizeof chunk);
      if (n <= 0) {
        c.eof = true;
        --open;
        continue;
      }
      c.buffer.append(chunk, static_cast<std::size_t>(n));
      std::size_t nl;
      while ((nl = c.buffer.find('\n')) != std::string::npos) {
        const auto line = c.buffer.substr(0, nl);
        c.buffer.erase(0, nl + 1);
        if (line.rfind("@barrier ", 0) == 0) c.at_barrier = line.substr(9);
        else merge_line(merged, line);
      }
    }
    // A barrier is passed when every live worker has reached it; a worker that ended
    // early (failed) releases the others with "stop".
    bool all_there = open > 0;
    std::string name;
    for (auto& c : children) {
      if (c.eof) continue;
      if (c.at_barrier.empty()) all_there = false;
      name = c.at_barrier;
    }
    // A worker that ended while others still run has failed (workers leave only after
    // the last barrier), whether or not it said why: release the others with "stop".
    const bool someone_died = open < children.size();
    if (all_there || (someone_died && !name.empty())) {
      if (!someone_died) on_barrier(name);
      for (auto& c : children) {
        if (c.eof || c.at_barrier.empty()) continue;
        const char* word = someone_died ? "stop\n" : "go\n";
        if (::write(c.to, word, std::strlen(word)) < 0) { /* it is gone; eof follows */ }
        c.at_barrier.clear();
      }
    }
  }
  for (auto& c : children) {
    int st = 0;
    ::waitpid(c.pid, &st, 0);
    ::close(c.to);
    ::close(c.from);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) failed = true;
  }
  for (const auto& e : merged.errors) std::fprintf(stderr, "parley-loadgen: worker: %s\n", e.c_str());
  if (failed || !merged.errors.empty()) {
    std::fprintf(stderr, "parley-loadgen: %s FAILED\n", o.scenario.c_str());
    return 1;
  }

  auto& n = merged.counts;
  Table t(o.label);
  auto ms = [](std::uint64_t us) { return static_cast<double>(us) / 1000.0; };
  if (o.scenario == "idle") {
    const auto held = n["idle_open"];
    // Registering in the same run churns N connections through the relay first; the memory
    // they freed is reused by the idle ones, so the figure is then an understatement.
    const std::string tag = "idle (" + std::to_string(o.connections) + " connections" +
                            (o.no_register ? "" : ", registered in this run: understated") + ")";
    t.row(tag + ": authenticated connections held", static_cast<double>(held), "connections");
    // Marginal: the second half's growth over the second half's connections (each worker
    // connects the first half of its share, then the rest).
    std::uint64_t second = 0;
    for (unsigned i = 0; i < o.workers; ++i) {
      const auto share = o.connections / o.workers + (i < o.connections % o.workers ? 1 : 0);
      second += share - share / 2;
    }
    if (held == o.connections && rss_half >= 0 && rss_connected >= 0 && second > 0)
      t.row(tag + ": relay RSS per connection", 1024.0 * static_cast<double>(rss_connected - rss_half) / second, "bytes");
    if (held && rss_base >= 0 && rss_connected >= 0)
      t.row(tag + ": relay RSS growth over all connections / N", 1024.0 * static_cast<double>(rss_connected - rss_base) / held, "bytes");
    if (held && slab_base >= 0 && slab_connected >= 0)
      t.row(tag + ": kernel slab per socket (both ends, system-wide)",
            1024.0 * static_cast<double>(slab_connected - slab_base) / (2.0 * held), "bytes");
    t.row(tag + ": failed or dropped", static_cast<double>(n["idle_failed"] + n["idle_dropped"]), "connections");
    return held == o.connections ? 0 : 1;
  }
  if (o.scenario == "pairs") {
    std::ostringstream tag;
    tag << "pairs (" << o.pairs << " pairs, ";
    if (o.rate > 0) tag << "open loop " << o.rate << " msgs/s offered)";
    else tag << "closed loop W=" << o.window << ")";
    const auto& h = merged.histograms["pairs_latency"];
    t.row(tag.str() + ": delivered", static_cast<double>(n["pairs_delivered_in_window"]) / o.duration_seconds, "msgs/s");
    t.row(tag.str() + ": latency p50", ms(h.percentile(0.50)), "ms", 2);
    t.row(tag.str() + ": latency p99", ms(h.percentile(0.99)), "ms", 2);
    t.row(tag.str() + ": latency p99.9", ms(h.percentile(0.999)), "ms", 2);
    const auto bad = n["pairs_errors"] + n["pairs_dropped_connections"];
    if (n["pairs_skipped"]) t.row(tag.str() + ": sends skipped (pair window full)", static_cast<double>(n["pairs_skipped"]), "msgs");
    t.row(tag.str() + ": errors, dropped connections", static_cast<double>(bad), "count");
    // Beyond the relay's capacity an open loop builds a backlog; what is still in flight
    // 10 s after the end is reported (overload), not counted as an error.
    t.row(tag.str() + ": undelivered 10 s after the end", static_cast<double>(n["pairs_lost_in_flight"]), "msgs");
    // Per message delivered in the window, what the relay and the load generator spent, and
    // how busy the machine was (they share it).
    const auto cost = cost_per_message(cpu_open, cpu_close, n["pairs_delivered_in_window"]);
    if (cost.server_us >= 0) t.row(tag.str() + ": relay CPU per delivered message", cost.server_us, "µs", 1);
    if (cost.client_us >= 0)
      t.row(tag.str() + ": load generator CPU per delivered message", cost.client_us, "µs", 1);
    if (cost.busy_percent >= 0) t.row(tag.str() + ": machine CPU busy (all cores)", cost.busy_percent, "%");
    return bad == 0 ? 0 : 1;
  }
  if (o.scenario == "replay") {
    const std::string tag = "replay (" + std::to_string(o.messages) + " queued)";
    const double secs = static_cast<double>(n["replay_drain_us"]) / 1e6;
    t.row(tag + ": drained", secs > 0 ? static_cast<double>(n["replay_received"]) / secs : 0, "msgs/s");
    if (rss_before >= 0) {
      t.row(tag + ": relay RSS before the drain", static_cast<double>(rss_before) / 1024.0, "MiB", 1);
      t.row(tag + ": relay peak RSS during the drain", static_cast<double>(rss_peak) / 1024.0, "MiB", 1);
    }
    return n["replay_received"] == o.messages && n["replay_send_errors"] == 0 ? 0 : 1;
  }
  if (o.scenario == "fanout") {
    std::ostringstream tag_text;
    tag_text << "fanout (" << o.members << " members, " << o.group_messages << " messages";
    if (o.rate > 0) tag_text << ", open loop " << o.rate << " GroupSends/s offered";
    tag_text << ")";
    const std::string tag = tag_text.str();
    const double secs = static_cast<double>(n["fanout_elapsed_us"]) / 1e6;
    const auto& h = merged.histograms["fanout_ack_latency"];
    t.row(tag + ": member deliveries", secs > 0 ? static_cast<double>(n["fanout_deliveries"]) / secs : 0, "deliveries/s");
    t.row(tag + ": sender ack p50", ms(h.percentile(0.50)), "ms", 2);
    t.row(tag + ": sender ack p99", ms(h.percentile(0.99)), "ms", 2);
    // The same acks to when their bytes reached the machine (stamped_socket.hpp): at the
    // latest, since marks arriving before the read lend it their stamp; then only the acks
    // whose stamp is their own, and how many they were.
    const auto& arrival = merged.histograms["fanout_ack_arrival"];
    t.row(tag + ": sender ack p50 to its arrival", ms(arrival.percentile(0.50)), "ms", 2);
    t.row(tag + ": sender ack p99 to its arrival", ms(arrival.percentile(0.99)), "ms", 2);
    t.row(tag + ": sender acks whose read the kernel stamped", static_cast<double>(n["fanout_ack_arrival_stamped"]), "acks");
    const auto& exact = merged.histograms["fanout_ack_arrival_exact"];
    t.row(tag + ": sender acks with their own arrival stamp", static_cast<double>(exact.total()), "acks");
    t.row(tag + ": sender ack p50 to its own arrival stamp", ms(exact.percentile(0.50)), "ms", 2);
    t.row(tag + ": sender ack p99 to its own arrival stamp", ms(exact.percentile(0.99)), "ms", 2);
    if (n["fanout_ack_arrival_unplaced"])
      t.row(tag + ": sender acks stamped before their send (clock stepped)",
            static_cast<double>(n["fanout_ack_arrival_unplaced"]), "acks");
    // The same acks as the relay timed them, frame read to ack handed back to its connection:
    // the arrival figures add the GroupSend's way in, the ack's write and its way out.
    const auto after = relay_acks();
    if (const auto run = after && relay_acks_before ? after->since(*relay_acks_before)
                                                     : std::nullopt) {
      if (const auto p50 = run->quantile(0.50), p99 = run->quantile(0.99); p50 && p99) {
        t.row(tag + ": sender ack p50 inside the relay (its histogram)", *p50 * 1000.0, "ms", 2);
        t.row(tag + ": sender ack p99 inside the relay (its histogram)", *p99 * 1000.0, "ms", 2);
      }
    }
    if (rss_before >= 0) {
      t.row(tag + ": relay RSS before the sends", static_cast<double>(rss_before) / 1024.0, "MiB", 1);
      t.row(tag + ": relay peak RSS during the fan-out", static_cast<double>(rss_peak) / 1024.0, "MiB", 1);
    }
    // What the fan-out cost per member delivery, and how busy the machine was: a sender's ack
    // taken on a saturated machine waited for CPU, whatever the group's size.
    const auto cost = cost_per_message(cpu_open, cpu_close, n["fanout_deliveries"]);
    if (cost.server_us >= 0)
      t.row(tag + ": relay CPU per member delivery", cost.server_us, "µs", 2);
    if (cost.client_us >= 0)
      t.row(tag + ": load generator CPU per member delivery", cost.client_us, "µs", 2);
    if (cost.busy_percent >= 0)
      t.row(tag + ": machine CPU busy (all cores)", cost.busy_percent, "%");
    if (n["fanout_skipped"])
      t.row(tag + ": GroupSends skipped (1,000 in flight)", static_cast<double>(n["fanout_skipped"]), "msgs");
    t.row(tag + ": deliveries missing, send errors",
          static_cast<double>(n["fanout_expected"] - n["fanout_deliveries"] + n["fanout_send_errors"]), "count");
    return n["fanout_deliveries"] == n["fanout_expected"] && n["fanout_send_errors"] == 0 ? 0 : 1;
  }
  if (o.scenario == "media") {
    std::ostringstream tag;
    tag << "media (" << o.media_transfers << " at a time x " << o.media_files << " files of "
        << o.media_bytes << " B, ";
    if (o.media_chunk_bytes) tag << o.media_chunk_bytes << " B per request)";
    else tag << "one request per file)";
    const auto mib_s = [](std::uint64_t bytes, std::uint64_t us) {
      return us > 0 ? static_cast<double>(bytes) / 1048576.0 / (static_cast<double>(us) / 1e6) : 0.0;
    };
    const auto& grant = merged.histograms["media_grant_latency"];
    const auto& up = merged.histograms["media_upload_latency"];
    const auto& down = merged.histograms["media_download_latency"];
    t.row(tag.str() + ": upload", mib_s(n["media_bytes_up"], n["media_upload_us"]), "MiB/s", 1);
    t.row(tag.str() + ": download", mib_s(n["media_bytes_down"], n["media_download_us"]), "MiB/s", 1);
    t.row(tag.str() + ": upload request (PATCH) p50", ms(up.percentile(0.50)), "ms", 2);
    t.row(tag.str() + ": upload request (PATCH) p99", ms(up.percentile(0.99)), "ms", 2);
    t.row(tag.str() + ": download request (GET) p50", ms(down.percentile(0.50)), "ms", 2);
    t.row(tag.str() + ": download request (GET) p99", ms(down.percentile(0.99)), "ms", 2);
    t.row(tag.str() + ": upload grant (CreateUpload) p50", ms(grant.percentile(0.50)), "ms", 2);
    t.row(tag.str() + ": upload grant (CreateUpload) p99", ms(grant.percentile(0.99)), "ms", 2);
    if (rss_before >= 0) {
      t.row(tag.str() + ": relay RSS before the transfers", static_cast<double>(rss_before) / 1024.0, "MiB", 1);
      t.row(tag.str() + ": relay peak RSS during the transfers", static_cast<double>(rss_peak) / 1024.0, "MiB", 1);
    }
    const auto expected = static_cast<std::uint64_t>(o.media_transfers) * o.media_files;
    const auto missing = 2 * expected - n["media_uploaded"] - n["media_downloaded"];
    t.row(tag.str() + ": transfers not completed (uploads + downloads)",
          static_cast<double>(std::max(missing, n["media_failed"])), "count");
    return missing == 0 && n["media_failed"] == 0 ? 0 : 1;
  }
  return 1;
}

}  // namespace parley::loadgen
