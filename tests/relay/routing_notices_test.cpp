// The notices gateways publish to each other through Redis (routing/notices.hpp): what one
// gateway writes, another reads back field for field; a 1:1 entry is carried only when small,
// and only under the gateways' key; a notice whose full form an older gateway would refuse
// comes with the older form. A carried entry forged, tampered with, malformed or stale is
// refused and its announcement kept (the entry is then read from the store); anything else
// malformed is refused whole.
#include <sodium.h>

#include <QtTest>

#include <memory>
#include <optional>
#include <vector>

#include "routing/device_router.hpp"
#include "routing/notices.hpp"

using namespace parley;
using namespace parley::routing;

namespace {

// What the notices handed on, in order.
struct Recorded final : RoutedNotices {
  struct Appended {
    std::string user;
    std::uint32_t device = 0;
    std::uint64_t seq = 0;
    std::shared_ptr<const store::InboxEntry> entry;
  };
  std::vector<Appended> appends;
  std::vector<std::pair<store::DeliveryMarkRecord, std::optional<std::uint64_t>>> marks;
  int others = 0;

  void appended(const std::string& user, std::uint32_t device, std::uint64_t seq,
                std::shared_ptr<const store::InboxEntry> entry) override {
    appends.push_back({user, device, seq, std::move(entry)});
  }
  void mark_raised(const std::string&, std::uint32_t, store::DeliveryMarkRecord mark,
                   std::optional<std::uint64_t> follows) override {
    marks.emplace_back(std::move(mark), follows);
  }
  void prekeys_low(const std::string&, std::uint32_t, std::uint32_t) override { ++others; }
  void displaced(const std::string&, std::uint32_t, std::uint64_t) override { ++others; }
  void presence(const std::string&, PresenceInfo) override { ++others; }
  void typing(const std::string&, const std::string&, bool) override { ++others; }
  void rescan(const std::string&, std::uint32_t) override { ++others; }
  std::size_t total() const { return appends.size() + marks.size() + others; }
  bool any_entry() const {
    for (const auto& a : appends)
      if (a.entry) return true;
    return false;
  }
};

constexpr std::uint64_t kSent = 1'764'000'000'123;  // the entries' server time
constexpr std::uint64_t kNow = kSent + 40;          // the receiving gateway's clock

notices::Key randomKey() {
  notices::Key k;
  randombytes_buf(k.bytes.data(), k.bytes.size());
  return k;
}

store::InboxEntry message(std::uint64_t seq, std::size_t ciphertext_bytes) {
  store::InboxEntry e;
  e.inbox_seq = seq;
  e.kind = store::EntryKind::Message;
  e.sender = "alice";
  e.sender_device = 3;
  e.sender_pk = 41;
  e.client_msg_id = std::string("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\xfe\xff", 16);
  e.conv_seq = 17;
  e.server_ts_ms = kSent;
  e.content_hint = 2;
  e.ciphertext.resize(ciphertext_bytes);
  for (std::size_t i = 0; i < ciphertext_bytes; ++i)
    e.ciphertext[i] = static_cast<char>(i * 7 + 1);  // every byte value, NULs and spaces among them
  return e;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::size_t at = 0;
  for (auto sp = s.find(' '); sp != std::string::npos; sp = s.find(' ', at)) {
    out.push_back(s.substr(at, sp - at));
    at = sp + 1;
  }
  out.push_back(s.substr(at));
  return out;
}

std::string join(const std::vector<std::string>& f) {
  std::string out;
  for (const auto& x : f) out += (out.empty() ? "" : " ") + x;
  return out;
}

}  // namespace

class RoutingNoticesTest : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() { QVERIFY(sodium_init() >= 0); }

  // A small 1:1 message crosses whole: the receiving gateway has every field the push needs,
  // without a read. Its older form is the bare announcement.
  void aSmallMessageIsCarriedWhole() {
    const auto key = randomKey();
    for (const std::size_t size : {std::size_t{1}, std::size_t{200}, notices::kCarriedCiphertextMax}) {
      const auto e = message(9, size);
      const auto n = notices::appended("bob", 2, 9, &e, key);
      QCOMPARE(n.older, std::string("A bob 2 9"));
      QVERIFY(n.full.size() <= notices::kMaxBytes);
      Recorded got;
      QVERIFY(notices::dispatch(n.full, got, key, kNow) == notices::Dispatched::Handed);
      QCOMPARE(got.appends.size(), std::size_t{1});
      const auto& a = got.appends[0];
      QCOMPARE(a.user, std::string("bob"));
      QCOMPARE(a.device, 2u);
      QCOMPARE(a.seq, std::uint64_t{9});
      QVERIFY(a.entry);
      QCOMPARE(a.entry->inbox_seq, e.inbox_seq);
      QVERIFY(a.entry->kind == store::EntryKind::Message);
      QCOMPARE(a.entry->sender, e.sender);
      QCOMPARE(a.entry->sender_device, e.sender_device);
      QCOMPARE(a.entry->sender_pk, e.sender_pk);
      QCOMPARE(a.entry->client_msg_id, e.client_msg_id);
      QCOMPARE(a.entry->conv_seq, e.conv_seq);
      QCOMPARE(a.entry->server_ts_ms, e.server_ts_ms);
      QCOMPARE(a.entry->content_hint, e.content_hint);
      QVERIFY(a.entry->ciphertext == e.ciphertext);
      QVERIFY(a.entry->group_id.empty());
      Recorded bare;
      QVERIFY(notices::dispatch(n.older, bare, key, kNow) == notices::Dispatched::Handed);
      QCOMPARE(bare.appends.size(), std::size_t{1});
      QCOMPARE(bare.appends[0].seq, std::uint64_t{9});
      QVERIFY(!bare.appends[0].entry);
    }
  }

  // Only what the store keeps once per recipient and is small goes along: a group entry,
  // a large ciphertext, or an entry that is not the one announced is read from the store.
  void otherEntriesAreAnnouncedOnly() {
    const auto key = randomKey();
    auto big = message(5, notices::kCarriedCiphertextMax + 1);
    auto group = message(5, 100);
    group.kind = store::EntryKind::GroupMessage;
    group.group_id = std::string(16, 'g');
    auto event = message(5, 100);
    event.kind = store::EntryKind::GroupEvent;
    const auto other = message(4, 100);
    const std::vector<const store::InboxEntry*> entries{&big, &group, &event, &other, nullptr};
    for (const auto* e : entries) {
      const auto n = notices::appended("bob", 1, 5, e, key);
      QCOMPARE(n.full, std::string("A bob 1 5"));
      QVERIFY(n.older.empty());
    }
  }

  // Made with another key, or changed on the way in any field: the entry is refused, and at
  // most an announcement handed on. Redis can drop or repeat a carried entry, not make or
  // alter one.
  void aForgedOrAlteredEntryIsRefused() {
    const auto key = randomKey();
    const auto e = message(7, 64);
    const auto n = notices::appended("bob", 1, 7, &e, key);
    Recorded got;
    QVERIFY(notices::dispatch(n.full, got, randomKey(), kNow) == notices::Dispatched::EntryRefused);
    QCOMPARE(got.appends.size(), std::size_t{1});
    QCOMPARE(got.appends[0].seq, std::uint64_t{7});  // announced: Bob's gateway reads it
    const auto f = split(n.full);
    QCOMPARE(f.size(), std::size_t{13});
    for (std::size_t i = 1; i < f.size(); ++i) {
      auto changed = f;
      auto& x = changed[i];
      // Another value of the same form: a digit, a letter or a base64 character changed.
      x[0] = x[0] == '1' ? '2' : x[0] == 'b' ? 'c' : x[0] == 'A' ? 'B' : x[0] == '0' ? '1' : 'A';
      QVERIFY2(notices::dispatch(join(changed), got, key, kNow) != notices::Dispatched::Handed,
               ("field " + std::to_string(i)).c_str());
    }
    auto without_mac = f;
    without_mac.pop_back();
    QVERIFY(notices::dispatch(join(without_mac), got, key, kNow) == notices::Dispatched::Malformed);
    QVERIFY(!got.any_entry());
    QVERIFY(notices::dispatch(n.full, got, key, kNow) == notices::Dispatched::Handed);
    QVERIFY(got.any_entry());  // the original still reads
  }

  // A carried entry stamped more than five minutes from the receiving gateway's clock, either
  // way, is read from the store instead: a notice replayed from before a restore of the store
  // cannot stand in for the entry now at its seq.
  void aStaleEntryIsReadInstead() {
    const auto key = randomKey();
    const auto e = message(7, 64);
    const auto n = notices::appended("bob", 1, 7, &e, key);
    const auto window = notices::kCarriedFreshnessMs;
    for (const auto now : {kSent - window, kSent + window}) {
      Recorded got;
      QVERIFY(notices::dispatch(n.full, got, key, now) == notices::Dispatched::Handed);
      QVERIFY(got.any_entry());
    }
    for (const auto now : {kSent - window - 1, kSent + window + 1}) {
      Recorded got;
      QVERIFY(notices::dispatch(n.full, got, key, now) == notices::Dispatched::EntryRefused);
      QCOMPARE(got.appends.size(), std::size_t{1});
      QVERIFY(!got.any_entry());
    }
  }

  // Well-formed is checked before anything is handed on, MAC or not: each of these, signed
  // with the right key, is refused (a bad announcement whole; a bad entry with its
  // announcement kept).
  void aMalformedCarriedEntryIsRefused() {
    const auto key = randomKey();
    const auto e = message(7, 64);
    const auto f = split(notices::appended("bob", 1, 7, &e, key).full);
    // Fields 4..11: sender, sender_device, sender_pk, client_msg_id, conv_seq, server_ts,
    // content_hint, ciphertext. Then the MAC is made again over the changed text.
    const std::vector<std::pair<std::size_t, std::string>> bad{
        {3, "0"},                            // seq 0: no inbox starts there
        {4, "Alice"},                        // not a folded name
        {5, "-1"},
        {5, "2147483648"},                   // past the largest device id
        {6, "0"},                            // no device row has key 0
        {7, "-"},                            // a message always has an id
        {7, "0001"},                         // an id of the wrong length
        {7, "zz000102030405060708090a0b0c0dfe"},
        {8, "x"},
        {9, "1.5"},
        {10, "4294967296"},                  // past a 32-bit hint
        {11, ""},                            // no ciphertext
        {11, "AA=="},                        // padding: not this encoding
        {11, "AB"},                          // stray bits after the last byte
        {11, std::string(2736, 'A')},        // longer than a carried ciphertext can be
    };
    for (const auto& [i, value] : bad) {
      auto changed = f;
      changed[i] = value;
      changed.pop_back();
      auto text = join(changed);
      // Signed as a gateway holding the key would.
      unsigned char mac[crypto_auth_BYTES];
      crypto_auth(mac, reinterpret_cast<const unsigned char*>(text.data()), text.size(),
                  key.bytes.data());
      char b64[sodium_base64_ENCODED_LEN(crypto_auth_BYTES, sodium_base64_VARIANT_ORIGINAL_NO_PADDING)];
      sodium_bin2base64(b64, sizeof b64, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
      text += std::string(" ") + b64;
      Recorded got;
      const auto what = "field " + std::to_string(i) + " = " + value.substr(0, 20);
      QVERIFY2(notices::dispatch(text, got, key, kNow) ==
                   (i == 3 ? notices::Dispatched::Malformed : notices::Dispatched::EntryRefused),
               what.c_str());
      QVERIFY2(!got.any_entry(), what.c_str());
    }
    Recorded got;
    QVERIFY(notices::dispatch(std::string(notices::kMaxBytes + 1, 'A'), got, key, kNow) ==
            notices::Dispatched::Malformed);
    QVERIFY(notices::dispatch("A bob 1 7 alice", got, key, kNow) ==
            notices::Dispatched::Malformed);  // neither form's length
    QCOMPARE(got.total(), std::size_t{0});
  }

  // A mark that names the version it follows has the older form without it, which a gateway
  // reading version 1 takes (and then reads the owner's marks itself). One that names none
  // has one form.
  void aMarkFollowingAnotherHasAnOlderForm() {
    const auto key = randomKey();
    store::DeliveryMarkRecord m{"bob", 2, "", 5, 9, 1'764'000'000'000, 12};
    const auto with = notices::mark_raised("alice", 1, m, 11);
    QCOMPARE(with.full, std::string("M alice 1 bob 2 - 5 9 1764000000000 12 11"));
    QCOMPARE(with.older, std::string("M alice 1 bob 2 - 5 9 1764000000000 12"));
    const auto without = notices::mark_raised("alice", 1, m, std::nullopt);
    QCOMPARE(without.full, with.older);
    QVERIFY(without.older.empty());
    Recorded got;
    QVERIFY(notices::dispatch(with.full, got, key, kNow) == notices::Dispatched::Handed);
    QVERIFY(notices::dispatch(with.older, got, key, kNow) == notices::Dispatched::Handed);
    QCOMPARE(got.marks.size(), std::size_t{2});
    QCOMPARE(got.marks[0].second, std::optional<std::uint64_t>(11));
    QCOMPARE(got.marks[1].second, std::optional<std::uint64_t>());
    QCOMPARE(got.marks[0].first.up_to, std::uint64_t{9});
    QVERIFY(notices::dispatch("M alice 1 bob 2 - 5 9 1764000000000 12 12", got, key, kNow) ==
            notices::Dispatched::Malformed);  // follows itself
  }
};

QTEST_APPLESS_MAIN(RoutingNoticesTest)
#include "routing_notices_test.moc"
