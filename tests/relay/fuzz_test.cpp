// Input no client would send, to a real relay: WebSocket frames (valid requests of every kind
// mutated on the protobuf wire format, tests/support/proto_mutator.hpp) from a logged-in and a
// logged-out connection, and HTTP requests to the media routes (tests/support/http_mutator.hpp).
// Every request that parses gets its answer, a frame that does not gets an error, and the
// relay goes on serving: nothing it holds for others is lost. Deterministic for a seed;
// PARLEY_FUZZ_SEED, PARLEY_FUZZ_FRAMES and PARLEY_FUZZ_REQUESTS run other and longer
// sequences.
#include <QtTest>

#include <map>

#include <google/protobuf/stubs/logging.h>

#include "fuzz_settings.hpp"
#include "group_helpers.hpp"
#include "http_mutator.hpp"
#include "media_requests.hpp"
#include "parley/limits.hpp"
#include "proto_mutator.hpp"
#include "relay_process.hpp"
#include "test_client.hpp"

using namespace parley;
using namespace parley::test;

namespace {

constexpr int kDefaultFrames = 5000;
constexpr int kDefaultRequests = 600;
constexpr int kBatch = 20;
// The batches' pings, numbered where no seed's id is and a mutated id is unlikely to land.
constexpr std::uint64_t kPingIds = 0x5eed'0000'0000;
constexpr int kCloseAuthTimeout = 4003;  // a logged-out connection's time ran out

// The request-body field numbers of ClientFrame's oneof (common/proto/parley.proto).
const std::vector<std::uint32_t> kBodyTags{10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
                                           21, 22, 23, 24, 25, 26, 30, 31, 32};

// A request that expects an answer carries a request id and is neither Ack nor Typing
// (answered only when refused). A frame that does not parse is answered too, with a
// BAD_REQUEST under request id 0, as a push.
bool expectsAnswer(const wire::ClientFrame& f) {
  return f.request_id() != 0 && !f.has_ack() && !f.has_typing();
}

// A request's head for a failure message: line ends shown as | and other bytes outside
// printable ASCII as \xNN.
QString printable(const QByteArray& head) {
  QString out;
  for (const char c : head) {
    if (c == '\r') continue;
    if (c == '\n') out += '|';
    else if (c >= 0x20 && c < 0x7f) out += QChar(c);
    else out += QString("\\x%1").arg(static_cast<unsigned char>(c), 2, 16, QChar('0'));
  }
  return out;
}

}  // namespace

class RelayFuzzTest : public QObject {
  Q_OBJECT
  // Limits lifted: a refusal for rate would answer every frame the same way.
  // The logged-out connection is given the longest time the relay allows (a slow run under
  // the sanitizers takes minutes), and opened again should it still run out.
  RelayProcess relay_{{"--rate", "1000000", "--rate-burst", "1000000", "--group-rate", "100000",
                       "--group-rate-burst", "100000", "--auth-timeout", "600"}};
  std::unique_ptr<TestClient> alice_, bob_;
  std::vector<wire::ClientFrame> seeds_;

  // Every request kind, valid as far as a test can make it: signed group changes against a
  // real group, a media id the relay granted, a message to a device that exists.
  void makeSeeds() {
    wire::ClientFrame f;
    f.mutable_get_challenge();
    seeds_.push_back(f);

    f.Clear();
    auto* reg = f.mutable_register_();
    reg->set_username("fz-newcomer");
    reg->set_identity_key(std::string(32, 'k'));
    reg->set_device_id(1);
    reg->set_challenge_nonce(std::string(32, 'n'));
    reg->set_signature(std::string(64, 's'));
    seeds_.push_back(f);

    f.Clear();
    auto* login = f.mutable_login();
    login->set_username("fz-alice");
    login->set_device_id(1);
    login->set_challenge_nonce(std::string(32, 'n'));
    login->set_signature(std::string(64, 's'));
    login->set_last_acked_inbox_seq(1);
    login->set_last_mark_version(1);
    seeds_.push_back(f);

    seeds_.push_back(alice_->prekeyUploadFrame(std::string(32, 'p'), 3));

    f.Clear();
    f.mutable_fetch_prekey_bundle()->set_username("fz-bob");
    seeds_.push_back(f);

    seeds_.push_back(TestClient::sendFrame("fz-bob", "ciphertext"));

    f.Clear();
    f.mutable_ack()->set_up_to_inbox_seq(1);
    seeds_.push_back(f);

    f.Clear();
    f.mutable_typing()->set_recipient("fz-bob");
    f.mutable_typing()->set_active(true);
    seeds_.push_back(f);

    f.Clear();
    f.mutable_subscribe_presence()->add_usernames("fz-bob");
    f.mutable_subscribe_presence()->add_usernames("fz-carol");
    seeds_.push_back(f);

    f.Clear();
    f.mutable_ping();
    seeds_.push_back(f);

    auto created = alice_->request(createGroupFrame(*alice_, {"fz-bob", "fz-carol"}));
    QVERIFY(created && created->has_group_created());
    const auto gid = created->group_created().group_id();
    seeds_.push_back(createGroupFrame(*alice_, {"fz-bob"}));
    seeds_.push_back(addMembersFrame(*alice_, gid, {"fz-dave"}));
    seeds_.push_back(removeMembersFrame(*alice_, gid, {"fz-carol"}));
    seeds_.push_back(setAdminFrame(*alice_, gid, "fz-bob", true));
    seeds_.push_back(leaveFrame(*alice_, gid));
    seeds_.push_back(getGroupFrame(gid));
    seeds_.push_back(groupSendFrame(gid, "group ciphertext"));

    f.Clear();
    f.mutable_create_upload()->set_size(1000);
    auto granted = alice_->request(f);
    QVERIFY(granted && granted->has_upload_granted());
    seeds_.push_back(f);
    f.Clear();
    f.mutable_resume_upload()->set_media_id(granted->upload_granted().media_id());
    seeds_.push_back(f);
    f.Clear();
    f.mutable_get_download_token();
    seeds_.push_back(f);

    // Apart from the ids the test's own requests take (1, 2, ...) and the pings' (kPingIds).
    for (auto& s : seeds_) s.set_request_id(1000 + static_cast<std::uint64_t>(&s - seeds_.data()));
  }

  // A fresh connection for `c`, logged in when `login`.
  bool reopen(TestClient& c, bool login) {
    c.disconnect();
    if (!c.connect(relay_.url())) return false;
    if (!login) return true;
    auto r = c.login();
    return r && r->has_logged_in();
  }

 private slots:
  void initTestCase() {
    // The test parses each mutant as the relay will; protobuf's log of the invalid UTF-8 it
    // refuses would bury the test's own output.
    google::protobuf::SetLogHandler(nullptr);
    QVERIFY(relay_.start());
    alice_ = TestClient::registered(relay_.url(), "fz-alice");
    bob_ = TestClient::registered(relay_.url(), "fz-bob");
    QVERIFY(alice_ && bob_);
    QVERIFY(TestClient::registered(relay_.url(), "fz-carol"));
    QVERIFY(TestClient::registered(relay_.url(), "fz-dave"));
    makeSeeds();
  }

  void mutatedFramesAreAnsweredAndHarmNoOne() {
    // A message bob holds before the run, and must still get after it.
    const std::string kept_id = TestClient::randomId();
    auto sent = alice_->send("fz-bob", "kept through the run", kept_id);
    QVERIFY(sent && sent->has_send_ack());

    const auto seed = fuzzSeed();
    const auto frames = static_cast<int>(fuzzSetting("PARLEY_FUZZ_FRAMES", kDefaultFrames));
    qInfo("seed %llu, %d frames", static_cast<unsigned long long>(seed), frames);
    ProtoMutator mutator(seed);
    TestClient anon("fz-anon");
    QVERIFY(anon.connect(relay_.url()));
    int closes = 0;
    int answered = 0, refused = 0, accepted = 0;
    std::map<std::string, int> by_code;  // what the answers were: how deep the mutants reached

    for (int start = 0; start < frames; start += kBatch) {
      const bool logged_in = mutator.rng()() % 5 != 0;
      TestClient& c = logged_in ? *alice_ : anon;
      std::vector<std::uint64_t> expected;
      std::vector<std::string> sent_frames;
      int unparsed = 0;
      bool oversized = false;
      for (int i = start; i < std::min(frames, start + kBatch); ++i) {
        const auto& base = seeds_[mutator.rng()() % seeds_.size()];
        auto bytes = mutator.mutate(base.SerializeAsString(), kBodyTags);
        // Over --max-frame-bytes (the default) the relay closes with 1009, not an error.
        oversized |= bytes.size() > limits::kMaxFrameBytes;
        if (!oversized) {
          if (wire::ClientFrame parsed; !parsed.ParseFromString(bytes)) ++unparsed;
          else if (expectsAnswer(parsed)) expected.push_back(parsed.request_id());
        }
        c.sendRaw(QByteArray::fromStdString(bytes));
        sent_frames.push_back(std::move(bytes));
        if (oversized) break;  // the connection ends there
      }
      const auto where = QString("seed %1, frames %2-%3 on the %4 connection")
                             .arg(seed).arg(start).arg(start + kBatch - 1)
                             .arg(logged_in ? "logged-in" : "logged-out");
      wire::ClientFrame ping;
      ping.mutable_ping();
      ping.set_request_id(kPingIds + static_cast<std::uint64_t>(start));
      auto pong = c.waitResponse(c.post(ping), 20000);
      if (!c.connected()) {
        // Only a frame over the limit may cost the connection. Its close code (1009) is not
        // checked here: the relay closes with the rest of that frame unread, so its kernel may
        // reset the connection before the client reads the close (bad_input_test checks it).
        const int code = c.waitClosed(1000);
        QVERIFY2(relay_.running(), qPrintable(where + ": the relay is gone"));
        QVERIFY2(oversized || (!logged_in && code == kCloseAuthTimeout),
                 qPrintable(QString("%1: closed with %2").arg(where).arg(code)));
        ++closes;
        QVERIFY2(reopen(c, logged_in), qPrintable(where + ": could not reconnect"));
        continue;
      }
      QVERIFY2(pong && pong->has_pong(), qPrintable(where + ": no pong"));
      for (auto id : expected) {
        auto r = c.waitResponse(id, 20000);
        QVERIFY2(r, qPrintable(QString("%1: no answer to request %2 (frames as hex: %3)")
                                   .arg(where).arg(id)
                                   .arg([&] {
                                     QStringList hex;
                                     for (const auto& s : sent_frames)
                                       hex << QByteArray::fromStdString(s.substr(0, 200)).toHex();
                                     return hex.join(' ');
                                   }())));
        ++answered;
        ++(r->has_error() ? by_code[wire::ErrorCode_Name(r->error().code())] : accepted);
      }
      for (int i = 0; i < unparsed; ++i) {
        QVERIFY2(c.waitPush([](const wire::ServerFrame& f) {
          return f.has_error() && f.error().code() == wire::BAD_REQUEST &&
                 f.error().reason() == "frame is not a valid parley.v1 ClientFrame";
        }, 20000), qPrintable(QString("%1: %2 frames did not parse, %3 BAD_REQUESTs came")
                                  .arg(where).arg(unparsed).arg(i)));
        ++refused;
      }
      QVERIFY2(relay_.running(), qPrintable(where + ": the relay is gone"));
    }
    qInfo("%d answers received, %d frames refused as unparseable, %d connections closed over "
          "an oversized frame", answered, refused, closes);
    QStringList codes;
    for (const auto& [code, n] : by_code) codes << QString("%1 %2").arg(QString::fromStdString(code)).arg(n);
    qInfo("answers: %d accepted; errors: %s", accepted, qPrintable(codes.join(", ")));

    // Everyone else still served: bob, logging in again, still gets the message kept for him,
    // and a new one goes through.
    QVERIFY(reopen(*bob_, true));
    QVERIFY(bob_->waitPush([&](const wire::ServerFrame& f) {
      return f.has_deliver() && f.deliver().client_msg_id() == kept_id;
    }, 20000));
    QVERIFY(reopen(*alice_, true));
    const std::string after_id = TestClient::randomId();
    auto after = alice_->send("fz-bob", "after the run", after_id);
    QVERIFY(after && after->has_send_ack());
    QVERIFY(bob_->waitPush([&](const wire::ServerFrame& f) {
      return f.has_deliver() && f.deliver().client_msg_id() == after_id;
    }, 20000));
  }

  void mutatedHttpRequestsAreAnsweredAndHarmNoOne() {
    // An upload finished before the run, which must still download whole after it; one left
    // unfinished, for the mutants to write to. By a user of its own: the frames' mutants
    // leave alice at her limit of unfinished uploads.
    auto erin = TestClient::registered(relay_.url(), "fz-erin");
    QVERIFY(erin);
    const QByteArray kept(1000, 'k');
    auto done = createUpload(*erin, kept.size());
    QVERIFY(done && done->has_upload_granted());
    QCOMPARE(patch(relay_.url(), done->upload_granted(), 0, kept).status, 201);  // complete
    auto open = createUpload(*erin, 1000);
    QVERIFY(open && open->has_upload_granted());
    const auto token = downloadToken(*erin);
    QVERIFY(!token.empty());

    const auto& g = open->upload_granted();
    const auto kept_id = done->upload_granted().media_id();
    const std::vector<HttpRequest> seeds{
        patchRequest(g, 0, QByteArray(100, 'p')),
        {"HEAD", "/media/upload/" + hexId(g.media_id()), {{"Authorization", bearer(g.token())}}, {}},
        {"GET", "/media/" + hexId(kept_id), {{"Authorization", bearer(token)}, {"Range", "bytes=0-99"}}, {}},
        {"GET", "/media/" + hexId(kept_id), {{"Authorization", bearer(token)}, {"If-None-Match", "\"x\""}}, {}},
        {"GET", "/healthz", {}, {}},
        {"GET", "/metrics", {}, {}},
    };
    const auto seed = fuzzSeed();
    const auto requests = static_cast<int>(fuzzSetting("PARLEY_FUZZ_REQUESTS", kDefaultRequests));
    HttpMutator mutator(seed);
    std::map<int, int> by_status;
    for (int i = 0; i < requests; ++i) {
      const auto req = mutator.mutate(seeds[mutator.rng()() % seeds.size()]);
      const auto r = httpRequest(relay_.url(), req, 20000);
      QVERIFY2(r.status >= 100 && r.status < 600,
               qPrintable(QString("seed %1, request %2: no answer to ").arg(seed).arg(i) +
                          printable(requestHead(req).left(600)) +
                          QString(" with a body of %1 bytes").arg(req.body.size())));
      ++by_status[r.status];
    }
    QStringList statuses;
    for (const auto& [status, n] : by_status) statuses << QString("%1 %2").arg(status).arg(n);
    qInfo("%d requests answered: %s", requests, qPrintable(statuses.join(", ")));

    QVERIFY(relay_.running());
    const auto whole = get(relay_.url(), token, kept_id);
    QCOMPARE(whole.status, 200);
    QCOMPARE(whole.body, kept);
  }
};

QTEST_GUILESS_MAIN(RelayFuzzTest)
#include "fuzz_test.moc"
