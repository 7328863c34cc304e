#pragma once
// What a measured window cost in CPU, read from /proc at its two ends: a process's user plus
// system time (all its threads), and how busy the whole machine was. On a machine whose
// speed drifts from hour to hour, CPU per delivered message moves far less than msgs/s, and
// the machine's busy share tells a latency figure taken near saturation from one that is not.
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

namespace parley::loadgen {

// User plus system CPU time of process `pid` (all its threads, not its children), in µs;
// -1 when it cannot be read.
inline long long process_cpu_us(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return -1;
  // The command name (field 2) may hold spaces and parentheses: fields start after the last ')'.
  const auto name_end = line.rfind(')');
  if (name_end == std::string::npos) return -1;
  std::istringstream fields(line.substr(name_end + 1));
  // Fields 3.. follow: utime and stime are fields 14 and 15.
  std::string skip;
  for (int field = 3; field < 14; ++field)
    if (!(fields >> skip)) return -1;
  long long utime = 0, stime = 0;
  if (!(fields >> utime >> stime)) return -1;
  const long ticks = ::sysconf(_SC_CLK_TCK);
  return ticks > 0 ? (utime + stime) * 1'000'000 / ticks : -1;
}

// All cores' CPU time from /proc/stat, in clock ticks: busy is everything but idle and iowait.
struct MachineCpu {
  long long busy = -1, total = -1;
};

inline MachineCpu machine_cpu() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  if (!(in >> cpu) || cpu != "cpu") return {};
  long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  if (!(in >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal)) return {};
  const long long busy = user + nice + system + irq + softirq + steal;
  return {busy, busy + idle + iowait};
}

// The machine's busy share between two readings, in percent of all its cores; -1 if unknown.
inline double busy_percent(const MachineCpu& from, const MachineCpu& to) {
  if (from.total < 0 || to.total <= from.total) return -1;
  return 100.0 * static_cast<double>(to.busy - from.busy) / static_cast<double>(to.total - from.total);
}

// A window's readings: the relay (or broker), the load generator's processes, the machine.
struct CpuReading {
  long long server_us = -1, client_us = -1;
  MachineCpu machine;
};

// What a window cost per delivered message, and how busy the machine was; -1 for a figure
// whose readings are missing (a process that could not be read, no delivery, no window).
struct CpuCost {
  double server_us = -1, client_us = -1, busy_percent = -1;
};

inline CpuCost cost_per_message(const CpuReading& open, const CpuReading& close,
                                std::uint64_t delivered) {
  CpuCost c;
  if (delivered == 0 || close.machine.total < 0) return c;
  const auto per_message = [&](long long from, long long to) {
    return from < 0 || to < 0 ? -1.0 : static_cast<double>(to - from) / static_cast<double>(delivered);
  };
  c.server_us = per_message(open.server_us, close.server_us);
  c.client_us = per_message(open.client_us, close.client_us);
  c.busy_percent = busy_percent(open.machine, close.machine);
  return c;
}

}  // namespace parley::loadgen
