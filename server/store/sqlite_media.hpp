#pragma once
// SqliteStore's media statements, kept apart from the messaging ones (sqlite_store.cpp).
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "store/records.hpp"

namespace SQLite {
class Database;
}

namespace parley::store {

class SqliteMedia {
 public:
  explicit SqliteMedia(SQLite::Database& db);
  ~SqliteMedia();

  void create(const MediaRecord& media);
  std::optional<MediaRecord> find(std::string_view media_id);
  std::uint64_t bytes_of(UserId owner);
  std::uint32_t unfinished(UserId owner, std::uint64_t since_ms);
  bool complete(std::string_view media_id, std::string_view sha256, std::uint64_t now_ms);
  std::vector<MediaRecord> purge(std::uint64_t before_ms, std::uint64_t unfinished_before_ms);
  bool referenced(std::string_view sha256);

 private:
  struct Statements;
  std::unique_ptr<Statements> st_;
};

}  // namespace parley::store
