// Relay microbenchmarks, wire codec: the protobuf work the relay does per frame on the 1:1
// path, through the relay's own code where it has its own: decoding a Send into the
// thread's parse arena (session/parsed_frame.hpp), the Deliver it pushes of a stored 1:1
// message (session/frame.hpp, Frame::message and the gateway's header) and a Deliver body as
// group entries are encoded (deliver_body), encoding the SendAck (fields set one by one,
// SerializeAsString into a shared immutable buffer), decoding the cumulative Ack; and, for
// scale, a client decoding a Deliver. The *Message variants do the same through a fresh
// protobuf message, as the relay did before, for comparison. The argument is the ciphertext
// size: 200 B (a text message) and 64 KiB.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <string>

#include "gateway/frame_header.hpp"
#include "parley.pb.h"
#include "session/frame.hpp"
#include "session/parsed_frame.hpp"
#include "store/records.hpp"

namespace {

using namespace parley;

std::string ciphertext(std::int64_t bytes) { return std::string(static_cast<std::size_t>(bytes), '\xa5'); }
const std::string kClientMsgId(16, '\x42');

std::string encoded_send(std::int64_t bytes) {
  wire::ClientFrame f;
  f.set_request_id(123456);
  auto* s = f.mutable_send();
  s->set_client_msg_id(kClientMsgId);
  s->set_recipient("bob-the-recipient");
  auto* m = s->add_messages();
  m->set_device_id(1);
  m->set_ciphertext(ciphertext(bytes));
  return f.SerializeAsString();
}

// A stored 1:1 message, as the store reads it back.
store::InboxEntry stored_message(std::uint64_t seq, const std::string& body) {
  store::InboxEntry e;
  e.inbox_seq = seq;
  e.kind = store::EntryKind::Message;
  e.sender = "alice-the-sender";
  e.sender_device = 1;
  e.client_msg_id = kClientMsgId;
  e.conv_seq = seq;
  e.server_ts_ms = 1'790'000'000'000;
  e.ciphertext = body;
  return e;
}

// The same Deliver through a wire::ServerFrame, whole, as the relay encoded it before.
std::shared_ptr<const std::string> encode_deliver(const store::InboxEntry& e) {
  wire::ServerFrame f;
  auto* d = f.mutable_deliver();
  d->set_inbox_seq(e.inbox_seq);
  d->set_kind(static_cast<wire::EntryKind>(e.kind));
  d->set_sender(e.sender);
  d->set_sender_device(e.sender_device);
  d->set_client_msg_id(e.client_msg_id);
  d->set_conv_seq(e.conv_seq);
  d->set_server_ts_ms(e.server_ts_ms);
  d->set_ciphertext(e.ciphertext);
  d->set_content_hint(e.content_hint);
  return std::make_shared<const std::string>(f.SerializeAsString());
}

void BM_DecodeSend(benchmark::State& state) {
  const auto bytes = encoded_send(state.range(0));
  for (auto _ : state) {
    ParsedFrame f;
    if (!f->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(f->send().messages(0).ciphertext().data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes.size()));
}
BENCHMARK(BM_DecodeSend)->Arg(200)->Arg(64 << 10);

void BM_DecodeSendMessage(benchmark::State& state) {
  const auto bytes = encoded_send(state.range(0));
  for (auto _ : state) {
    wire::ClientFrame f;
    if (!f.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(f.send().messages(0).ciphertext().data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes.size()));
}
BENCHMARK(BM_DecodeSendMessage)->Arg(200)->Arg(64 << 10);

// What the relay sends a sender for each stored 1:1 message: its SendAck frame, written field
// by field and held in the Frame (small), and the WebSocket header the gateway writes with it.
void BM_SendAckFrame(benchmark::State& state) {
  FrameHeader head;
  std::uint64_t seq = 0;
  for (auto _ : state) {
    ++seq;
    const auto frame = send_ack_frame(seq, {kClientMsgId, seq, 1'790'000'000'000, false});
    write_frame_head(frame, head);
    benchmark::DoNotOptimize(head.bytes.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SendAckFrame);

// What Session::push_entry sends for a stored 1:1 message: a frame sharing the entry, and
// the WebSocket header and envelope the gateway writes in front of its ciphertext.
void BM_DeliverStoredMessage(benchmark::State& state) {
  auto entry = std::make_shared<store::InboxEntry>(stored_message(0, ciphertext(state.range(0))));
  FrameHeader head;
  for (auto _ : state) {
    ++entry->conv_seq;
    const auto frame = Frame::message(entry, ++entry->inbox_seq);
    write_frame_head(frame, head);
    benchmark::DoNotOptimize(head.bytes.data());
    benchmark::DoNotOptimize(frame.bytes().data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_DeliverStoredMessage)->Arg(200)->Arg(64 << 10);

// A Deliver body as group entries are encoded (and 1:1 messages were until 2026-12-02), then
// the device's frame.
void BM_EncodeDeliver(benchmark::State& state) {
  auto entry = stored_message(0, ciphertext(state.range(0)));
  for (auto _ : state) {
    ++entry.conv_seq;
    const auto frame = Frame::deliver(deliver_body(entry), ++entry.inbox_seq);
    benchmark::DoNotOptimize(frame.bytes().data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_EncodeDeliver)->Arg(200)->Arg(64 << 10);

void BM_EncodeDeliverMessage(benchmark::State& state) {
  auto entry = stored_message(0, ciphertext(state.range(0)));
  for (auto _ : state) {
    ++entry.conv_seq;
    ++entry.inbox_seq;
    auto frame = encode_deliver(entry);
    benchmark::DoNotOptimize(frame->data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_EncodeDeliverMessage)->Arg(200)->Arg(64 << 10);

void BM_DecodeAck(benchmark::State& state) {
  wire::ClientFrame a;
  a.mutable_ack()->set_up_to_inbox_seq(1'234'567);
  const auto bytes = a.SerializeAsString();
  for (auto _ : state) {
    wire::ClientFrame f;
    if (!f.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(f.ack().up_to_inbox_seq());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeAck);

// The receiving end of a Deliver (client or loadgen), for comparison with the encode.
void BM_DecodeDeliver(benchmark::State& state) {
  const auto frame = encode_deliver(stored_message(1, ciphertext(state.range(0))));
  for (auto _ : state) {
    wire::ServerFrame f;
    if (!f.ParseFromArray(frame->data(), static_cast<int>(frame->size()))) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(f.deliver().ciphertext().data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(frame->size()));
}
BENCHMARK(BM_DecodeDeliver)->Arg(200)->Arg(64 << 10);

}  // namespace
