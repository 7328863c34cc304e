#pragma once
// Small helpers for the SQLite store's reused prepared statements (sqlite_store.cpp,
// sqlite_media.cpp).
#include <SQLiteCpp/Statement.h>

#include <cstdint>
#include <string_view>

namespace parley::store {

// Binds opaque bytes as a BLOB without copying; the caller keeps `bytes` alive until step.
inline void bind_blob(SQLite::Statement& st, int index, std::string_view bytes) {
  st.bindNoCopy(index, static_cast<const void*>(bytes.data()), static_cast<int>(bytes.size()));
}

// Makes a reused statement ready for new bindings.
inline SQLite::Statement& fresh(SQLite::Statement& st) {
  st.reset();
  st.clearBindings();
  return st;
}

inline std::uint64_t as_u64(const SQLite::Column& c) { return static_cast<std::uint64_t>(c.getInt64()); }
inline std::uint32_t as_u32(const SQLite::Column& c) { return static_cast<std::uint32_t>(c.getInt64()); }

}  // namespace parley::store
