#include "parley/group_change.hpp"

#include <algorithm>
#include <set>

namespace parley {
namespace {

void put_be(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_name(std::string& out, std::string_view name) {
  out.push_back(static_cast<char>(name.size()));  // folded names are 3..32 bytes
  out.append(name);
}

std::optional<GroupSeats> refuse(std::string* why, std::string text) {
  if (why) *why = std::move(text);
  return std::nullopt;
}

GroupSeats::const_iterator seat_of(const GroupSeats& seats, std::string_view name) {
  return std::find_if(seats.begin(), seats.end(), [&](const GroupSeat& s) { return s.username == name; });
}

}  // namespace

std::optional<GroupSeats> next_members(const GroupSeats& current, const GroupChange& change,
                                       std::string* why) {
  const auto& targets = change.targets;
  if (std::set<std::string>(targets.begin(), targets.end()).size() != targets.size())
    return refuse(why, "a user is named twice");
  if (change.kind == GroupChangeKind::Created) {
    if (!current.empty()) return refuse(why, "the group exists already");
    GroupSeats after{{change.actor, true}};
    for (const auto& t : targets) {
      if (t == change.actor) return refuse(why, "the creator is not one of the invited members");
      after.push_back({t, false});
    }
    return after;
  }
  const auto me = seat_of(current, change.actor);
  if (me == current.end()) return refuse(why, "not a member of this group");
  if (change.kind != GroupChangeKind::Left && !me->admin) return refuse(why, "only a group admin can do this");
  if (targets.empty()) return refuse(why, "no user is named");
  GroupSeats after = current;
  switch (change.kind) {
    case GroupChangeKind::Added:
      for (const auto& t : targets) {
        if (seat_of(current, t) != current.end()) return refuse(why, t + " is a member already");
        after.push_back({t, false});
      }
      return after;
    case GroupChangeKind::Left:
      if (targets.size() != 1 || targets[0] != change.actor) return refuse(why, "only the actor can leave");
      [[fallthrough]];
    case GroupChangeKind::Removed:
      for (const auto& t : targets) {
        const auto gone = seat_of(after, t);
        if (gone == after.end()) return refuse(why, "not a member of this group: " + t);
        after.erase(gone);
      }
      if (!after.empty() && std::none_of(after.begin(), after.end(), [](const GroupSeat& s) { return s.admin; }))
        after.front().admin = true;
      return after;
    case GroupChangeKind::AdminChanged: {
      if (targets.size() != 1) return refuse(why, "an admin change names one member");
      auto it = std::find_if(after.begin(), after.end(), [&](const GroupSeat& s) { return s.username == targets[0]; });
      if (it == after.end()) return refuse(why, "not a member of this group: " + targets[0]);
      if (it->admin == change.admin) return refuse(why, "nothing changes");
      it->admin = change.admin;
      if (std::none_of(after.begin(), after.end(), [](const GroupSeat& s) { return s.admin; }))
        return refuse(why, "a group needs an admin: make someone else admin first");
      return after;
    }
    case GroupChangeKind::Created:
      break;
  }
  return refuse(why, "unknown kind of change");
}

std::string group_change_transcript(std::string_view group_id, std::uint64_t epoch,
                                    GroupChangeKind kind, std::string_view actor,
                                    const std::vector<std::string>& targets,
                                    const GroupSeats& members_after) {
  static constexpr std::string_view kDomain{"parley-group-change-v1\0", 23};
  std::string out;
  out.reserve(kDomain.size() + group_id.size() + 8 + 1 + 33 + 4 + 33 * targets.size() + 4 +
              34 * members_after.size());
  out.append(kDomain);
  out.append(group_id);
  put_be(out, epoch, 8);
  out.push_back(static_cast<char>(kind));
  put_name(out, actor);
  put_be(out, targets.size(), 4);
  for (const auto& t : targets) put_name(out, t);
  put_be(out, members_after.size(), 4);
  for (const auto& m : members_after) {
    put_name(out, m.username);
    out.push_back(m.admin ? 1 : 0);
  }
  return out;
}

}  // namespace parley
