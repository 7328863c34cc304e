// fanout: one sender to a group of M members (all online, one device each). The sender
// keeps a few GroupSends in flight and records each one's ack latency; members count and
// acknowledge the deliveries; the rate is member deliveries from the first send to the
// last delivery. One worker (a group lives in one process here).
#include <cstring>

#include <boost/asio/steady_timer.hpp>

#include "message_id.hpp"
#include "report.hpp"
#include "worker.hpp"

namespace parley::loadgen {

namespace {

struct Fanout {
  Worker* w = nullptr;
  Connections conns;  // [0] is the sender, who creates the group
  std::vector<std::unique_ptr<Acker>> ackers;
  std::string group_id;
  std::uint64_t members_ready = 0;
  std::uint64_t total = 0, sent = 0, acked = 0, errors = 0, delivered = 0, marks = 0;
  std::uint64_t expected = 0;
  std::vector<Clock::time_point> send_time;
  Clock::time_point started;
  Histogram ack_latency;
  std::unique_ptr<net::steady_timer> deadline;
  bool measuring = false;

  void send_more() {
    while (sent < total && sent - acked < w->options().group_window) {
      wire::ClientFrame f;
      auto* g = f.mutable_group_send();
      const auto seq = ++sent;
      g->set_group_id(group_id);
      g->set_client_msg_id(new_message_id());
      g->set_ciphertext(std::string(w->options().payload_bytes, 'g'));
      f.set_request_id(seq);
      send_time[seq] = Clock::now();
      conns[0]->send(f);
    }
  }

  // Ready once the creator has its GroupCreated and every member its CREATED event; the
  // two race (members may see the fan-out before the creator sees the reply).
  void maybe_ready() {
    if (group_id.empty() || members_ready != conns.size() - 1) return;
    w->barrier("ready", [this] {
      started = Clock::now();
      measuring = true;
      send_more();
    });
  }

  void done() {
    report::count("fanout_deliveries", delivered);
    report::count("fanout_expected", expected);
    report::count("fanout_elapsed_us", micros_since(started));
    report::count("fanout_send_errors", errors);
    report::count("fanout_delivery_marks", marks);
    report::histogram("fanout_ack_latency", ack_latency);
    for (auto& c : conns) c->close();
    w->finish();
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
  r->send_time.resize(r->total + 1);
  r->expected = r->total * (o.members - 1);
  std::vector<std::uint64_t> users;
  for (std::uint64_t u = 0; u < o.members; ++u) users.push_back(u);
  w.register_all(users, [&w, r, users] {
    w.barrier("registered", [&w, r, users] {
      w.connect_all(users, false, [&w, r](Connections conns, std::size_t failures) {
        if (failures) return w.fail("fanout: " + std::to_string(failures) + " logins failed");
        r->conns = std::move(conns);
        auto* f = r.get();
        for (std::size_t i = 0; i < f->conns.size(); ++i) {
          f->ackers.push_back(std::make_unique<Acker>(f->conns[i]));
          f->conns[i]->on_closed([&w](const std::string& why) {
            w.fail("fanout: a member's connection closed: " + why);
          });
        }
        // Members: the CREATED event makes a member ready; group messages are counted.
        for (std::size_t i = 1; i < f->conns.size(); ++i) {
          f->conns[i]->on_frame([f, i](wire::ServerFrame& fr) {
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
        // The sender: group creation, acks of its sends, delivery marks, and its own CREATED event
        // to acknowledge.
        f->conns[0]->on_frame([&w, f](wire::ServerFrame& fr) {
          if (fr.has_group_created()) {
            f->group_id = fr.group_created().group_id();
            f->maybe_ready();
          } else if (fr.has_send_ack()) {
            const auto seq = fr.request_id();
            if (seq >= 1 && seq <= f->total)
              f->ack_latency.record(micros_since(f->send_time[seq]));
            ++f->acked;
            f->send_more();
          } else if (fr.has_delivery_marks()) {
            f->marks += static_cast<std::uint64_t>(fr.delivery_marks().marks_size());
          } else if (fr.has_deliver()) {
            f->ackers[0]->delivered(fr.deliver().inbox_seq());
          } else if (fr.has_error()) {
            if (f->errors++ == 0)
              std::fprintf(stderr, "parley-loadgen: relay refused: %s\n", fr.error().reason().c_str());
            if (fr.request_id() == 1 && f->group_id.empty())
              return w.fail("fanout: CreateGroup refused: " + fr.error().reason());
            ++f->acked;
            f->send_more();
          }
        });
        wire::ClientFrame create;
        create.set_request_id(1);
        auto* c = create.mutable_create_group();
        for (std::size_t i = 1; i < f->conns.size(); ++i)
          c->add_members(w.identity(i).username());
        f->conns[0]->send(create);
        // Bounded: a run that loses deliveries ends and reports what it counted.
        f->deadline = std::make_unique<net::steady_timer>(w.ioc(), std::chrono::seconds(120));
        f->deadline->async_wait([&w, f](boost::system::error_code ec) {
          if (ec) return;
          if (!f->measuring) return w.fail("fanout: group not ready after 120 s");
          f->done();
        });
      });
    });
  });
}

}  // namespace parley::loadgen
