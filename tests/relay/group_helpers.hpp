#pragma once
// Helpers for the group tests: frames for the group requests and a /metrics reader.
#include <QByteArray>
#include <QList>

#include <string>
#include <vector>

#include "relay_process.hpp"
#include "test_client.hpp"

namespace parley::test {

inline wire::ClientFrame createGroupFrame(const std::vector<std::string>& members) {
  wire::ClientFrame f;
  for (const auto& m : members) f.mutable_create_group()->add_members(m);
  if (members.empty()) f.mutable_create_group();
  return f;
}

inline wire::ClientFrame addMembersFrame(const std::string& gid, const std::vector<std::string>& names) {
  wire::ClientFrame f;
  f.mutable_add_members()->set_group_id(gid);
  for (const auto& n : names) f.mutable_add_members()->add_usernames(n);
  return f;
}

inline wire::ClientFrame removeMembersFrame(const std::string& gid,
                                            const std::vector<std::string>& names) {
  wire::ClientFrame f;
  f.mutable_remove_members()->set_group_id(gid);
  for (const auto& n : names) f.mutable_remove_members()->add_usernames(n);
  return f;
}

inline wire::ClientFrame leaveFrame(const std::string& gid) {
  wire::ClientFrame f;
  f.mutable_leave_group()->set_group_id(gid);
  return f;
}

inline wire::ClientFrame setAdminFrame(const std::string& gid, const std::string& name, bool admin) {
  wire::ClientFrame f;
  f.mutable_set_admin()->set_group_id(gid);
  f.mutable_set_admin()->set_username(name);
  f.mutable_set_admin()->set_admin(admin);
  return f;
}

inline wire::ClientFrame getGroupFrame(const std::string& gid) {
  wire::ClientFrame f;
  f.mutable_get_group()->set_group_id(gid);
  return f;
}

inline wire::ClientFrame groupSendFrame(const std::string& gid, const std::string& ciphertext,
                                        std::string cmid = {}) {
  wire::ClientFrame f;
  auto* g = f.mutable_group_send();
  g->set_group_id(gid);
  g->set_client_msg_id(cmid.empty() ? TestClient::randomId() : cmid);
  g->set_ciphertext(ciphertext);
  return f;
}

// Registers `name` on its own connection and closes it again: a member that is offline.
inline bool registerOffline(RelayProcess& relay, const std::string& name) {
  return TestClient::registered(relay.url(), name) != nullptr;
}

inline bool isError(const std::optional<wire::ServerFrame>& f, wire::ErrorCode code) {
  return f && f->has_error() && f->error().code() == code;
}

}  // namespace parley::test
