// pairs: sender -> receiver pairs (both ends in this worker), `window` messages in flight
// per pair end to end (closed loop), or a fixed offered rate spread over the pairs (open
// loop, latency counted from the scheduled send time so a stalled relay cannot hide it).
// Receivers acknowledge what they get; senders take the delivery marks (which need no ack)
// and anything else delivered to them, which they acknowledge.
#include <cstring>

#include <boost/asio/steady_timer.hpp>

#include "message_id.hpp"
#include "open_loop.hpp"
#include "pairs_window.hpp"
#include "report.hpp"
#include "worker.hpp"

namespace parley::loadgen {

namespace {

struct Pair {
  std::uint32_t index = 0;
  std::string receiver;
  std::shared_ptr<Connection> tx, rx;
  std::unique_ptr<Acker> tx_acker, rx_acker;
  std::uint64_t in_flight = 0;
  std::uint64_t sent = 0;
  Clock::time_point next_due;
};

struct Run {
  Worker* w = nullptr;
  std::vector<Pair> pairs;
  std::string filler;
  bool sending = false;
  PairsWindow window;
  std::uint64_t sent_total = 0, skipped = 0;
  std::uint64_t send_acks = 0, marks = 0, errors = 0, dropped = 0;
  std::chrono::nanoseconds interval{0};  // open loop: per pair
  std::unique_ptr<net::steady_timer> timer, stop_timer;
  Clock::time_point drain_deadline;

  void finish_when_drained() {
    std::uint64_t in_flight = 0;
    for (auto& p : pairs) in_flight += p.in_flight;
    if (in_flight > 0 && Clock::now() < drain_deadline) {
      stop_timer->expires_after(std::chrono::milliseconds(20));
      stop_timer->async_wait([this](boost::system::error_code) { finish_when_drained(); });
      return;
    }
    report::count("pairs_sent", sent_total);
    report::count("pairs_delivered", window.delivered_total());
    report::count("pairs_delivered_in_window", window.delivered_in_window());
    report::count("pairs_lost_in_flight", in_flight);
    report::count("pairs_send_acks", send_acks);
    report::count("pairs_delivery_marks", marks);
    report::count("pairs_errors", errors);
    report::count("pairs_skipped", skipped);
    report::count("pairs_dropped_connections", dropped);
    report::histogram("pairs_latency", window.latency());
    for (auto& p : pairs) {
      p.tx->close();
      p.rx->close();
    }
    w->finish();
  }

  void send(Pair& p, Clock::time_point stamp) {
    wire::ClientFrame f;
    auto* s = f.mutable_send();
    const std::uint64_t seq = ++p.sent;
    s->set_client_msg_id(new_message_id());
    s->set_recipient(p.receiver);
    auto* m = s->add_messages();
    m->set_device_id(kDevice);
    std::string payload = filler;
    PairsWindow::stamp(payload, stamp);
    std::memcpy(payload.data() + 8, &p.index, sizeof p.index);
    m->set_ciphertext(std::move(payload));
    f.set_request_id(seq);
    p.tx->send(f);
    ++p.in_flight;
    ++sent_total;
  }

  void on_delivery(Pair& p, const wire::Deliver& d) {
    const auto now = Clock::now();
    p.rx_acker->delivered(d.inbox_seq());
    if (d.kind() != wire::MESSAGE || d.ciphertext().size() < 12) return;
    window.delivered(d.ciphertext().data(), now);
    if (p.in_flight) --p.in_flight;
    if (sending && interval.count() == 0) send(p, Clock::now());  // closed loop: refill
  }

  void tick() {
    send_due(
        pairs, Clock::now(), interval, [this](Pair& p, Clock::time_point due) { send(p, due); },
        skipped);
    if (!sending) return;
    timer->expires_after(std::chrono::microseconds(500));
    timer->async_wait([this](boost::system::error_code ec) {
      if (!ec && sending) tick();
    });
  }
};

}  // namespace

void run_pairs(Worker& w) {
  const auto& o = w.options();
  auto run = std::make_shared<Run>();
  w.keep(run);
  run->w = &w;
  run->filler.assign(std::max<unsigned>(o.payload_bytes, 16), 'x');
  std::vector<std::uint64_t> users;
  for (std::uint32_t i = w.index(); i < o.pairs; i += w.count()) {
    Pair p;
    p.index = i;
    p.receiver = w.identity(2 * i + 1).username();
    run->pairs.push_back(std::move(p));
    users.push_back(2 * i);
    users.push_back(2 * i + 1);
  }
  w.register_all(users, [&w, run, users] {
    w.barrier("registered", [&w, run, users] {
      w.connect_all(users, false, [&w, run](Connections conns, std::size_t failures) {
        if (failures) return w.fail("pairs: " + std::to_string(failures) + " logins failed");
        for (std::size_t i = 0; i < run->pairs.size(); ++i) {
          auto& p = run->pairs[i];
          p.tx = conns[2 * i];
          p.rx = conns[2 * i + 1];
          p.tx_acker = std::make_unique<Acker>(p.tx);
          p.rx_acker = std::make_unique<Acker>(p.rx);
          auto* r = run.get();
          p.tx->on_frame([r, &p](wire::ServerFrame& f) {
            if (f.has_send_ack()) ++r->send_acks;
            else if (f.has_delivery_marks()) {
              r->marks += static_cast<std::uint64_t>(f.delivery_marks().marks_size());
            } else if (f.has_deliver()) {
              p.tx_acker->delivered(f.deliver().inbox_seq());
            } else if (f.has_error()) {
              if (r->errors++ == 0)
                std::fprintf(stderr, "parley-loadgen: relay refused a send: %s\n",
                             f.error().reason().c_str());
            }
          });
          p.rx->on_frame([r, &p](wire::ServerFrame& f) {
            if (f.has_deliver()) r->on_delivery(p, f.deliver());
          });
          p.tx->on_closed([r](const std::string&) { ++r->dropped; });
          p.rx->on_closed([r](const std::string&) { ++r->dropped; });
        }
        w.barrier("connected", [&w, run] {
          const auto& opt = w.options();
          const auto start = Clock::now();
          run->window.open(start, opt.warmup_seconds, opt.duration_seconds);
          run->sending = true;
          if (opt.rate > 0) {
            // Every worker offers its share of the rate over its pairs.
            run->interval = per_pair_interval(opt.pairs, opt.rate);
            stagger_schedules(run->pairs, start, run->interval);
            run->timer = std::make_unique<net::steady_timer>(w.ioc());
            run->tick();
          } else {
            for (auto& p : run->pairs)
              for (unsigned k = 0; k < opt.window; ++k) run->send(p, Clock::now());
          }
          // Stop sending at the end of the window, let what is in flight arrive (bounded),
          // then report.
          run->stop_timer = std::make_unique<net::steady_timer>(w.ioc(), run->window.closes());
          run->stop_timer->async_wait([run](boost::system::error_code) {
            run->sending = false;
            run->drain_deadline = Clock::now() + std::chrono::seconds(10);
            run->finish_when_drained();
          });
        });
      });
    });
  });
}

}  // namespace parley::loadgen
