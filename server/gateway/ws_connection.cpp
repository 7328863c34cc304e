// The socket side of one client connection: a Beast WebSocket stream on its own strand, one
// read (or a parked wait) and at most one write outstanding, and a bounded queue of shared
// immutable frames. Queued frames leave in one socket write, up to kMaxGather at a time,
// framed by the connection itself (frame_header.hpp) under the stream's write lock
// (beast_internals.hpp): a frame per write would be a sendmsg per frame, and a replay page or
// a fan-out burst queues many. On a plain socket the write is made there and then, and only
// what the kernel does not take waits for it asynchronously (do_write).
//
// Idle memory: a plain ws:// connection with nothing to read is *parked*: it waits for its
// socket to become readable, holding no read buffer and no pending Beast read, and starts a
// read only then. It parks only when Beast's own read buffer holds no unparsed bytes (a
// pipelined next frame would otherwise wait for bytes that never come); until then it keeps
// reading. A parked connection with nothing to write also *rests*: it drops its Beast stream
// (~2.5 KB, most of it Beast's read buffer) and keeps only the socket, making a new stream
// when it has something to read or write (beast_internals.hpp says why that is sound).
// TLS connections keep a read outstanding and their stream: OpenSSL may hold decrypted bytes
// the socket will not signal again. Liveness (pings, the idle timeout) is the gateway's sweep
// (liveness.hpp), not a timer per connection.
#include <algorithm>
#include <array>
#include <cassert>
#include <cstddef>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>

#include <boost/asio/bind_allocator.hpp>
#include <boost/container/devector.hpp>
#include <boost/container/static_vector.hpp>

#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <spdlog/spdlog.h>

#include "gateway/beast_internals.hpp"
#include "gateway/connection_set.hpp"
#include "gateway/connections_by_address.hpp"
#include "gateway/frame_header.hpp"
#include "gateway/gateway.hpp"
#include "gateway/pong_frames.hpp"
#include "gateway/streams.hpp"
#include "net/deferred_writes.hpp"
#include "net/handler_memory.hpp"
#include "net/linger.hpp"
#include "net/post_task.hpp"
#include "observability/metrics.hpp"
#include "util/clock.hpp"

namespace websocket = boost::beast::websocket;

namespace parley {
namespace {

constexpr std::string_view kSubprotocol = "parley.v1";
constexpr std::size_t kKeptQueueCapacity = 16;  // frames' worth of queue kept when drained
// The parked wait's operation, built in memory the connection keeps: 104 bytes is its size
// with this handler in Boost 1.81, with no room to spare (a larger one goes to the heap and
// is counted, parley_handler_memory_fallbacks_total).
using ParkMemory = net_alloc::HandlerMemory<104>;
// Frames per socket write: a header and a payload buffer each (empty for a small frame,
// which is all header: session/frame.hpp), and Asio hands at most 64 buffers to one sendmsg.
constexpr std::size_t kMaxGather = 32;
// Socket writes made at once, one after another, before the rest of a long queue goes out
// asynchronously: a connection with thousands of frames queued yields the thread. (A send
// queue drained below its low-water mark may refill at once from the replay pages already
// read, at most two, and write them in the same handler.)
constexpr std::size_t kMaxWritesNow = 8;

// What one socket write sends of the front frames of a send queue: a header and a payload
// buffer each. Fixed capacity, filled only as far as the write goes: most writes carry one
// frame, and arrays of kMaxGather were zeroed on every write (~2 KB, 1.4 % of the relay's
// time in pairs W=1). Never reallocated, so the buffers may point into the headers. The
// empty constructor is what keeps make_unique from zeroing the whole object first
// (value-initialisation of a class without one).
struct FrameBuffers {
  FrameBuffers() {}  // not `= default`, which value-initialisation would zero first
  boost::container::static_vector<FrameHeader, kMaxGather> headers;
  boost::container::static_vector<net::const_buffer, 2 * kMaxGather> buffers;

  // Adds the first `n` of `frames`, which must outlive the buffers; returns their bytes.
  template <class Frames>
  std::size_t add(const Frames& frames, std::size_t n) {
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < n; ++i) {
      auto& header = headers.emplace_back();
      write_frame_head(frames[i], header);
      const auto payload = frames[i].bytes();
      buffers.push_back(net::buffer(header.bytes.data(), header.size));
      buffers.push_back(net::buffer(payload));
      bytes += header.size + payload.size();
    }
    return bytes;
  }
};

// An asynchronous socket write of queued frames. It owns them, so an abort that clears the
// queue cannot free a buffer the socket is still sending from.
struct GatheredWrite {
  GatheredWrite() {}  // as FrameBuffers
  boost::container::static_vector<Frame, kMaxGather> frames;
  FrameBuffers out;
};

// Stream: the WebSocket's next layer, Socket (ws://) or TlsStream (wss://). No
// permessage-deflate (the payloads are ciphertext), so the stream carries no deflate state.
template <class Stream>
class WsConnection final : public GatewayConnection,
                           public DeferredWrites::Writer,
                           public Linger::Waiter {
  static constexpr bool kParks = std::is_same_v<Stream, Socket>;
  // A plain connection owns its socket and lends it to a stream that exists only while the
  // connection is awake; a TLS stream owns its layers for the connection's whole life.
  using Ws = websocket::stream<std::conditional_t<kParks, Socket&, Stream>, false>;
  struct NoSocket {};
  struct NoParkMemory {};
  static decltype(auto) own_socket(Stream& stream) {
    if constexpr (kParks) {
      return std::move(stream);
    } else {
      return NoSocket{};
    }
  }

 public:
  WsConnection(GatewayContext& gw, Stream&& stream, ClientOrigin origin)
      : GatewayConnection(gw.relay), gw_(gw), socket_(own_socket(stream)),
        counted_(origin.counted) {
    if (origin.key) set_client_address(*origin.key);
    if constexpr (kParks) {
      // Writes are made at once (do_write). A socket that refuses is closed, so the
      // handshake fails, rather than a write blocking the thread.
      beast::error_code ec;
      socket_.non_blocking(true, ec);
      if (ec) {
        spdlog::warn("event=socket_setup_failed op=non_blocking error=\"{}\"", ec.message());
        socket_.close(ec);
      }
      ws_.emplace(socket_);
    } else {
      ws_.emplace(std::move(stream));
    }
  }

  ~WsConnection() override {
    if (resting()) gw_.relay.metrics.resting.fetch_sub(1, std::memory_order_relaxed);
    if (counted_) gw_.connections_by_address->release(*client_address());
    gw_.connections.remove(this);
  }

  void start(UpgradeRequest req) {
    gw_.connections.add(self());
    // Beast's handshake timer takes over from the HTTP stream's; after the handshake the
    // liveness sweep watches the connection (no idle timer wait pending per connection).
    if constexpr (!kParks) beast::get_lowest_layer(*ws_).expires_never();
    configure(*ws_);
    ws_->set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
      res.set(http::field::server, "parley-relay");
      res.set(http::field::sec_websocket_protocol, kSubprotocol);
    }));
    ws_->async_accept(req, [self = self()](beast::error_code ec) { self->on_accept(ec); });
  }

 private:
  std::shared_ptr<WsConnection> self() {
    return std::static_pointer_cast<WsConnection>(shared_from_this());
  }

  // What every stream of this connection is set to, the first and the remade ones.
  void configure(Ws& ws) {
    websocket::stream_base::timeout t{};
    t.handshake_timeout = std::chrono::seconds(30);
    t.idle_timeout = websocket::stream_base::none();
    t.keep_alive_pings = false;
    ws.set_option(t);
    // Pongs (and pings) read inside a Beast read count as traffic. Runs within a read, which
    // holds a reference to the connection.
    ws.control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind != websocket::frame_type::close) on_traffic();
    });
    ws.read_message_max(gw_.options.max_frame_bytes);
    ws.binary(true);
  }

  // The stream, made again first if the connection rested.
  Ws& ws() {
    if constexpr (kParks) {
      if (!ws_) {
        gw_.relay.metrics.resting.fetch_sub(1, std::memory_order_relaxed);
        ws_.emplace(socket_);
        websocket_open_accepted(*ws_);
        configure(*ws_);
        // A gathered write is going out on the socket: Beast must wait for it to write.
        if (gathering_) websocket_lock_write(*ws_);
      }
    }
    return *ws_;
  }

  // Drops the stream of a parked connection that has nothing to write or close: no Beast
  // operation is pending then, and Beast's read buffer is empty (it parked).
  void rest() {
    if constexpr (kParks) {
      if (ws_ && parked_ && accepted_ && !writing_ && !pinging_ && !closing_ && !close_code_ &&
          queue_.empty()) {
        ws_.reset();
        gw_.relay.metrics.resting.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }

  bool resting() const { return !ws_.has_value(); }

  IoExecutor executor() { return socket().get_executor(); }

  void on_accept(beast::error_code ec) {
    if (ec) return fail(ec, "accept");
    accepted_ = true;
    // A close requested during the handshake (relay shutdown) waited for it to finish:
    // Beast allows no close while the accept is still writing its response.
    if (close_code_) return do_close();
    if (gw_.draining.load()) return close(1001, "relay is restarting; reconnect");
    if (!queue_.empty() && !writing_) start_write();
    if (closing_) return;  // the write failed, or found a close to send
    auth_timer_ =
        std::make_unique<net::steady_timer>(executor(), gw_.relay.limits.auth_timeout);
    // A weak reference: the timer must not keep a closed connection alive.
    auth_timer_->async_wait([weak = std::weak_ptr<WsConnection>(self())](beast::error_code e) {
      auto s = weak.lock();
      if (!e && s && !s->authenticated()) s->close(kCloseAuthTimeout, "log in sooner");
    });
    do_read();
  }

  // Starts the next read, or parks when nothing is buffered above the socket.
  void do_read() {
    if (reading_ || closing_) return;
    reading_ = true;
    if constexpr (kParks) {
      if (!ws_ || websocket_unparsed_bytes(*ws_) == 0) return park();
    }
    read_message();
  }

  void read_message() {
    ws().async_read(buffer_, [self = self()](beast::error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }

  void park() {
    assert(!parked_);  // one wait at a time: reading_ holds do_read off while it is pending
    // What the last message grew goes back: a parked connection holds no read buffer.
    buffer_.clear();
    buffer_.shrink_to_fit();
    // Built in the connection's own memory: Asio's recycling cache would hand this small wait
    // a block left by a WebSocket write, two to five times its size, for as long as it waits,
    // and a block of its own would be an allocation per park, i.e. per frame read.
    parked_ = true;
    socket().async_wait(Socket::wait_read,
                        net::bind_allocator(park_memory_.allocator(),
                                            [self = self()](beast::error_code ec) {
                                              self->on_readable(ec);
                                            }));
    rest();
  }

  void on_readable(beast::error_code ec) {
    parked_ = false;
    if (ec) {
      reading_ = false;
      return fail(ec, "wait");
    }
    if (closing_) {  // the close handshake reads the peer's close frame itself
      reading_ = false;
      return;
    }
    // Only an answer to our ping can be a pong; looking costs two system calls (how much
    // is waiting, and a peek at it), which a busy connection would pay on every message.
    const bool pong_expected = ping_sent_;
    on_traffic();
    if (pong_expected && consume_pongs()) {
      reading_ = false;
      return do_read();  // parks again
    }
    read_message();
  }

  // Answers to the sweep's pings are all an idle client sends. Read through Beast, each would
  // leave a read (and its buffer) pending until the client's next message, so pongs are taken
  // straight off the socket when the kernel holds nothing else. Sound only while parked:
  // Beast's buffer is empty and it is between messages, so it misses no state. (A pong that
  // comes after other traffic went through Beast like a message; that costs the read buffer
  // until the next message, nothing else.)
  bool consume_pongs() {
    if constexpr (kParks) {
      auto& sock = socket();
      beast::error_code ec;
      const auto available = sock.available(ec);
      if (ec || available == 0 || available > kMaxPongRun) return false;
      std::array<unsigned char, kMaxPongRun> bytes;
      const auto n = sock.receive(net::buffer(bytes.data(), available),
                                    Socket::message_peek, ec);
      if (ec || n != available || !only_complete_pongs(std::span(bytes.data(), n))) return false;
      const auto taken = sock.receive(net::buffer(bytes.data(), n), 0, ec);
      return !ec && taken == n;
    } else {
      return false;
    }
  }

  void on_read(beast::error_code ec) {
    reading_ = false;
    if (ec) return fail(ec, "read");
    on_traffic();
    if (!ws().got_binary()) {
      buffer_.consume(buffer_.size());
      return close(static_cast<std::uint16_t>(websocket::close_code::unknown_data),
                   "parley.v1 frames are binary");
    }
    const auto data = buffer_.cdata();
    {
      DeferredWrites::Scope scope;  // a reply leaves when the frame is handled
      on_frame(std::string_view(static_cast<const char*>(data.data()), data.size()));
    }
    buffer_.consume(buffer_.size());
    if (reading_allowed()) do_read();
  }

  void resume_reading() override { do_read(); }

  void on_traffic() {
    note_received();
    ping_sent_ = false;
  }

  void liveness_due() override {
    net::post(executor(), [self = self()] { self->check_liveness(); });
  }

  // On the strand: silent for at least half the idle timeout when the sweep looked.
  void check_liveness() {
    if (closing_ || !accepted_) return;
    const auto silent = std::chrono::milliseconds(steady_now_ms() - last_received_ms());
    // No close frame: a peer that answers nothing would not read one either.
    if (silent >= gw_.options.idle_timeout) return abort_connection();
    // pinging_: traffic cleared ping_sent_ while an earlier ping still waits to be written;
    // a second one would be dropped when the first one's completion rests the stream.
    if (ping_sent_ || pinging_ || silent < gw_.options.idle_timeout / 2) return;
    ping_sent_ = true;
    pinging_ = true;
    ws().async_ping({}, [self = self()](beast::error_code) {
      self->pinging_ = false;
      self->rest();
    });
  }

  // The low-water mark for delivery: a quarter of the bound, at most 1 MiB. The rest of the
  // bound is headroom for one more entry (<= 200 KiB) plus replies and pushes.
  bool send_queue_has_room() const override {
    const auto& limits = gw_.relay.limits;
    return queued_bytes_ < std::min<std::size_t>(limits.send_queue_bytes / 4, 1u << 20) &&
           queue_.size() < limits.send_queue_frames / 4;
  }

  void send_bytes(Frame frame) override {
    if (closing_) return;
    // Logged in: the auth deadline's pending wait would otherwise stay allocated for the rest
    // of auth_timeout on every connection. Login is always followed by frames (SyncComplete
    // at least), so the first of them cancels it.
    if (auth_timer_ && authenticated()) auth_timer_.reset();  // its wait ends: aborted
    const auto& limits = gw_.relay.limits;
    // Delivery stops at the low-water mark, so only a reader that does not read while
    // replies and pushes keep coming reaches the bound.
    if (queue_.size() >= limits.send_queue_frames ||
        queued_bytes_ + frame.size() > limits.send_queue_bytes)
      return drop_slow_consumer("send queue full");
    queued_bytes_ += frame.size();
    queue_.push_back(std::move(frame));
    if (!send_queue_has_room() && !stall_armed_) {
      // Delivery has paused for this connection; if the queue does not drain in time, the
      // reader is too slow and is cut off (its inbox keeps every entry). The generation
      // tells a stale expiry (already queued when it was cancelled) from the current one.
      stall_armed_ = true;
      const auto generation = ++stall_generation_;
      if (!stall_timer_) stall_timer_ = std::make_unique<net::steady_timer>(executor());
      stall_timer_->expires_after(limits.write_stall);
      stall_timer_->async_wait(
          [weak = std::weak_ptr<WsConnection>(self()), generation](beast::error_code e) {
            auto s = weak.lock();
            if (!e && s && s->stall_armed_ && s->stall_generation_ == generation)
              s->drop_slow_consumer("send queue stalled");
          });
    }
    write_soon();
  }

  // Starts a write when the handler running ends, unless one is already coming, so that what
  // else that handler queues for this client joins it (net/deferred_writes.hpp). Every
  // handler that queues frames opens a scope; posting is the fallback for one that would not.
  void write_soon() {
    if (writing_ || !accepted_ || closing_) return;
    const bool deferred = DeferredWrites::defer(self());
    assert(!deferred || executor().running_in_this_thread());
    if (!deferred) {
      gw_.relay.metrics.writes_posted.fetch_add(1, std::memory_order_relaxed);
      net::post(executor(), [self = self()] { self->start_write(); });
    }
    writing_ = true;  // once the write is sure to start
  }

  // Each call is a wait of its own: the marks held now came after the last write, which took
  // those an earlier wait was for, so they get their whole delay rather than what is left
  // of that wait's.
  void write_within(std::chrono::milliseconds delay) override {
    if (delay.count() == 0) return write_for_marks();
    Linger::of(executor().context()).add(self(), delay, ++linger_token_);
  }

  void linger_over(std::uint32_t token) noexcept override {
    // An earlier wait's, or the marks left with a write meanwhile: nothing is due.
    if (token != linger_token_ || !marks_held()) return;
    try {
      write_for_marks();  // deferred: Linger::expire's scope is open
    } catch (const std::exception& e) {
      write_failed(e);
    }
  }

  // A write that takes the held marks: the next one to start (do_write), or, when a write is
  // already coming or in flight, the queue now, which wrote() writes after it.
  void write_for_marks() {
    if (writing_) return before_write();
    write_soon();
  }

  void start_write() noexcept override {
    try {
      do_write();
    } catch (const std::exception& e) {
      write_failed(e);
    }
  }

  // Out of memory, in a write that could not start (which gave back what it took: the flags,
  // Beast's write lock) or in what a completed one ran (on_writable): this client is cut off,
  // not left waiting for a write that never starts. A write still in flight ends with an
  // error and cleans up after itself.
  void write_failed(const std::exception& e) noexcept {
    spdlog::error("event=write_failed error=\"{}\"", e.what());
    abort_connection();
  }

  void drop_slow_consumer(const char* why) {
    gw_.relay.metrics.slow_consumers_dropped.fetch_add(1, std::memory_order_relaxed);
    spdlog::info("event=slow_consumer reason=\"{}\" queued_frames={} queued_bytes={}", why,
                 queue_.size(), queued_bytes_);
    abort_connection();
  }

  void do_write() {
    for (std::size_t round = 0;; ++round) {
      writing_ = true;
      if (!closing_) before_write();  // held delivery marks join this write
      // Deferred or posted by send_bytes: an abort may have emptied the queue (or a failure
      // ended the connection) since.
      if (closing_ || queue_.empty()) {
        writing_ = false;
        return;
      }
      // A resting connection has no stream, so nothing of Beast's can be writing. Otherwise
      // Beast may be (a pong or a close frame it answers from inside a read, a ping): then the
      // front frame goes through Beast, which waits its turn.
      if (ws_ && !websocket_try_lock_write(*ws_)) return beast_write();
      gathering_ = true;  // from here write_later releases the lock if its write cannot start
      const auto n = std::min(queue_.size(), kMaxGather);
      // A plain socket is written at once, from the queue; only what the kernel does not take
      // then (the client's socket is full) waits for it, in an asynchronous write that owns
      // its frames. Asynchronous, even a write the kernel takes whole completes through the
      // thread's queue, and until then this connection's next frames (a SendAck behind the
      // delivery marks, say) wait behind every handler queued before that completion.
      if constexpr (kParks) {
        if (round < kMaxWritesNow) {
          beast::error_code ec;
          std::size_t bytes;
          const auto written = write_now(n, bytes, ec);
          if (ec == net::error::would_block || (!ec && written < bytes)) {
            gw_.relay.metrics.writes_waited.fetch_add(1, std::memory_order_relaxed);
            return write_later(n, ec ? 0 : written);
          }
          writing_ = false;
          gathering_ = false;
          if (ws_) websocket_unlock_write(*ws_);
          if (ec) return fail(ec, "write");
          gw_.relay.metrics.writes_whole.fetch_add(1, std::memory_order_relaxed);
          if (!wrote(n) || writing_) return;  // on_writable() may have started the next write
          continue;
        }
      }
      return write_later(n, 0);
    }
  }

  // The queue's first `frames` (`bytes` in all) in one sendmsg, straight from the queue:
  // returns what the kernel took; would_block when it took nothing.
  std::size_t write_now(std::size_t frames, std::size_t& bytes, beast::error_code& ec) {
    FrameBuffers out;
    bytes = out.add(queue_, frames);
    return socket_.write_some(std::span<const net::const_buffer>(out.buffers.data(), out.buffers.size()), ec);
  }

  // The queue's first `frames`, less the `skip` bytes already written, as an asynchronous
  // write that owns them.
  void write_later(std::size_t frames, std::size_t skip) {
    try {
      auto write = std::make_unique<GatheredWrite>();
      write->frames.assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(frames));
      write->out.add(write->frames, frames);
      auto& buffers = write->out.buffers;
      auto first = buffers.begin();
      for (; skip > 0 && skip >= first->size(); ++first) skip -= first->size();
      if (skip > 0) *first += skip;
      const std::span<const net::const_buffer> rest(first, buffers.end());
      net::async_write(next_layer(), rest,
                       [self = self(), write = std::move(write)](beast::error_code ec, std::size_t) {
                         self->on_write(ec, write->frames.size());
                       });
    } catch (...) {
      // Not started: the lock goes back, so Beast's own writes are not left waiting for it.
      writing_ = false;
      gathering_ = false;
      if (ws_) websocket_unlock_write(*ws_);
      throw;
    }
  }

  void beast_write() {
    // Beast frames the payload itself: envelope and shared bytes. It owns them meanwhile, as
    // the gathered write does.
    struct Payload {
      Frame frame;
      std::array<unsigned char, Frame::kMaxEnvelope> envelope;
      std::array<net::const_buffer, 2> buffers;
    };
    try {
      auto p = std::make_unique<Payload>();
      p->frame = queue_.front();
      const auto envelope_size = p->frame.write_envelope(p->envelope);
      p->buffers = {net::buffer(p->envelope.data(), envelope_size), net::buffer(p->frame.bytes())};
      const auto buffers = p->buffers;
      ws().async_write(buffers, [self = self(), p = std::move(p)](beast::error_code ec, std::size_t) {
        self->on_write(ec, 1);
      });
    } catch (...) {
      writing_ = false;  // not started
      throw;
    }
  }

  void on_write(beast::error_code ec, std::size_t frames) {
    writing_ = false;
    if (gathering_) {
      gathering_ = false;
      if (ws_) websocket_unlock_write(*ws_);
    }
    if (ec) return fail(ec, "write");
    try {
      if (wrote(frames) && !writing_) start_write();
    } catch (const std::exception& e) {
      write_failed(e);
    }
  }

  // After the queue's first `frames` were written, with no write in flight: true when more
  // is queued to write now.
  bool wrote(std::size_t frames) {
    if (queue_.empty()) return false;  // aborted while the write was in flight
    gw_.relay.metrics.frames_out.fetch_add(frames, std::memory_order_relaxed);
    for (std::size_t i = 0; i < frames; ++i) {
      queued_bytes_ -= queue_.front().size();
      queue_.pop_front();
    }
    // Give back what a burst grew, so an idle connection holds no queue storage.
    if (queue_.empty() && queue_.capacity() > kKeptQueueCapacity) queue_.shrink_to_fit();
    if (stall_armed_ && send_queue_has_room()) {
      stall_armed_ = false;
      stall_timer_->cancel();
      DeferredWrites::Scope scope;  // what it queues leaves now, not behind the thread's queue
      on_writable();  // may queue more entries
    }
    if (closing_) return false;  // cut off meanwhile (a write that could not start)
    if (!queue_.empty()) return true;
    if (close_code_) {
      do_close();
      return false;
    }
    rest();
    return false;
  }

  // Flushes what is queued, then sends a close frame.
  void close(std::uint16_t code, std::string_view reason) override {
    if (closing_ || close_code_) return;
    close_code_ = code;
    close_reason_ = std::string(reason.substr(0, 120));
    on_closed();
    if (!writing_ && accepted_) do_close();
  }

  void do_close() {
    closing_ = true;
    cancel_timers();
    websocket::close_reason why(static_cast<websocket::close_code>(*close_code_), close_reason_);
    ws().async_close(why, [self = self()](beast::error_code) {
      // The pending read completes with `closed` and releases the last reference.
    });
  }

  // No goodbye: the peer is not reading, so nothing more can be written to it.
  void abort_connection() {
    closing_ = true;
    cancel_timers();
    queue_.clear();
    queued_bytes_ = 0;
    on_closed();
    beast::error_code ignored;
    socket().close(ignored);
  }

  Socket& socket() {
    if constexpr (kParks) {
      return socket_;
    } else {
      return beast::get_lowest_layer(*ws_).socket();
    }
  }

  // Where a gathered write goes: under the WebSocket, the socket or the TLS stream.
  auto& next_layer() {
    if constexpr (kParks) {
      return socket_;
    } else {
      return ws_->next_layer();
    }
  }

  // The task may run, and release the last reference to this connection, as soon as it is
  // queued: nothing here touches `this` after net::post.
  void post_task(std::unique_ptr<StrandTask> task) override {
    parley::post_task(executor(), std::move(task));
  }

  void fail(beast::error_code ec, const char* what) {
    const bool quiet = ec == net::error::operation_aborted || ec == websocket::error::closed ||
                       ec == net::error::eof || ec == net::error::connection_reset ||
                       ec == beast::error::timeout || ec == net::error::bad_descriptor ||
                       ec == net::error::not_connected;
    if (ec == websocket::error::message_too_big) {
      spdlog::info("event=frame_too_big limit={}", gw_.options.max_frame_bytes);
    } else if (!quiet) {
      spdlog::debug("event=connection_error op={} error=\"{}\"", what, ec.message());
    }
    closing_ = true;
    cancel_timers();
    on_closed();
  }

  void cancel_timers() {
    auth_timer_.reset();
    if (stall_timer_) stall_timer_->cancel();
    stall_armed_ = false;
  }

  GatewayContext& gw_;
  // Declared before ws_, which borrows it (plain connections).
  [[no_unique_address]] std::conditional_t<kParks, Socket, NoSocket> socket_;
  std::optional<Ws> ws_;  // empty while a plain connection rests
  beast::flat_buffer buffer_;
  // On the heap and only while needed: a timer object is 120 bytes even with no wait
  // pending. The auth deadline goes at login; the stall timer is made by the first stall.
  std::unique_ptr<net::steady_timer> auth_timer_;
  std::unique_ptr<net::steady_timer> stall_timer_;
  bool stall_armed_ = false;
  bool counted_ = false;  // holds one of its address's connections (connections_by_address)
  std::uint32_t stall_generation_ = 0;
  bool accepted_ = false;
  bool ping_sent_ = false;  // since the last traffic
  // A devector, not a std::deque: libstdc++'s deque allocates ~600 bytes even when empty,
  // and most connections are idle with nothing queued.
  boost::container::devector<Frame> queue_;
  std::size_t queued_bytes_ = 0;
  bool reading_ = false;
  bool parked_ = false;    // a readability wait is pending instead of a read
  bool pinging_ = false;   // a ping is being written
  bool writing_ = false;
  bool gathering_ = false;  // the write in flight is a gathered one, holding the write lock
  std::uint32_t linger_token_ = 0;  // of the last wait asked for (write_within)
  bool closing_ = false;
  std::optional<std::uint16_t> close_code_;
  std::string close_reason_;
  // What an idle connection held from the heap before. TLS connections do not park. Keep it
  // after the flags and the queue: placed between buffer_ and them, pairs ran 1-6 % slower
  // in six alternating rounds (relay CPU ~4 % higher), and here no slower
  // (docs/performance-log.md).
  [[no_unique_address]] std::conditional_t<kParks, ParkMemory, NoParkMemory> park_memory_;
};

}  // namespace

template <class Stream>
void start_websocket(GatewayContext& ctx, Stream&& stream, UpgradeRequest req, ClientOrigin origin) {
  if constexpr (std::is_same_v<Stream, PlainStream>) {
    // The HTTP stream's timer served the request; the WebSocket needs only the socket.
    std::make_shared<WsConnection<Socket>>(ctx, stream.release_socket(), origin)
        ->start(std::move(req));
  } else {
    std::make_shared<WsConnection<Stream>>(ctx, std::move(stream), origin)->start(std::move(req));
  }
}

template void start_websocket<PlainStream>(GatewayContext&, PlainStream&&, UpgradeRequest,
                                           ClientOrigin);
template void start_websocket<TlsStream>(GatewayContext&, TlsStream&&, UpgradeRequest,
                                         ClientOrigin);

}  // namespace parley
