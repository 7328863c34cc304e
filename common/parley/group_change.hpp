#pragma once
// A group's membership changes, as both ends must compute them. The actor's device signs
// the change with its identity key; the relay checks that signature against the change it
// is about to make, and every member checks it again, together with the rule that makes the
// change from the members it already knew (docs/protocol.md, "Signed membership changes").
// So a relay cannot add a member, promote an admin or replay an old change on its own.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley {

// The wire's GroupEvent.Kind values.
enum class GroupChangeKind : std::uint8_t { Created = 1, Added = 2, Removed = 3, Left = 4, AdminChanged = 5 };

struct GroupSeat {
  std::string username;  // folded
  bool admin = false;
  bool operator==(const GroupSeat&) const = default;
};

// Members in joining order; within one change, in the order of its targets.
using GroupSeats = std::vector<GroupSeat>;

struct GroupChange {
  GroupChangeKind kind{};
  std::string actor;                 // folded
  std::vector<std::string> targets;  // folded, each once
  bool admin = false;                // AdminChanged: the target's new flag
};

// The members after `change`, or nullopt with `why` when `current` does not allow it:
// Created needs no members yet and makes the actor the admin, then the targets; Added,
// Removed and AdminChanged need an admin actor; Left has the actor as its one target.
// When the last admin goes, the longest-standing remaining member becomes admin.
std::optional<GroupSeats> next_members(const GroupSeats& current, const GroupChange& change,
                                       std::string* why = nullptr);

// The bytes the actor signs: "parley-group-change-v1" 0x00 | group_id (16) |
// epoch after the change (8, big-endian) | kind (1) | len(actor) (1) | actor |
// count (4, big-endian) then len (1) | name per target |
// count (4, big-endian) then len (1) | name | admin (1) per member after.
std::string group_change_transcript(std::string_view group_id, std::uint64_t epoch,
                                    GroupChangeKind kind, std::string_view actor,
                                    const std::vector<std::string>& targets,
                                    const GroupSeats& members_after);

}  // namespace parley
