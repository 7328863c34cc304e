// A Deliver encoded once and pushed with each device's own envelope (session/frame.hpp) must
// be, byte for byte, the ServerFrame the relay would have serialized whole: clients parse
// nothing else. Checked across the varint boundaries of inbox_seq and of the frame's length,
// for every kind of entry, and through the gateway's WebSocket header (frame_header.hpp).
// A stored 1:1 message pushed from its entry (Frame::message) parses to the same ServerFrame,
// sends the entry's own ciphertext bytes, keeps the entry alive while it is held, and
// allocates nothing on its way to the socket (counted by this binary's operator new).
// DeliverBodies hands every member the same bytes for one group entry while any holds them.
// Inbound, a ParsedFrame parses into its thread's arena and gives it back intact.
#include <QtTest>

#include <atomic>
#include <cstdlib>
#include <limits>
#include <new>

#include "gateway/frame_header.hpp"
#include "parley.pb.h"
#include "session/deliver_bodies.hpp"
#include "session/frame.hpp"
#include "session/parsed_frame.hpp"
#include "store/records.hpp"

using namespace parley;

// Allocations made through operator new on this thread while counting (allocations_during).
namespace {
thread_local bool counting = false;
thread_local std::size_t allocations = 0;

template <class F>
std::size_t allocations_during(F f) {
  allocations = 0;
  counting = true;
  f();
  counting = false;
  return allocations;
}
}  // namespace

void* operator new(std::size_t size) {
  if (counting) ++allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

store::InboxEntry entry(store::EntryKind kind, std::size_t ciphertext_bytes) {
  store::InboxEntry e;
  e.kind = kind;
  e.sender = "alice";
  e.sender_device = 3;
  e.client_msg_id = std::string(16, '\x07');
  e.conv_seq = 41;
  e.server_ts_ms = 1'790'000'000'000;
  e.content_hint = 2;
  if (kind == store::EntryKind::GroupEvent) {
    wire::GroupEvent ev;
    ev.set_kind(wire::GroupEvent::ADDED);
    ev.set_actor("alice");
    ev.add_targets(std::string(ciphertext_bytes, 'b'));
    ev.set_epoch(9);
    e.ciphertext = ev.SerializeAsString();
  } else {
    e.ciphertext.assign(ciphertext_bytes, '\xab');
  }
  if (kind != store::EntryKind::Message) e.group_id = std::string(16, 'g');
  return e;
}

// What the relay serialized before frames shared their bytes: the whole ServerFrame.
std::string whole_frame(const store::InboxEntry& e, std::uint64_t inbox_seq) {
  wire::ServerFrame f;
  auto* d = f.mutable_deliver();
  d->set_inbox_seq(inbox_seq);
  d->set_kind(static_cast<wire::EntryKind>(e.kind));
  d->set_sender(e.sender);
  d->set_sender_device(e.sender_device);
  d->set_client_msg_id(e.client_msg_id);
  d->set_conv_seq(e.conv_seq);
  d->set_server_ts_ms(e.server_ts_ms);
  if (e.kind == store::EntryKind::Message || e.kind == store::EntryKind::GroupMessage) {
    d->set_ciphertext(e.ciphertext);
    d->set_content_hint(e.content_hint);
  }
  if (!e.group_id.empty()) d->set_group_id(e.group_id);
  if (e.kind == store::EntryKind::GroupEvent) d->mutable_event()->ParseFromString(e.ciphertext);
  return f.SerializeAsString();
}

std::string on_the_wire(const Frame& f) {
  std::array<unsigned char, Frame::kMaxEnvelope> envelope{};
  const auto n = f.write_envelope(envelope);
  return std::string(reinterpret_cast<const char*>(envelope.data()), n) + std::string(f.bytes());
}

constexpr std::uint64_t kSeqs[] = {1, 127, 128, 16'383, 16'384, 1ull << 32,
                                   std::numeric_limits<std::uint64_t>::max()};
// Around the frame length's one-, two- and three-byte varints, the WebSocket header's 126
// and 65,536 thresholds, and the largest entry the relay takes (200 KiB).
constexpr std::size_t kSizes[] = {0, 40, 60, 70, 120, 16'300, 16'400, 65'400, 65'600, 200 * 1024};

}  // namespace

class FrameTest : public QObject {
  Q_OBJECT

 private slots:
  void sharedDeliverIsTheWholeFrameByteForByte_data() {
    QTest::addColumn<int>("kind");
    for (auto kind : {store::EntryKind::Message, store::EntryKind::DeliveryReceipt,
                      store::EntryKind::GroupMessage, store::EntryKind::GroupEvent})
      QTest::addRow("kind %d", static_cast<int>(kind)) << static_cast<int>(kind);
  }

  void sharedDeliverIsTheWholeFrameByteForByte() {
    QFETCH(int, kind);
    for (const auto size : kSizes) {
      const auto e = entry(static_cast<store::EntryKind>(kind), size);
      const auto body = deliver_body(e);
      for (const auto seq : kSeqs) {
        const auto expected = whole_frame(e, seq);
        const auto f = Frame::deliver(body, seq);
        QCOMPARE(f.size(), expected.size());
        QCOMPARE(f.envelope_size() + f.bytes().size(), expected.size());
        const auto wire = on_the_wire(f);
        if (wire != expected) QFAIL(qPrintable(QString("size %1 seq %2 differs").arg(size).arg(seq)));
        wire::ServerFrame parsed;
        QVERIFY(parsed.ParseFromString(wire));
        QVERIFY(parsed.has_deliver());
        QCOMPARE(parsed.request_id(), 0u);
        QCOMPARE(parsed.deliver().inbox_seq(), seq);
      }
    }
  }

  // deliver_body() writes the fields itself: zeros and empty strings must be left out
  // exactly as protobuf leaves them out, field by field, and the largest values encoded as
  // protobuf encodes them.
  void defaultAndLargestFieldsAreWrittenAsProtobufWritesThem() {
    for (auto kind : {store::EntryKind::Message, store::EntryKind::DeliveryReceipt,
                      store::EntryKind::GroupMessage, store::EntryKind::GroupEvent}) {
      for (int variant = 0; variant < 9; ++variant) {
        auto e = entry(kind, 50);
        switch (variant) {
          case 8:
            e.sender_device = std::numeric_limits<std::uint32_t>::max();
            e.conv_seq = std::numeric_limits<std::uint64_t>::max();
            e.server_ts_ms = std::numeric_limits<std::uint64_t>::max();
            e.content_hint = std::numeric_limits<std::uint32_t>::max();
            break;
          case 0: e.sender.clear(); break;
          case 1: e.sender_device = 0; break;
          case 2: e.client_msg_id.clear(); break;
          case 3: e.conv_seq = 0; break;
          case 4: e.server_ts_ms = 0; break;
          case 5: e.content_hint = 0; break;
          case 6: e.ciphertext.clear(); break;
          case 7: e.group_id.clear(); break;
        }
        const auto wire = on_the_wire(Frame::deliver(deliver_body(e), 5));
        if (wire != whole_frame(e, 5))
          QFAIL(qPrintable(QString("kind %1, variant %2").arg(int(kind)).arg(variant)));
      }
    }
  }

  // The envelope holds every field but the ciphertext's bytes, content_hint before the
  // ciphertext: the bytes differ from protobuf's, the message parsed from them does not.
  // Across the varint boundaries of the ciphertext's length, the frame's, inbox_seq's and
  // every field's, through the WebSocket header too.
  void storedMessageFrameParsesAsTheWholeFrame() {
    for (const auto size : kSizes) {
      for (int variant = 0; variant < 4; ++variant) {
        auto e = entry(store::EntryKind::Message, size);
        if (variant == 1) {  // the largest envelope
          e.sender = std::string(Frame::kMaxSender, 's');
          e.sender_device = std::numeric_limits<std::uint32_t>::max();
          e.conv_seq = std::numeric_limits<std::uint64_t>::max();
          e.server_ts_ms = std::numeric_limits<std::uint64_t>::max();
          e.content_hint = std::numeric_limits<std::uint32_t>::max();
        } else if (variant == 2) {  // zeros and empty strings, left out
          e.sender.clear();
          e.sender_device = 0;
          e.client_msg_id.clear();
          e.conv_seq = 0;
          e.server_ts_ms = 0;
          e.content_hint = 0;
        } else if (variant == 3) {
          e.content_hint = 300;
        }
        QVERIFY(Frame::can_carry(e));
        const auto shared = std::make_shared<const store::InboxEntry>(e);
        for (const auto seq : kSeqs) {
          const auto expected = whole_frame(e, seq);
          const auto f = Frame::message(shared, seq);
          QVERIFY(f.envelope_size() <= Frame::kMaxEnvelope);
          QCOMPARE(f.bytes().data(), shared->ciphertext.data());  // sent from the entry
          const auto wire = on_the_wire(f);
          QCOMPARE(wire.size(), f.size());
          // Serialized again, the parsed message is protobuf's own bytes.
          wire::ServerFrame parsed;
          QVERIFY(parsed.ParseFromString(wire));
          if (parsed.SerializeAsString() != expected)
            QFAIL(qPrintable(QString("size %1 variant %2 seq %3 differs").arg(size).arg(variant).arg(seq)));
          QCOMPARE(wire.size(), expected.size());  // the same fields, in another order

          const auto head = frame_head(f);
          const auto ws = binary_frame_header(expected.size());
          QCOMPARE(std::string(reinterpret_cast<const char*>(head.bytes.data()), ws.size),
                   std::string(reinterpret_cast<const char*>(ws.bytes.data()), ws.size));
          QCOMPARE(std::string(reinterpret_cast<const char*>(head.bytes.data()) + ws.size,
                               head.size - ws.size) + std::string(f.bytes()),
                   wire);
        }
      }
    }
  }

  void storedMessageFrameKeepsItsEntry() {
    auto owned = std::make_shared<store::InboxEntry>(entry(store::EntryKind::Message, 300));
    const std::weak_ptr<store::InboxEntry> watch = owned;
    const auto expected = whole_frame(*owned, 4);
    auto f = Frame::message(std::move(owned), 4);
    QVERIFY(!watch.expired());
    auto copy = f;
    f = {};
    QVERIFY(!watch.expired());
    wire::ServerFrame parsed;
    QVERIFY(parsed.ParseFromString(on_the_wire(copy)));
    QCOMPARE(parsed.SerializeAsString(), expected);
    copy = {};
    QVERIFY(watch.expired());
  }

  // The push of a stored message, as the gateway writes it: the frame made, queued (copied),
  // its header and envelope written, the frame let go: no allocation. Nor do the SendAck and
  // the delivery mark a 1:1 message makes. A body's frame allocates nothing either; encoding
  // the body is one allocation.
  void storedMessagePushAllocatesNothing() {
    const auto shared =
        std::make_shared<const store::InboxEntry>(entry(store::EntryKind::Message, 4096));
    FrameHeader head;
    std::size_t written = 0;
    const auto made = allocations_during([&] {
      auto frame = Frame::message(shared, 7);
      const auto queued = frame;
      write_frame_head(queued, head);
      written = head.size + queued.bytes().size();
    });
    QCOMPARE(made, 0u);
    QCOMPARE(written, binary_frame_header(whole_frame(*shared, 7).size()).size +
                          whole_frame(*shared, 7).size());

    // A 1:1 message's SendAck and its sender's delivery mark are held in their frames.
    const std::string id(16, '\x01');
    const std::vector<store::DeliveryMarkRecord> mark{
        {"reader-fifteen1", 3, "", 41, 42, 1'790'000'000'000, 1'000'000}};
    const auto write_small = [&](const Frame& frame) {
      const auto queued = frame;
      write_frame_head(queued, head);
      written = head.size + queued.bytes().size();
    };
    QCOMPARE(allocations_during([&] {
               write_small(send_ack_frame(1'000'000, {id, 1'000'000, 1'790'000'000'000, true}));
             }),
             0u);
    QCOMPARE(written, 2 + send_ack_frame(1'000'000, {id, 1'000'000, 1'790'000'000'000, true}).size());
    QCOMPARE(allocations_during([&] { write_small(delivery_marks_frame(mark)); }), 0u);
    QCOMPARE(written, 2 + delivery_marks_frame(mark).size());

    const auto group = entry(store::EntryKind::GroupMessage, 4096);
    SharedBytes body;
    QCOMPARE(allocations_during([&] { body = deliver_body(group); }), 1u);
    QCOMPARE(allocations_during([&] {
               const auto frame = Frame::deliver(body, 9);
               write_frame_head(frame, head);
             }),
             0u);
  }

  // Anything the envelope cannot hold goes as an encoded body instead.
  void onlyOneToOneMessagesThatFitTheEnvelopeAreCarried() {
    QVERIFY(Frame::can_carry(entry(store::EntryKind::Message, 10)));
    for (auto kind : {store::EntryKind::DeliveryReceipt, store::EntryKind::GroupMessage,
                      store::EntryKind::GroupEvent})
      QVERIFY(!Frame::can_carry(entry(kind, 10)));
    auto e = entry(store::EntryKind::Message, 10);
    e.group_id = std::string(16, 'g');
    QVERIFY(!Frame::can_carry(e));
    e = entry(store::EntryKind::Message, 10);
    e.sender = std::string(Frame::kMaxSender + 1, 's');
    QVERIFY(!Frame::can_carry(e));
    e = entry(store::EntryKind::Message, 10);
    e.client_msg_id = std::string(Frame::kMaxClientMsgId + 1, 'c');
    QVERIFY(!Frame::can_carry(e));
  }

  // A group event row that does not parse is not passed on: the event goes out empty.
  void damagedGroupEventGoesOutEmpty() {
    auto e = entry(store::EntryKind::GroupEvent, 10);
    e.ciphertext = "\xff\xff\xff";
    wire::ServerFrame parsed;
    QVERIFY(parsed.ParseFromString(on_the_wire(Frame::deliver(deliver_body(e), 9))));
    QVERIFY(parsed.deliver().has_event());
    QCOMPARE(parsed.deliver().event().ByteSizeLong(), 0u);
    QCOMPARE(parsed.deliver().conv_seq(), e.conv_seq);
  }

  // What a handler moves out of a parsed frame outlives it; a frame larger than the arena's
  // block parses; a frame made while another is alive parses on the heap; the arena, reset,
  // serves the next frame.
  void parsedFramesShareTheThreadArenaSafely() {
    wire::ClientFrame send;
    send.set_request_id(7);
    auto* m = send.mutable_send()->add_messages();
    m->set_device_id(2);
    m->set_ciphertext(std::string(300, '\x5a'));
    const auto send_bytes = send.SerializeAsString();
    wire::ClientFrame upload;
    for (std::uint32_t i = 0; i < 200; ++i) {  // ~15 KiB of messages and strings
      auto* k = upload.mutable_upload_prekeys()->add_one_time_prekeys();
      k->set_id(i);
      k->set_public_key(std::string(32, static_cast<char>(i)));
    }
    const auto upload_bytes = upload.SerializeAsString();

    std::string moved;
    {
      ParsedFrame f;
      QVERIFY(f->GetArena() != nullptr);
      QVERIFY(f->ParseFromString(send_bytes));
      moved = std::move(*f->mutable_send()->mutable_messages(0)->mutable_ciphertext());
      ParsedFrame nested;
      QVERIFY(nested->GetArena() == nullptr);
      QVERIFY(nested->ParseFromString(upload_bytes));
      QCOMPARE(nested->SerializeAsString(), upload_bytes);
    }
    QCOMPARE(moved, std::string(300, '\x5a'));
    for (int round = 0; round < 3; ++round) {
      ParsedFrame big;
      QVERIFY(big->GetArena() != nullptr);
      QVERIFY(big->ParseFromString(upload_bytes));
      QCOMPARE(big->SerializeAsString(), upload_bytes);
    }
    ParsedFrame again;
    QVERIFY(again->GetArena() != nullptr);
    QVERIFY(again->ParseFromString(send_bytes));
    QCOMPARE(again->SerializeAsString(), send_bytes);
  }

  // A whole frame past kMaxSmall is its shared bytes, with no envelope; one within it is held
  // in the Frame and goes out as the envelope. Either way the wire gets protobuf's bytes.
  void wholeFrameIsItsBytesOrItsEnvelope() {
    bool both = false;  // the sizes straddle kMaxSmall
    for (const std::size_t reason : {std::size_t{0}, std::size_t{20}, std::size_t{42},
                                     std::size_t{43}, std::size_t{44}, std::size_t{500}}) {
      wire::ServerFrame f;
      f.mutable_error()->set_reason(std::string(reason, 'r'));
      const auto expected = f.SerializeAsString();
      const auto frame = Frame::serialize(f);
      QVERIFY(static_cast<bool>(frame));
      QCOMPARE(on_the_wire(frame), expected);
      QCOMPARE(frame.size(), expected.size());
      const bool small = expected.size() <= Frame::kMaxSmall;
      both |= expected.size() == Frame::kMaxSmall + 1;
      QCOMPARE(frame.envelope_size(), small ? expected.size() : 0u);
      QCOMPARE(frame.bytes().size(), small ? 0u : expected.size());

      // Copies carry the same bytes; a moved-from frame is empty.
      auto copy = frame;
      QCOMPARE(on_the_wire(copy), expected);
      const auto moved = std::move(copy);
      QCOMPARE(on_the_wire(moved), expected);
      QVERIFY(!copy);
      QCOMPARE(copy.size(), 0u);
    }
    QVERIFY(both);
  }

  // SendAck and DeliveryMarks are written field by field (field_encoder.hpp): the bytes must
  // be protobuf's, with every field at zero, at its largest, and in between.
  void sendAckIsWrittenAsProtobufWritesIt() {
    constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
    const std::string id(16, '\x01');
    for (const auto request_id : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{300}, kMax})
      for (const auto seq : {std::uint64_t{0}, std::uint64_t{127}, std::uint64_t{128}, kMax})
        for (const bool duplicate : {false, true})
          for (const auto& msg_id : {std::string(), id}) {
            wire::ServerFrame f;
            f.set_request_id(request_id);
            auto* a = f.mutable_send_ack();
            a->set_client_msg_id(msg_id);
            a->set_conv_seq(seq);
            a->set_server_ts_ms(seq == 0 ? 0 : 1'790'000'000'000);
            a->set_duplicate(duplicate);
            const auto got = send_ack_frame(
                request_id, {msg_id, seq, seq == 0 ? 0u : 1'790'000'000'000u, duplicate});
            QCOMPARE(got.bytes().empty(), f.ByteSizeLong() <= Frame::kMaxSmall);
            if (on_the_wire(got) != f.SerializeAsString())
              QFAIL(qPrintable(QString("request %1 seq %2 duplicate %3 id %4 differs")
                                   .arg(request_id).arg(seq).arg(duplicate).arg(msg_id.size())));
          }
  }

  void deliveryMarksAreWrittenAsProtobufWritesThem() {
    constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
    std::vector<store::DeliveryMarkRecord> marks;
    QCOMPARE(on_the_wire(delivery_marks_frame(marks)),
             [] {
               wire::ServerFrame f;
               f.mutable_delivery_marks();
               return f.SerializeAsString();
             }());
    marks.push_back({});                                              // every field zero
    marks.push_back({"bob", 1, "", 1, 7, 1'790'000'000'000, 12});     // 1:1
    marks.push_back({"carol", 16, std::string(16, 'g'), 40, 41, 5, 13});  // a group's
    marks.push_back({std::string(64, 'z'), 0xffffffff, std::string(16, '\xff'), kMax, kMax,
                     kMax, kMax});
    for (int i = 0; i < 300; ++i)  // a frame of 256 marks is ~10 KiB: a 2-byte length
      marks.push_back({"reader" + std::to_string(i), static_cast<std::uint32_t>(i), "",
                       static_cast<std::uint64_t>(i), static_cast<std::uint64_t>(i) * 1000,
                       1'790'000'000'000, static_cast<std::uint64_t>(i) + 100});
    for (const std::size_t n : {std::size_t{1}, std::size_t{2}, std::size_t{4}, marks.size()}) {
      wire::ServerFrame f;
      auto* out = f.mutable_delivery_marks();
      for (std::size_t i = 0; i < n; ++i) {
        const auto& m = marks[i];
        auto* d = out->add_marks();
        d->set_reader(m.reader);
        d->set_reader_device(m.reader_device);
        d->set_group_id(m.group_id);
        d->set_from_conv_seq(m.from);
        d->set_up_to_conv_seq(m.up_to);
        d->set_server_ts_ms(m.acked_ms);
        d->set_version(m.version);
      }
      const auto got = delivery_marks_frame(std::span(marks).first(n));
      if (on_the_wire(got) != f.SerializeAsString())
        QFAIL(qPrintable(QString("%1 marks differ").arg(n)));
    }
  }

  // The gateway's gathered write: WebSocket header, envelope, shared bytes. They must equal
  // the header of the whole frame's size (binary_frame_header, what Beast would write) and
  // the whole frame. The sizes straddle the header's 126 and 65,536 thresholds.
  void headIsTheWebSocketHeaderOfTheWholeFrameThenTheEnvelope() {
    for (const auto size : kSizes) {
      const auto e = entry(store::EntryKind::GroupMessage, size);
      const auto body = deliver_body(e);
      for (const auto seq : kSeqs) {
        const auto expected = whole_frame(e, seq);
        const auto ws = binary_frame_header(expected.size());
        const auto f = Frame::deliver(body, seq);
        const auto head = frame_head(f);
        const std::string got =
            std::string(reinterpret_cast<const char*>(head.bytes.data()), head.size) +
            std::string(f.bytes());
        const std::string want =
            std::string(reinterpret_cast<const char*>(ws.bytes.data()), ws.size) + expected;
        if (got != want) QFAIL(qPrintable(QString("size %1 seq %2 differs").arg(size).arg(seq)));
      }
    }
    // A small frame is all header: the WebSocket header, then the frame itself.
    const auto ack = send_ack_frame(300, {std::string(16, '\x02'), 5, 1'790'000'000'000, false});
    QVERIFY(ack.bytes().empty());
    wire::ServerFrame f;
    f.set_request_id(300);
    f.mutable_send_ack()->set_client_msg_id(std::string(16, '\x02'));
    f.mutable_send_ack()->set_conv_seq(5);
    f.mutable_send_ack()->set_server_ts_ms(1'790'000'000'000);
    const auto expected = f.SerializeAsString();
    const auto ws = binary_frame_header(expected.size());
    const auto head = frame_head(ack);
    QCOMPARE(std::string(reinterpret_cast<const char*>(head.bytes.data()), head.size),
             std::string(reinterpret_cast<const char*>(ws.bytes.data()), ws.size) + expected);
  }

  void groupEntriesShareOneBodyWhileHeld() {
    DeliverBodies bodies;
    auto e = entry(store::EntryKind::GroupMessage, 4096);
    // Another member's copy of the same log entry, as read back from its own inbox.
    auto copy = e;
    copy.inbox_seq = 77;
    auto first = bodies.get(e);
    auto second = bodies.get(copy);
    QCOMPARE(first.view().data(), second.view().data());
    QCOMPARE(first.view(), deliver_body(e).view());

    auto next = e;
    next.conv_seq = e.conv_seq + 1;
    QVERIFY(bodies.get(next).view().data() != first.view().data());  // another log entry
    auto other_group = e;
    other_group.group_id = std::string(16, 'h');
    QVERIFY(bodies.get(other_group).view().data() != first.view().data());

    // A 1:1 message goes to one device: nothing to share, nothing kept.
    const auto before = bodies.size_for_test();
    auto direct = entry(store::EntryKind::Message, 100);
    QVERIFY(bodies.get(direct).view().data() != bodies.get(direct).view().data());
    QCOMPARE(bodies.size_for_test(), before);

    // Released by every holder, a body is encoded again on next use (equal bytes).
    const auto bytes = std::string(first.view());
    first = {};
    second = {};
    auto again = bodies.get(e);
    QCOMPARE(std::string(again.view()), bytes);
  }

  void releasedBodiesAreForgotten() {
    DeliverBodies bodies;
    auto e = entry(store::EntryKind::GroupEvent, 10);
    std::vector<SharedBytes> held;
    for (std::uint64_t seq = 1; seq <= 5000; ++seq) {
      e.conv_seq = seq;
      auto body = bodies.get(e);
      if (seq % 100 == 0) held.push_back(body);  // 50 still held by frames
    }
    // What no frame holds is pruned as entries are added: the map stays near what is held.
    QVERIFY2(bodies.size_for_test() <= 2048, qPrintable(QString::number(bodies.size_for_test())));
    for (std::size_t i = 0; i < held.size(); ++i) {
      e.conv_seq = 100 * (i + 1);
      QCOMPARE(bodies.get(e).view().data(), held[i].view().data());
    }
  }
};

QTEST_GUILESS_MAIN(FrameTest)
#include "frame_test.moc"
