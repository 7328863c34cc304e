// replay: a sender queues K messages for a device that is offline, then the device logs in
// and the drain is timed from its Login to the K-th delivery (acknowledging as it goes).
// The parent samples the relay's RSS meanwhile. One worker: a single device drains.
#include <cstring>

#include "message_id.hpp"
#include "report.hpp"
#include "worker.hpp"

namespace parley::loadgen {

namespace {

constexpr std::uint64_t kSendWindow = 512;  // sends awaiting their SendAck

struct Replay {
  Worker* w = nullptr;
  std::shared_ptr<Connection> sender, device;
  std::unique_ptr<Acker> acker;
  std::string recipient;
  std::string payload;
  std::uint64_t total = 0, sent = 0, acked = 0, errors = 0, received = 0;
  Clock::time_point started;
  std::function<void()> filled;

  void send_more() {
    while (sent < total && sent - acked < kSendWindow) {
      wire::ClientFrame f;
      auto* s = f.mutable_send();
      const auto seq = ++sent;
      s->set_client_msg_id(new_message_id());
      s->set_recipient(recipient);
      auto* m = s->add_messages();
      m->set_device_id(kDevice);
      m->set_ciphertext(payload);
      f.set_request_id(seq);
      sender->send(f);
    }
  }
};

}  // namespace

void run_replay(Worker& w) {
  if (w.count() != 1) return w.fail("replay runs in one worker");
  // Owned by the worker; handlers hold a plain pointer (no reference cycles through them).
  auto state = std::make_shared<Replay>();
  w.keep(state);
  Replay* r = state.get();
  r->w = &w;
  r->total = w.options().messages;
  r->payload.assign(w.options().payload_bytes, 'r');
  r->recipient = w.identity(1).username();
  w.register_all({0, 1}, [&w, r] {
    w.barrier("registered", [&w, r] {
      w.connect_all({0}, false, [&w, r](Connections conns, std::size_t failures) {
        if (failures) return w.fail("replay: sender login failed");
        r->sender = conns[0];
        r->sender->on_frame([r](wire::ServerFrame& f) {
          if (f.has_send_ack()) {
            ++r->acked;
          } else if (f.has_error()) {
            if (r->errors++ == 0)
              std::fprintf(stderr, "parley-loadgen: relay refused a send: %s\n", f.error().reason().c_str());
            ++r->acked;  // counted as answered; reported as an error
          } else {
            return;
          }
          if (r->acked == r->total) return r->filled();
          r->send_more();
        });
        r->filled = [&w, r] {
          r->sender->close();
          report::count("replay_queued", r->total - r->errors);
          report::count("replay_send_errors", r->errors);
          w.barrier("filled", [&w, r] {
            r->started = Clock::now();
            w.connect_all({1}, false, [&w, r](Connections c, std::size_t f) {
              if (f) return w.fail("replay: device login failed");
              r->device = c[0];
              r->acker = std::make_unique<Acker>(r->device);
              r->device->on_frame([&w, r](wire::ServerFrame& fr) {
                if (!fr.has_deliver()) return;
                r->acker->delivered(fr.deliver().inbox_seq());
                if (fr.deliver().kind() != wire::MESSAGE) return;
                if (++r->received < r->total - r->errors) return;
                report::count("replay_drain_us", micros_since(r->started));
                report::count("replay_received", r->received);
                r->device->close();
                w.finish();
              });
              r->device->on_closed([&w](const std::string& why) {
                w.fail("replay: device connection closed during the drain: " + why);
              });
            });
          });
        };
        r->send_more();
      });
    });
  });
}

}  // namespace parley::loadgen
