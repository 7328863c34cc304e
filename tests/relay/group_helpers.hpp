#pragma once
// Helpers for the group tests: frames for the group requests and a /metrics reader.
#include <QByteArray>
#include <QList>

#include <algorithm>
#include <string>
#include <vector>

#include "parley/group_change.hpp"
#include "parley/username.hpp"

#include "relay_process.hpp"
#include "test_client.hpp"

namespace parley::test {

inline wire::ClientFrame getGroupFrame(const std::string& gid) {
  wire::ClientFrame f;
  f.mutable_get_group()->set_group_id(gid);
  return f;
}

// What a client signs for a membership change (docs/protocol.md, "Signed membership
// changes"): the change made from the group as the relay reports it now (GetGroup), with the
// names folded and filtered the way the relay does. A change the rules refuse (a non-admin's,
// a name that does not fold) gets 64 zero bytes, so the relay's own refusal is what a test sees.
inline std::string signChange(TestClient& c, const std::string& gid, GroupChange change,
                              const std::vector<std::string>& names) {
  GroupSeats seats;
  std::uint64_t epoch = 0;
  if (change.kind != GroupChangeKind::Created) {
    if (auto r = c.request(getGroupFrame(gid)); r && r->has_group_info()) {
      epoch = r->group_info().epoch();
      for (const auto& m : r->group_info().members()) seats.push_back({m.username(), m.admin()});
    }
  }
  const std::string none(64, '\0');
  change.actor = c.username();
  for (const auto& n : names) {
    const auto folded = fold_username(n);
    if (folded.empty()) return none;
    const bool member = std::any_of(seats.begin(), seats.end(), [&](const GroupSeat& m) { return m.username == folded; });
    if ((change.kind == GroupChangeKind::Created && folded == change.actor) ||
        (change.kind == GroupChangeKind::Added && member) ||
        std::find(change.targets.begin(), change.targets.end(), folded) != change.targets.end())
      continue;
    change.targets.push_back(folded);
  }
  const auto after = next_members(seats, change);
  if (!after) return none;
  return c.identity().sign(group_change_transcript(gid, epoch + 1, change.kind, change.actor, change.targets, *after));
}

inline wire::ClientFrame createGroupFrame(TestClient& c, const std::vector<std::string>& members) {
  wire::ClientFrame f;
  auto* g = f.mutable_create_group();
  for (const auto& m : members) g->add_members(m);
  g->set_group_id(TestClient::randomId());
  g->set_signature(signChange(c, g->group_id(), {GroupChangeKind::Created, {}, {}, false}, members));
  return f;
}

inline wire::ClientFrame addMembersFrame(TestClient& c, const std::string& gid,
                                         const std::vector<std::string>& names) {
  wire::ClientFrame f;
  f.mutable_add_members()->set_group_id(gid);
  for (const auto& n : names) f.mutable_add_members()->add_usernames(n);
  f.mutable_add_members()->set_signature(signChange(c, gid, {GroupChangeKind::Added, {}, {}, false}, names));
  return f;
}

inline wire::ClientFrame removeMembersFrame(TestClient& c, const std::string& gid,
                                            const std::vector<std::string>& names) {
  wire::ClientFrame f;
  f.mutable_remove_members()->set_group_id(gid);
  for (const auto& n : names) f.mutable_remove_members()->add_usernames(n);
  f.mutable_remove_members()->set_signature(signChange(c, gid, {GroupChangeKind::Removed, {}, {}, false}, names));
  return f;
}

inline wire::ClientFrame leaveFrame(TestClient& c, const std::string& gid) {
  wire::ClientFrame f;
  f.mutable_leave_group()->set_group_id(gid);
  f.mutable_leave_group()->set_signature(signChange(c, gid, {GroupChangeKind::Left, {}, {}, false}, {c.username()}));
  return f;
}

inline wire::ClientFrame setAdminFrame(TestClient& c, const std::string& gid, const std::string& name,
                                       bool admin) {
  wire::ClientFrame f;
  f.mutable_set_admin()->set_group_id(gid);
  f.mutable_set_admin()->set_username(name);
  f.mutable_set_admin()->set_admin(admin);
  f.mutable_set_admin()->set_signature(
      signChange(c, gid, {GroupChangeKind::AdminChanged, {}, {}, admin}, {name}));
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
