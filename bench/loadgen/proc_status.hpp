#pragma once
// One "Field:   N kB" value of a /proc file (VmRSS of /proc/PID/status, Slab of
// /proc/meminfo), in KiB; -1 when the file or the field is missing.
#include <fstream>
#include <string>

namespace parley::loadgen {

inline long proc_kib(const std::string& path, const std::string& field) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  return -1;
}

// The resident set of process `pid`, in KiB; -1 when it cannot be read.
inline long rss_kib(long pid) {
  return proc_kib("/proc/" + std::to_string(pid) + "/status", "VmRSS");
}

}  // namespace parley::loadgen
