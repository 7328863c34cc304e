#pragma once
// What every session needs from the relay. Outlives all sessions: the relay stops the
// io_context threads (and so every session) before it destroys any of these.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "session/keyed_rate_limiter.hpp"
#include "util/address_key.hpp"

namespace parley {
// A token bucket per client address or network (util/address_key.hpp).
using AddressRateLimiter = KeyedRateLimiter<AddressKey, AddressKeyHash>;

class DeliverBodies;
class Metrics;
class PresenceRegistry;
namespace store {
class StoreWorker;
using UserId = std::int64_t;
}
namespace groups {
class FanoutWorker;
class GroupLimiter;
class SenderHolds;
}  // namespace groups
namespace routing {
class DeviceRouter;
}
namespace media {
struct MediaContext;
}

struct SessionLimits {
  std::size_t send_queue_frames = 4096;       // frames waiting to be written to one socket
  std::size_t send_queue_bytes = 8u << 20;    // and their bytes; beyond either: disconnect
  // Delivery pauses above a quarter of the bound (at most 1 MiB); if the queue stays there
  // this long, the reader is too slow: disconnect.
  std::chrono::milliseconds write_stall{20000};
  std::uint32_t delivery_window = 512;        // inbox entries pushed but not yet acked
  // How long a raised delivery mark may wait for another frame to its device to share a
  // write with, if it came less than this after the one before it (otherwise, and with 0,
  // it goes when the handler that raised it ends). A busy sender's next SendAck usually
  // comes first; 100 ms is about where a delay stops feeling instant.
  std::chrono::milliseconds mark_linger{100};
  // What one device's undelivered entries may weigh (Store::inbox_bytes): a bound on what
  // anyone can make the relay keep for someone, since sending costs nothing.
  std::uint64_t inbox_quota_bytes = std::uint64_t{256} << 20;
  // Of that, what one sender's 1:1 messages may weigh (Store::inbox_bytes_from), so one
  // stranger cannot fill the inbox and hold up everyone else's messages: it takes
  // quota / share accounts (8), each costing a registration.
  std::uint64_t inbox_share_bytes = std::uint64_t{32} << 20;
  // What one user's entries in group logs may weigh (Store::group_load_of): messages and
  // membership events the relay keeps until every member has them, and the members' inbox
  // rows charged to them. Groups are free to make and anyone may be added to one, so
  // without it one account, with members that never come online, could make the relay keep
  // its groups' send rate in bytes, and a row per member device for each message, for the
  // whole retention. About a month of a heavy sender's messages to groups with a few
  // members away (each member device away adds 128 bytes to each message).
  std::uint64_t group_share_bytes = std::uint64_t{128} << 20;
  // Of one user's group entries, how many the fan-out may not yet have given to every
  // member: their rows are weighed as they are written, so this bounds what the share
  // does not see yet (at most this many times the largest group's devices).
  std::uint32_t group_pending_max = 64;
  std::uint32_t replay_page = 256;            // entries read from the store at once
  std::uint32_t max_pending_jobs = 256;       // store jobs in flight before reading pauses
  std::size_t max_pending_bytes = 4u << 20;   // or payload bytes held by those jobs
  std::size_t replay_page_bytes = 1u << 20;   // ciphertext read from the store at once
  double rate_per_second = 500;               // frames a client may send, sustained
  double rate_burst = 1000;
  double bundle_rate_per_second = 1;          // prekey bundle fetches, per connection
  double bundle_burst = 30;
  // One-time prekeys handed out per user, to all fetchers together (a bucket of this many,
  // refilled over an hour). Past it, bundles carry the signed prekey only: however many
  // accounts fetch, a user's stock drains no faster than this, and its client refills it.
  double one_time_prekeys_per_hour = 100;
  // Accounts registered from one address (util/address_key.hpp), a bucket of this many
  // refilled over an hour; 0: no limit. Loopback peers are not counted.
  double registrations_per_address_per_hour = 30;
  // The same per network (util/address_key.hpp: an IPv4 /24, an IPv6 /48), since one holder
  // of a routed /48 has 65,536 /64s; 0: no limit.
  double registrations_per_network_per_hour = 300;
  std::chrono::milliseconds auth_timeout{30000};
  std::chrono::milliseconds challenge_ttl{60000};
  std::uint32_t max_group_members = 1024;     // including the creator
  double group_rate_per_second = 20;          // GroupSends per group, all members together
  double group_rate_burst = 50;
  // Inbox rows one fan-out job writes (one commit among others' jobs): bigger chunks mean
  // fewer commits per member, and a longer wait for whatever shares the chunk's batch.
  std::uint32_t fanout_chunk = 256;
};

struct RelayContext {
  // Every job but those of a connection's own lane (Session::submit with store::Lane::Own):
  // logins, groups, prekeys, media, fan-out, maintenance, whose shared state (group holds,
  // the prekey budget) only this worker's thread touches.
  store::StoreWorker& store;
  PresenceRegistry& presence;
  Metrics& metrics;
  std::string relay_id;  // 16 bytes
  SessionLimits limits;
  groups::FanoutWorker& fanout;
  groups::GroupLimiter& group_limiter;
  groups::SenderHolds& group_holds;  // store thread only (groups/sender_holds.hpp)
  KeyedRateLimiter<store::UserId>& one_time_prekey_budget;  // by the bundle's owner
  media::MediaContext& media;
  DeliverBodies& deliver_bodies;
  // Registrations by the address they came from (null: no limit).
  AddressRateLimiter* registrations_by_address = nullptr;
  AddressRateLimiter* registrations_by_network = nullptr;
  // Gateways sharing a store reach each other's devices through it; null: a relay alone.
  routing::DeviceRouter* router = nullptr;
  // With --store-connections N > 1 (PostgreSQL): N workers, each connection's 1:1 sends,
  // inbox reads, acks and mark reads on one of them (the first is `store`). Empty: `store`.
  std::vector<store::StoreWorker*> lanes{};
};

}  // namespace parley
