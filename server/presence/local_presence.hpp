#pragma once
// The single-process PresenceRegistry. One mutex guards the maps; it is held only to copy
// out pointers, never while sending (callers send after it returns).
#include <mutex>

#include "presence/presence_registry.hpp"
#include "util/string_map.hpp"

namespace parley {

class LocalPresence final : public PresenceRegistry {
 public:
  Attached attach(const std::string& user, std::uint32_t device,
                  const std::shared_ptr<Session>& session) override;
  std::vector<PresenceNotice> detach(const std::string& user, std::uint32_t device,
                                     const Session* session, std::uint64_t now_ms) override;
  std::shared_ptr<Session> find(std::string_view user, std::uint32_t device) override;
  std::vector<std::shared_ptr<Session>> find_all(std::string_view user) override;
  Subscribed subscribe(const std::string& user, std::vector<std::string> targets) override;
  bool watches(std::string_view watcher, std::string_view target) override;
  void expire(std::uint64_t before_ms) override;

 private:
  struct Device {
    std::uint32_t id;
    std::weak_ptr<Session> session;
  };
  template <class V>
  using Map = StringMap<V>;

  bool mutual(const std::string& a, const std::string& b) const;
  std::vector<std::shared_ptr<Session>> sessions_locked(std::string_view user) const;

  std::mutex mutex_;
  Map<std::vector<Device>> online_;                    // user -> its live devices
  using Set = StringSet;
  Map<Set> watching_;  // user -> whom it subscribed to
  Map<std::uint64_t> last_seen_;
};

}  // namespace parley
