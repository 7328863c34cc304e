#pragma once
// SqliteStore opened the way the relay opens it (its own pragmas: WAL, durability full or
// normal) in a fresh directory under std::filesystem::temp_directory_path() (TMPDIR, else
// /tmp on Linux) that goes away with it: the store microbenchmarks' fixture.
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>

#include "store/sqlite_store.hpp"

namespace parley::bench {

class ScratchStore {
 public:
  explicit ScratchStore(bool fsync) {
    auto pattern = (std::filesystem::temp_directory_path() / "parley-relay-micro-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    store_ = std::make_unique<store::SqliteStore>(
        dir_, fsync ? store::Durability::Full : store::Durability::Normal);
  }
  ~ScratchStore() {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  ScratchStore(const ScratchStore&) = delete;
  ScratchStore& operator=(const ScratchStore&) = delete;

  store::SqliteStore& store() { return *store_; }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<store::SqliteStore> store_;
};

}  // namespace parley::bench
