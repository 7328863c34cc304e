// idle: hold N authenticated connections open and quiet while the parent measures the
// relay's RSS and the kernel's slab (see coordinator.cpp). Users are split over workers.
#include "report.hpp"
#include "worker.hpp"

namespace parley::loadgen {

// Connects in two halves with a barrier between them, so the parent can take the
// marginal cost per connection (second half) apart from fixed costs and from memory the
// registration phase freed and the first connections reused.
void run_idle(Worker& w) {
  auto users = w.share(w.options().connections);
  w.register_all(users, [&w, users] {
    w.barrier("registered", [&w, users] {
      const auto half = users.size() / 2;
      std::vector<std::uint64_t> first(users.begin(), users.begin() + static_cast<std::ptrdiff_t>(half));
      std::vector<std::uint64_t> second(users.begin() + static_cast<std::ptrdiff_t>(half), users.end());
      auto held = std::make_shared<Connections>();
      auto dropped = std::make_shared<std::uint64_t>(0);
      auto failed = std::make_shared<std::uint64_t>(0);
      auto keep = [held, dropped, failed](Connections conns, std::size_t failures) {
        *failed += failures;
        for (auto& c : conns) {
          if (!c) continue;
          c->on_closed([dropped](const std::string&) { ++*dropped; });
          held->push_back(std::move(c));
        }
      };
      w.connect_all(first, false, [&w, second, held, dropped, failed, keep](Connections conns, std::size_t failures) {
        keep(std::move(conns), failures);
        w.barrier("half-connected", [&w, second, held, dropped, failed, keep] {
          w.connect_all(second, false, [&w, held, dropped, failed, keep](Connections rest, std::size_t rest_failures) {
            keep(std::move(rest), rest_failures);
            report::count("idle_failed", *failed);
            w.barrier("connected", [&w, held, dropped] {
              std::uint64_t open = 0;
              for (auto& c : *held)
                if (c->is_open()) ++open;
              report::count("idle_open", open);
              report::count("idle_dropped", *dropped);
              for (auto& c : *held) c->close();
              w.finish();
            });
          });
        });
      });
    });
  });
}

}  // namespace parley::loadgen
