#include "stamped_socket.hpp"

#include <sys/socket.h>
#include <time.h>

#include <cerrno>
#include <cstring>

namespace parley::loadgen {

void StampedSocket::stamp_arrivals(boost::system::error_code& ec) {
  const int on = 1;
  if (::setsockopt(native_handle(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0) {
    ec.assign(errno, boost::system::system_category());
    return;
  }
  ec.clear();
  stamping_ = true;
}

bool StampedSocket::receive(iovec* iov, std::size_t count, std::size_t& n,
                            boost::system::error_code& ec) {
  n = 0;
  ec.clear();
  last_stamped_ = false;
  last_drained_ = false;
  if (count == 0) return true;
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(timespec))> control{};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = count;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  ssize_t r;
  do {
    r = ::recvmsg(native_handle(), &msg, MSG_DONTWAIT);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
    ec.assign(errno, boost::system::system_category());
    return true;
  }
  if (r == 0) {
    ec = boost::asio::error::eof;
    return true;
  }
  n = static_cast<std::size_t>(r);
  std::size_t room = 0;
  for (std::size_t i = 0; i < count; ++i) room += iov[i].iov_len;
  last_drained_ = n < room;
  // The stamp is on the real-time clock, which NTP may slew: it becomes a steady time by the
  // two clocks read together now, a moment after it. Real time first: a pause between the two
  // reads makes the age short and the arrival late, never early.
  timespec real_now{};
  ::clock_gettime(CLOCK_REALTIME, &real_now);
  const auto steady_now = Clock::now();
  last_arrival_ = steady_now;  // no stamp: now, which is no earlier than the arrival
  for (auto* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
    timespec stamp{};
    std::memcpy(&stamp, CMSG_DATA(c), sizeof stamp);
    const auto age = std::chrono::seconds(real_now.tv_sec - stamp.tv_sec) +
                     std::chrono::nanoseconds(real_now.tv_nsec - stamp.tv_nsec);
    // A stamp from the future (the real-time clock stepped back) is no stamp.
    if (age.count() < 0) continue;
    last_arrival_ = steady_now - std::chrono::duration_cast<Clock::duration>(age);
    last_stamped_ = true;
  }
  return true;
}

void teardown(boost::beast::role_type role, StampedSocket& socket, boost::system::error_code& ec) {
  boost::beast::websocket::teardown(role, static_cast<Socket&>(socket), ec);
}

}  // namespace parley::loadgen
