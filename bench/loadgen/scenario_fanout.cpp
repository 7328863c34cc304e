// fanout: one sender to a group of M members (all online, one device each). The sender
// keeps a few GroupSends in flight (closed loop) or sends them at a fixed rate (--rate: open
// loop, each stamped with the time it was due, as pairs does) and records each one's ack
// latency; members count and acknowledge the deliveries; the rate is member deliveries from
// the first send to the last delivery. The open loop compares group sizes at the same
// request rate: closed, a sender to 100 members sends ~6x as many GroupSends as one to 1,000
// and the whole machine is saturated either way, so its ack latency mixes the group's size
// with the load. One worker (a group lives in one process here), but the sender has a thread
// and an io_context of its own, as a real sender has its own device: on the members' thread
// its acks waited behind the reads of up to ~500,000 deliveries/s, which made its ack
// latency the loadgen's, not the relay's.
//
// Each ack's latency is taken twice: when the sender's thread handles it, as a client sees it,
// and when its bytes reached the machine (the kernel's receive stamp, stamped_socket.hpp).
// The stamp does not move when the sender's thread waits for a core behind the members'
// thousands of deliveries, but delivery marks arriving meanwhile lend it theirs: it is exact
// only for an ack that ended a read which left nothing queued, and those are also kept apart.
//
// Threads: the members' state is the worker's thread's; the sender's (sent, acked, send
// times, the latency histogram) is the sender thread's. They meet only through posts.
#include <cmath>
#include <cstring>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "message_id.hpp"
#include "open_loop.hpp"
#include "parley/group_change.hpp"
#include "report.hpp"
#include "worker.hpp"

namespace parley::loadgen {

namespace {

struct Fanout {
  Worker* w = nullptr;
  std::uint64_t total = 0;
  std::uint64_t window = 0;
  double rate = 0;  // GroupSends/s offered; 0: closed loop with `window` in flight
  std::size_t payload_bytes = 0;

  // The worker's thread.
  Connections members;  // users 1 .. M-1
  std::vector<std::unique_ptr<Acker>> ackers;
  std::uint64_t members_ready = 0, delivered = 0, expected = 0;
  bool group_known = false, measuring = false, finished = false;
  // done(): the time from the first send to the last delivery, and the deliveries by then.
  std::uint64_t elapsed_us = 0, delivered_at_end = 0;
  // The sender's figures, taken on its thread and handed to the worker's.
  struct Figures {
    std::uint64_t errors, marks, skipped;
    Histogram latency, arrival, arrival_exact;
    std::uint64_t unplaced, stamped;
  };
  Clock::time_point started;
  std::unique_ptr<net::steady_timer> deadline;

  // The sender's thread. Declared before what lives on its io_context, so destroyed after.
  net::io_context sender_ioc;
  net::executor_work_guard<net::io_context::executor_type> sender_guard{sender_ioc.get_executor()};
  std::shared_ptr<Connection> sender;
  std::unique_ptr<Acker> sender_acker;
  std::string group_id;
  std::uint64_t sent = 0, acked = 0, errors = 0, marks = 0, skipped = 0;
  std::vector<Clock::time_point> send_time;
  Histogram ack_latency;
  Histogram ack_arrival;  // the same acks, to the kernel's receive stamp (at the latest)
  Histogram ack_arrival_exact;  // those whose stamp is their own (Connection::arrival_exact)
  std::uint64_t arrivals_unplaced = 0;   // dated before their send: not recorded
  std::uint64_t arrivals_stamped = 0;    // acks whose read carried the kernel's stamp
  std::unique_ptr<net::steady_timer> tick;  // open loop
  Clock::time_point next_due;
  bool stopped = false;  // done(): a tick already queued when it was cancelled sends nothing
  std::thread sender_thread;

  ~Fanout() {
    sender_ioc.stop();
    if (sender_thread.joinable()) sender_thread.join();
  }

  // Sender thread.
  void send_one(Clock::time_point stamp) {
    wire::ClientFrame f;
    auto* g = f.mutable_group_send();
    const auto seq = ++sent;
    g->set_group_id(group_id);
    g->set_client_msg_id(new_message_id());
    g->set_ciphertext(std::string(payload_bytes, 'g'));
    f.set_request_id(seq);
    send_time[seq] = stamp;
    sender->send(f);
  }
  void send_more() {
    if (rate > 0) return;  // the schedule sends, not the acks
    while (sent < total && sent - acked < window) send_one(Clock::now());
  }
  // Open loop: whatever came due. A send skipped (kOpenLoopCap in flight: the relay is
  // overloaded) is one message fewer for the members to wait for.
  void send_due() {
    if (stopped) return;
    const auto interval = per_pair_interval(1, rate);
    const auto now = Clock::now();
    std::uint64_t newly_skipped = 0;
    while (sent + skipped < total && next_due <= now) {
      if (sent - acked < kOpenLoopCap) send_one(next_due);
      else ++skipped, ++newly_skipped;
      next_due += interval;
    }
    if (newly_skipped > 0)
      net::post(w->ioc(), [this, newly_skipped] {
        expected -= newly_skipped * members.size();
        if (delivered == expected) done();
      });
    if (sent + skipped == total) return;
    tick->expires_at(next_due);
    tick->async_wait([this](boost::system::error_code ec) {
      if (!ec) send_due();
    });
  }

  // Worker thread. Ready once the creator has its GroupCreated and every member its CREATED
  // event; the two race (members may see the fan-out before the creator sees the reply).
  void maybe_ready() {
    if (!group_known || members_ready != members.size()) return;
    w->barrier("ready", [this] {
      started = Clock::now();
      measuring = true;
      net::post(sender_ioc, [this] {
        if (rate > 0) {
          tick = std::make_unique<net::steady_timer>(sender_ioc);
          next_due = Clock::now();
          send_due();
        } else {
          send_more();
        }
      });
    });
  }

  // Worker thread: the sender's figures are taken on its thread, then reported here.
  void done() {
    if (finished) return;
    finished = true;
    elapsed_us = micros_since(started);
    delivered_at_end = delivered;  // any that come during the barrier are not in the time
    net::post(sender_ioc, [this] {
      auto figures = std::make_shared<Figures>(Figures{errors, marks, skipped, ack_latency, ack_arrival,
                                                       ack_arrival_exact, arrivals_unplaced,
                                                       arrivals_stamped});
      stopped = true;
      if (tick) tick->cancel();
      sender->close();
      // The coordinator reads the processes' CPU at this barrier, the fan-out's end, before
      // the members' teardown adds to it.
      net::post(w->ioc(), [this, figures] {
        w->barrier("fanned", [this, figures] { report_and_close(*figures); });
      });
    });
  }

  // Worker thread.
  void report_and_close(const Figures& figures) {
    report::count("fanout_deliveries", delivered_at_end);
    report::count("fanout_expected", expected);
    report::count("fanout_elapsed_us", elapsed_us);
    report::count("fanout_send_errors", figures.errors);
    report::count("fanout_delivery_marks", figures.marks);
    report::count("fanout_skipped", figures.skipped);
    report::histogram("fanout_ack_latency", figures.latency);
    report::histogram("fanout_ack_arrival", figures.arrival);
    report::histogram("fanout_ack_arrival_exact", figures.arrival_exact);
    report::count("fanout_ack_arrival_unplaced", figures.unplaced);
    report::count("fanout_ack_arrival_stamped", figures.stamped);
    for (auto& c : members) c->close();
    w->finish();
  }

  // Sender thread: everything the sender receives.
  void on_sender_frame(wire::ServerFrame& fr) {
    if (fr.has_group_created()) {
      group_id = fr.group_created().group_id();
      net::post(w->ioc(), [this] {
        group_known = true;
        maybe_ready();
      });
    } else if (fr.has_send_ack()) {
      const auto seq = fr.request_id();
      if (seq >= 1 && seq <= total) {
        ack_latency.record(micros_since(send_time[seq]));
        // Before its send: a stamp the clocks could not place (a step of the real-time
        // clock). Counted, not recorded as 0.
        const auto arrived = std::chrono::duration_cast<std::chrono::microseconds>(
                                 sender->last_arrival() - send_time[seq]).count();
        if (sender->arrival_stamped()) ++arrivals_stamped;
        if (arrived < 0) {
          ++arrivals_unplaced;
        } else {
          ack_arrival.record(static_cast<std::uint64_t>(arrived));
          if (sender->arrival_exact()) ack_arrival_exact.record(static_cast<std::uint64_t>(arrived));
        }
      }
      ++acked;
      send_more();
    } else if (fr.has_delivery_marks()) {
      marks += static_cast<std::uint64_t>(fr.delivery_marks().marks_size());
    } else if (fr.has_deliver()) {
      sender_acker->delivered(fr.deliver().inbox_seq());  // its own CREATED event
    } else if (fr.has_error()) {
      if (errors++ == 0)
        std::fprintf(stderr, "parley-loadgen: relay refused: %s\n", fr.error().reason().c_str());
      if (fr.request_id() == 1 && group_id.empty()) {
        auto reason = "fanout: CreateGroup refused: " + fr.error().reason();
        net::post(w->ioc(), [this, reason] { w->fail(reason); });
        return;
      }
      ++acked;
      send_more();
    }
  }
};

}  // namespace

void run_fanout(Worker& w) {
  if (w.count() != 1) return w.fail("fanout runs in one worker");
  const auto& o = w.options();
  if (o.members < 2) return w.fail("fanout needs at least 2 members");
  auto r = std::make_shared<Fanout>();
  w.keep(r);
  r->w = &w;
  r->total = o.group_messages;
  r->window = o.group_window;
  r->rate = o.rate;
  r->payload_bytes = o.payload_bytes;
  r->send_time.resize(r->total + 1);
  r->expected = r->total * (o.members - 1);
  std::vector<std::uint64_t> users, member_users;
  for (std::uint64_t u = 0; u < o.members; ++u) users.push_back(u);
  member_users.assign(users.begin() + 1, users.end());
  w.register_all(users, [&w, r, member_users] {
    w.barrier("registered", [&w, r, member_users] {
      w.connect_all(member_users, false, [&w, r](Connections conns, std::size_t failures) {
        if (failures) return w.fail("fanout: " + std::to_string(failures) + " logins failed");
        auto* f = r.get();
        f->members = std::move(conns);
        for (std::size_t i = 0; i < f->members.size(); ++i) {
          f->ackers.push_back(std::make_unique<Acker>(f->members[i]));
          f->members[i]->on_closed([&w](const std::string& why) {
            w.fail("fanout: a member's connection closed: " + why);
          });
          // The CREATED event makes a member ready; group messages are counted.
          f->members[i]->on_frame([f, i](wire::ServerFrame& fr) {
            if (!fr.has_deliver()) return;
            const auto& d = fr.deliver();
            f->ackers[i]->delivered(d.inbox_seq());
            if (d.kind() == wire::GROUP_EVENT) {
              ++f->members_ready;
              f->maybe_ready();
            } else if (d.kind() == wire::GROUP_MESSAGE && f->measuring) {
              if (++f->delivered == f->expected) f->done();
            }
          });
        }
        // The sender logs in on its own thread, then creates the group with every member.
        wire::ClientFrame create;
        create.set_request_id(1);
        auto* c = create.mutable_create_group();
        const auto& who = w.identity(0);
        GroupChange change{GroupChangeKind::Created, who.username(), {}};
        for (std::uint64_t u = 1; u < w.options().members; ++u) {
          c->add_members(w.identity(u).username());
          change.targets.push_back(w.identity(u).username());
        }
        std::string gid(16, '\0');
        randombytes_buf(gid.data(), gid.size());
        c->set_group_id(gid);
        c->set_signature(who.sign(group_change_transcript(gid, 1, change.kind, change.actor, change.targets,
                                                          *next_members({}, change))));
        f->sender = std::make_shared<Connection>(f->sender_ioc, w.relay());
        f->sender->open([&w, f, &who, create](const std::string& error) {
          if (!error.empty()) return net::post(w.ioc(), [&w, error] { w.fail("fanout: " + error); });
          if (const auto ec = f->sender->stamp_arrivals())
            return net::post(w.ioc(), [&w, why = ec.message()] {
              w.fail("fanout: the kernel refused receive timestamps (SO_TIMESTAMPNS) on the "
                     "sender's socket, which time its acks to their arrival: " + why +
                     " (a seccomp or container policy can forbid it; the other scenarios do "
                     "not need it)");
            });
          f->sender->authenticate(who, false, 0, [&w, f, create](const std::string& err) {
            if (!err.empty()) return net::post(w.ioc(), [&w, err] { w.fail("fanout: " + err); });
            f->sender_acker = std::make_unique<Acker>(f->sender);
            f->sender->on_frame([f](wire::ServerFrame& fr) { f->on_sender_frame(fr); });
            f->sender->send(create);
          });
        });
        f->sender_thread = std::thread([f] { f->sender_ioc.run(); });
        // Bounded: a run that loses deliveries ends and reports what it counted. An open
        // loop's schedule is added to it.
        const double rate = w.options().rate;
        const auto limit = std::chrono::seconds(
            120 + (rate > 0 ? static_cast<std::int64_t>(std::ceil(static_cast<double>(f->total) / rate)) : 0));
        f->deadline = std::make_unique<net::steady_timer>(w.ioc(), limit);
        f->deadline->async_wait([&w, f, limit](boost::system::error_code ec) {
          if (ec) return;
          if (!f->measuring)
            return w.fail("fanout: the group was not ready after " +
                          std::to_string(limit.count()) + " s (its members' CREATED events)");
          f->done();
        });
      });
    });
  });
}

}  // namespace parley::loadgen
