// The relay's media endpoints through a real relay: tokens over the WebSocket, ciphertext over
// HTTP on the same port, resumable uploads, ranges, limits and who may write what.
#include <QCryptographicHash>
#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QNetworkProxy>
#include <QRandomGenerator>
#include <QTcpSocket>
#include <QtTest>

#include <atomic>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#include "media_requests.hpp"
#include "raw_http.hpp"
#include "relay_process.hpp"
#include "test_client.hpp"

using namespace parley;
using namespace parley::test;

namespace {

QByteArray randomBytes(qsizetype n) {
  QByteArray b(n, Qt::Uninitialized);
  QRandomGenerator::global()->fillRange(reinterpret_cast<quint32*>(b.data()), n / 4);
  return b;
}

// A plain socket to the relay at `url` (-1 on failure), for tests that pace their own reads
// and writes or see the relay's half-close, which QTcpSocket would take for the end.
// `receive_buffer` > 0 shrinks the socket's receive buffer.
int connectRaw(const QUrl& url, int receive_buffer = 0) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  if (receive_buffer > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<quint16>(url.port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

QByteArray sha256Hex(const QByteArray& b) {
  return QCryptographicHash::hash(b, QCryptographicHash::Sha256).toHex();
}

// A relay with one user, alice, and a 1 MiB upload of hers with its first 300,000 bytes
// staged; then restarts (with other options, or none) and asks for the upload again.
struct HalfUpload {
  RelayProcess relay;
  std::unique_ptr<TestClient> alice;
  QByteArray data = randomBytes(1 << 20);
  wire::UploadGranted granted;

  bool start() {
    if (!relay.start() || !(alice = TestClient::registered(relay.url(), "alice"))) return false;
    auto g = createUpload(*alice, static_cast<std::uint64_t>(data.size()));
    if (!g || !g->has_upload_granted()) return false;
    granted = g->upload_granted();
    return patch(relay.url(), granted, 0, data.left(300000)).status == 204;
  }
  bool restart(QStringList args = {}) {
    if (relay.terminate() != 0) return false;
    relay.setExtraArgs(std::move(args));
    if (!relay.start()) return false;
    alice = std::make_unique<TestClient>("alice", 1, alice->identity());
    if (!alice->connect(relay.url())) return false;
    const auto in = alice->login();
    return in && in->has_logged_in();
  }
  std::optional<wire::ServerFrame> resume() {
    wire::ClientFrame f;
    f.mutable_resume_upload()->set_media_id(granted.media_id());
    return alice->request(f);
  }
};

}  // namespace

class MediaTest : public QObject {
  Q_OBJECT

 private slots:
  void uploadInPiecesThenDownloadWithRanges() {
    RelayProcess relay;
    QVERIFY(relay.start());
    auto alice = TestClient::registered(relay.url(), "alice");
    auto bob = TestClient::registered(relay.url(), "bob");
    QVERIFY(alice && bob);
    const auto data = randomBytes(3 * 1000 * 1000 + 7);
    auto granted = createUpload(*alice, data.size());
    QVERIFY(granted && granted->has_upload_granted());
    const auto g = granted->upload_granted();
    QCOMPARE(g.media_id().size(), 16u);

    auto h = head(relay.url(), g);
    QCOMPARE(h.status, 200);
    QCOMPARE(h.header("Upload-Offset"), QByteArray("0"));
    QCOMPARE(h.header("Upload-Length"), QByteArray::number(data.size()));

    const qsizetype first = 1000 * 1000;
    auto r = patch(relay.url(), g, 0, data.left(first));
    QCOMPARE(r.status, 204);
    QCOMPARE(r.header("Upload-Offset"), QByteArray::number(first));
    // The wrong offset is refused and told the right one.
    r = patch(relay.url(), g, 5, data.mid(5));
    QCOMPARE(r.status, 409);
    QCOMPARE(r.header("Upload-Offset"), QByteArray::number(first));
    QVERIFY(r.body.contains("offset_mismatch"));
    r = patch(relay.url(), g, first, data.mid(first));
    QCOMPARE(r.status, 201);
    QCOMPARE(r.header("ETag"), "\"" + sha256Hex(data) + "\"");
    // Finished: no more writes, and a HEAD says so (its ETag names the blob).
    r = patch(relay.url(), g, data.size(), "x");
    QCOMPARE(r.status, 409);
    h = head(relay.url(), g);
    QCOMPARE(h.status, 200);
    QCOMPARE(h.header("Upload-Offset"), QByteArray::number(data.size()));
    QCOMPARE(h.header("ETag"), "\"" + sha256Hex(data) + "\"");

    // Content-addressed on disk: <data>/media/blobs/<aa>/<sha256>.
    const auto hex = sha256Hex(data);
    QFile blob(relay.dataDir() + "/media/blobs/" + hex.left(2) + "/" + hex);
    QVERIFY(blob.exists());
    QCOMPARE(blob.size(), data.size());

    // Any logged-in user with the media id may download; caches may keep it.
    const auto token = downloadToken(*bob);
    QVERIFY(!token.empty());
    auto d = get(relay.url(), token, g.media_id());
    QCOMPARE(d.status, 200);
    QCOMPARE(d.body, data);
    QVERIFY(d.header("Cache-Control").contains("immutable"));
    QCOMPARE(d.header("ETag"), "\"" + hex + "\"");
    d = get(relay.url(), token, g.media_id(), "bytes=1000-");
    QCOMPARE(d.status, 206);
    QCOMPARE(d.body, data.mid(1000));
    QCOMPARE(d.header("Content-Range"),
             "bytes 1000-" + QByteArray::number(data.size() - 1) + "/" + QByteArray::number(data.size()));
    d = get(relay.url(), token, g.media_id(), "bytes=-10");
    QCOMPARE(d.body, data.right(10));
    d = get(relay.url(), token, g.media_id(), "bytes=" + QByteArray::number(data.size()) + "-");
    QCOMPARE(d.status, 416);
    QCOMPARE(d.header("Content-Range"), "bytes */" + QByteArray::number(data.size()));
    // The same as a HEAD: no body, or a kept-alive connection would read it as the next answer.
    d = httpRequest(relay.url(), {"HEAD", "/media/" + hexId(g.media_id()),
                                  {{"Authorization", bearer(token)},
                                   {"Range", "bytes=" + QByteArray::number(data.size()) + "-"}},
                                  {}});
    QCOMPARE(d.status, 416);
    QCOMPARE(d.header("Content-Range"), "bytes */" + QByteArray::number(data.size()));
    QVERIFY2(d.body.isEmpty(), d.body.constData());
    // No token, a garbage token, an upload token: refused.
    QCOMPARE(get(relay.url(), {}, g.media_id()).status, 401);
    QCOMPARE(get(relay.url(), "AAAA", g.media_id()).status, 401);
    QCOMPARE(get(relay.url(), g.token(), g.media_id()).status, 403);
    // Unknown id.
    QCOMPARE(get(relay.url(), token, std::string(16, 'x')).status, 404);
  }

  void cutUploadResumesFromWhatTheRelayHas() {
    RelayProcess relay;
    QVERIFY(relay.start());
    auto alice = TestClient::registered(relay.url(), "alice");
    QVERIFY(alice);
    const auto data = randomBytes(4 << 20);
    auto granted = createUpload(*alice, data.size());
    QVERIFY(granted && granted->has_upload_granted());
    const auto g = granted->upload_granted();
    const qsizetype cut = 2500 * 1000;
    patch(relay.url(), g, 0, data, cut);
    // The relay keeps every byte it received (asked until the cut request has been handled).
    HttpResponse h;
    QVERIFY2(spinUntil([&] {
      h = head(relay.url(), g);
      return h.header("Upload-Offset") == QByteArray::number(cut);
    }, 5000), qPrintable(QString("last HEAD: status %1, Upload-Offset %2, %3")
                             .arg(h.status).arg(QString(h.header("Upload-Offset")))
                             .arg(QString(h.body))));
    QCOMPARE(h.status, 200);
    // A new token (as after a relay restart) for the same upload, then the rest only.
    wire::ClientFrame f;
    f.mutable_resume_upload()->set_media_id(g.media_id());
    auto again = alice->request(f);
    QVERIFY(again && again->has_upload_granted());
    auto r = patch(relay.url(), again->upload_granted(), cut, data.mid(cut));
    QCOMPARE(r.status, 201);
    QCOMPARE(r.header("ETag"), "\"" + sha256Hex(data) + "\"");
    auto d = get(relay.url(), downloadToken(*alice), g.media_id());
    QCOMPARE(d.body, data);
  }

  // A HEAD only looks: while a PATCH writes it answers busy, and it never makes a PATCH busy.
  void headNeverHoldsTheUpload() {
    RelayProcess relay;
    QVERIFY(relay.start());
    auto alice = TestClient::registered(relay.url(), "alice");
    QVERIFY(alice);
    const qsizetype piece = 64 * 1024, pieces = 24;
    const auto data = randomBytes(piece * pieces);
    auto granted = createUpload(*alice, data.size());
    QVERIFY(granted && granted->has_upload_granted());
    const auto g = granted->upload_granted();

    // A PATCH with half its body sent holds the upload: a HEAD meanwhile is told so.
    QTcpSocket writer;
    writer.setProxy(QNetworkProxy::NoProxy);
    writer.connectToHost("127.0.0.1", static_cast<quint16>(relay.url().port()));
    QVERIFY(writer.waitForConnected(5000));
    writer.write(requestHead(patchRequest(g, 0, data.left(piece))) + data.left(piece / 2));
    QVERIFY(writer.waitForBytesWritten(5000));
    HttpResponse h;
    QVERIFY(spinUntil([&] { return (h = head(relay.url(), g)).status == 409; }, 5000));
    QVERIFY(h.body.isEmpty());  // HEAD: the code is in the status, the body stays empty
    writer.write(data.mid(piece / 2, piece / 2));
    QByteArray answer;
    while (!answer.contains("\r\n\r\n") && writer.waitForReadyRead(5000)) answer += writer.readAll();
    QVERIFY2(answer.startsWith("HTTP/1.1 204"), answer.constData());

    // Many HEADs beside the PATCHes of the rest: every PATCH is taken, every HEAD answers
    // 200 with a piece boundary or 409.
    std::atomic<bool> stop{false};
    std::atomic<int> looks{0}, odd{0};
    std::thread looker([&] {
      while (!stop.load()) {
        const auto r = head(relay.url(), g);
        const bool boundary = r.header("Upload-Offset").toLongLong() % piece == 0;
        if (!((r.status == 200 && boundary) || r.status == 409)) ++odd;
        ++looks;
      }
    });
    int refused = 0;
    for (qsizetype i = 1; i < pieces; ++i) {
      const auto r = patch(relay.url(), g, i * piece, data.mid(i * piece, piece));
      if (r.status != (i + 1 == pieces ? 201 : 204)) ++refused;
    }
    stop = true;
    looker.join();
    QCOMPARE(refused, 0);
    QCOMPARE(odd.load(), 0);
    QVERIFY(looks.load() > 0);
    QCOMPARE(get(relay.url(), downloadToken(*alice), g.media_id()).body, data);
  }

  void resumedAfterRelayRestartHashesTheStagedBytes() {
    HalfUpload up;
    QVERIFY(up.start());
    const auto old_grant = up.granted;
    QVERIFY(up.restart());
    // The old token died with the relay.
    QCOMPARE(head(up.relay.url(), old_grant).status, 401);
    auto again = up.resume();
    QVERIFY(again && again->has_upload_granted());
    auto h = head(up.relay.url(), again->upload_granted());
    QCOMPARE(h.header("Upload-Offset"), QByteArray("300000"));
    auto r = patch(up.relay.url(), again->upload_granted(), 300000, up.data.mid(300000));
    QCOMPARE(r.status, 201);
    QCOMPARE(r.header("ETag"), "\"" + sha256Hex(up.data) + "\"");
  }

  // A relay whose disk is nearly full grants no new upload and takes no more bytes of one
  // under way, both with an answer the client waits on; nothing staged is lost, and the
  // upload finishes once there is room. (The reserve is raised past the disk instead.)
  void aNearlyFullDiskRefusesUploadsAndKeepsWhatItHas() {
    HalfUpload up;
    QVERIFY(up.start());
    QVERIFY(up.restart({"--media-min-free-mib", QString::number(1ull << 30)}));
    auto r = createUpload(*up.alice, 10);
    QVERIFY(r && r->has_error());
    QCOMPARE(r->error().code(), wire::UNAVAILABLE);
    QCOMPARE(r->error().retry_after_ms(), 60000u);
    QVERIFY(QByteArray::fromStdString(r->error().reason()).contains("disk is nearly full"));
    auto again = up.resume();
    QVERIFY(again && again->has_upload_granted());
    auto refused = patch(up.relay.url(), again->upload_granted(), 300000, up.data.mid(300000));
    QCOMPARE(refused.status, 507);
    QCOMPARE(refused.header("Upload-Offset"), QByteArray("300000"));
    QVERIFY(refused.body.contains("storage_full"));

    QVERIFY(up.restart());
    again = up.resume();
    QVERIFY(again && again->has_upload_granted());
    QCOMPARE(head(up.relay.url(), again->upload_granted()).header("Upload-Offset"), QByteArray("300000"));
    auto done = patch(up.relay.url(), again->upload_granted(), 300000, up.data.mid(300000));
    QCOMPARE(done.status, 201);
    QCOMPARE(done.header("ETag"), "\"" + sha256Hex(up.data) + "\"");
  }

  // A blob no record names (its record never written: a crash between the rename and the
  // record, a retry that never came) is removed by the orphan sweep, which runs at start and
  // hourly; a named blob stays, and so does a young one (it may be an upload finishing now).
  void orphanBlobsAreSweptNamedOnesStay() {
    RelayProcess relay;
    QVERIFY(relay.start());
    auto alice = TestClient::registered(relay.url(), "orphan-alice");
    QVERIFY(alice);
    const auto data = randomBytes(100000);
    auto granted = createUpload(*alice, data.size());
    QVERIFY(granted && granted->has_upload_granted());
    QCOMPARE(patch(relay.url(), granted->upload_granted(), 0, data).status, 201);
    alice.reset();  // or the relay's drain waits for her
    QCOMPARE(relay.terminate(), 0);

    const QString blobs = relay.dataDir() + "/media/blobs/";
    auto blobFile = [&](const QByteArray& hex) { return blobs + hex.left(2) + "/" + hex; };
    auto plant = [&](const QByteArray& hex, bool old) {
      QDir().mkpath(blobs + hex.left(2));
      QFile f(blobFile(hex));
      if (!f.open(QIODevice::WriteOnly) || f.write("ciphertext nobody records") <= 0) return false;
      f.close();
      const timespec when{::time(nullptr) - (old ? 7200 : 0), 0};
      const timespec times[2] = {when, when};
      return ::utimensat(AT_FDCWD, QFile::encodeName(blobFile(hex)).constData(), times, 0) == 0;
    };
    const auto named = sha256Hex(data);
    QVERIFY(QFile::exists(blobFile(named)));
    const timespec long_ago{::time(nullptr) - 7200, 0};
    const timespec times[2] = {long_ago, long_ago};
    QCOMPARE(::utimensat(AT_FDCWD, QFile::encodeName(blobFile(named)).constData(), times, 0), 0);
    const auto orphan = sha256Hex("an orphan"), young = sha256Hex("a young orphan");
    QVERIFY(plant(orphan, true));
    QVERIFY(plant(young, false));

    QVERIFY(relay.start());
    QVERIFY2(spinUntil([&] { return !QFile::exists(blobFile(orphan)); }, 10000), "the orphan is still there");
    QVERIFY(QFile::exists(blobFile(named)));
    QVERIFY(QFile::exists(blobFile(young)));
  }

  void onlyTheUploaderWrites() {
    RelayProcess relay;
    QVERIFY(relay.start());
    auto alice = TestClient::registered(relay.url(), "alice");
    auto mallory = TestClient::registered(relay.url(), "mallory");
    QVERIFY(alice && mallory);
    auto a = createUpload(*alice, 1000);
    auto m = createUpload(*mallory, 1000);
    QVERIFY(a && a->has_upload_granted() && m && m->has_upload_granted());
    // Mallory's own token on Alice's upload.
    auto forged = m->upload_granted();
    forged.set_media_id(a->upload_granted().media_id());
    auto r = patch(relay.url(), forged, 0, randomBytes(1000));
    QCOMPARE(r.status, 403);
    // Asking the relay for a token to Alice's upload.
    wire::ClientFrame f;
    f.mutable_resume_upload()->set_media_id(a->upload_granted().media_id());
    auto refused = mallory->request(f);
    QVERIFY(refused && refused->has_error());
    QCOMPARE(refused->error().code(), wire::FORBIDDEN);
    // Without any token.
    r = httpRequest(relay.url(), {"PATCH", "/media/upload/" + hexId(a->upload_granted().media_id()),
                                  {{"Upload-Offset", "0"}}, randomBytes(1000)});
    QCOMPARE(r.status, 401);
    QCOMPARE(head(relay.url(), a->upload_granted()).header("Upload-Offset"), QByteArray("0"));
  }

  // A request refused before its body was read is answered, then what the client still sends
  // is read and discarded for at most 5 s in all: a client trickling a byte a second does not
  // keep the connection (and the relay's buffer for it) open.
  void lingeringAfterARefusalEndsOnTimeWhateverTheClientTrickles() {
    RelayProcess relay;
    QVERIFY(relay.start());
    const int fd = connectRaw(relay.url());  // the relay half-closes after its answer
    QVERIFY(fd >= 0);
    const QByteArray request = "PATCH /media/upload/" + QByteArray(32, 'a') +
                               " HTTP/1.1\r\nHost: relay\r\nUpload-Offset: 0\r\n"
                               "Content-Length: 1000000000\r\n\r\nxy";
    QCOMPARE(::send(fd, request.constData(), static_cast<size_t>(request.size()), MSG_NOSIGNAL),
             static_cast<ssize_t>(request.size()));
    QByteArray answer;
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) answer.append(buf, n);  // to its FIN
    QVERIFY2(answer.startsWith("HTTP/1.1 401"), answer.constData());
    QElapsedTimer since;
    since.start();
    bool closed = false;
    while (!closed && since.elapsed() < 12000) {
      closed = ::send(fd, "z", 1, MSG_NOSIGNAL) != 1;  // refused once the relay has closed
      if (!closed) QTest::qWait(500);
    }
    ::close(fd);
    QVERIFY2(closed, "still lingering after 12 s of a byte every half second");
    QVERIFY2(since.elapsed() < 9000, qPrintable(QString::number(since.elapsed())));
  }

  // A download is given time piece by piece: a slow reader gets the whole file however
  // long it takes, a reader that stops is cut off after --media-idle-seconds.
  void slowDownloadsFinishStalledOnesAreClosed() {
    RelayProcess relay({"--media-idle-seconds", "2"});
    QVERIFY(relay.start());
    auto alice = TestClient::registered(relay.url(), "slow-alice");
    QVERIFY(alice);
    const auto data = randomBytes(6 * 1024 * 1024);
    auto granted = createUpload(*alice, data.size());
    QVERIFY(granted && granted->has_upload_granted());
    const auto g = granted->upload_granted();
    QCOMPARE(patch(relay.url(), g, 0, data).status, 201);
    const auto token = downloadToken(*alice);
    // A small receive buffer, so the relay's writes wait on our reading.
    auto open = [&] {
      const int fd = connectRaw(relay.url(), 16 * 1024);
      if (fd < 0) return -1;
      const QByteArray request = "GET /media/" + hexId(g.media_id()) + " HTTP/1.1\r\nHost: relay\r\n"
                                 "Authorization: " + bearer(token) + "\r\nConnection: close\r\n\r\n";
      ::send(fd, request.constData(), static_cast<size_t>(request.size()), MSG_NOSIGNAL);
      return fd;
    };
    // Slow: a read every 20 ms of what the small window holds, about 4 s for the file, twice
    // the idle limit. (The relay's writes resume in lumps, when the kernel has freed half of
    // its send buffer, so the limit is per lump: a reader needs ~1 MB per idle period.)
    int fd = open();
    QVERIFY(fd >= 0);
    QElapsedTimer took;
    took.start();
    qint64 got = 0;
    char buf[64 * 1024];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) {
      got += n;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::close(fd);
    QVERIFY2(took.elapsed() > 2500, qPrintable(QString::number(took.elapsed())));
    QVERIFY2(got > data.size(), qPrintable(QString::number(got)));  // headers and the whole body
    // Stalled: reads the start, then nothing for 4 s; the relay has closed meanwhile.
    fd = open();
    QVERIFY(fd >= 0);
    got = ::recv(fd, buf, sizeof buf, 0);
    QVERIFY(got > 0);
    std::this_thread::sleep_for(std::chrono::seconds(4));
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) got += n;
    ::close(fd);
    QVERIFY2(got < data.size(), qPrintable(QString::number(got)));
  }

  // A download token serves any number of requests, but one user runs at most
  // --media-max-downloads at once and the relay at most --media-max-transfers; the rest get
  // 503 (the client retries), a HEAD is never counted, and a place comes back when its
  // transfer ends.
  void downloadsAtOnceAreBounded() {
    RelayProcess relay({"--media-max-downloads", "2", "--media-max-transfers", "3"});
    QVERIFY(relay.start());
    auto alice = TestClient::registered(relay.url(), "many-alice");
    auto bob = TestClient::registered(relay.url(), "many-bob");
    auto carol = TestClient::registered(relay.url(), "many-carol");
    QVERIFY(alice && bob && carol);
    const auto data = randomBytes(6 * 1024 * 1024);
    auto granted = createUpload(*alice, data.size());
    QVERIFY(granted && granted->has_upload_granted());
    const auto g = granted->upload_granted();
    QCOMPARE(patch(relay.url(), g, 0, data).status, 201);
    const auto path = "/media/" + hexId(g.media_id());
    // A download that reads its first bytes and then nothing: it holds its place.
    auto stalled = [&](const std::string& token) {
      const int fd = connectRaw(relay.url(), 16 * 1024);
      if (fd < 0) return -1;
      const QByteArray request = "GET " + path + " HTTP/1.1\r\nHost: relay\r\nAuthorization: " +
                                 bearer(token) + "\r\nConnection: close\r\n\r\n";
      ::send(fd, request.constData(), static_cast<size_t>(request.size()), MSG_NOSIGNAL);
      char buf[1024];
      if (::recv(fd, buf, sizeof buf, 0) <= 0) {
        ::close(fd);
        return -1;
      }
      return fd;
    };
    auto get_with = [&](const std::string& token) {
      return get(relay.url(), token, g.media_id());
    };
    const auto alice_token = downloadToken(*alice);
    const auto bob_token = downloadToken(*bob);
    const auto carol_token = downloadToken(*carol);
    const int a1 = stalled(alice_token);
    const int a2 = stalled(alice_token);
    QVERIFY(a1 >= 0 && a2 >= 0);
    auto refused = get_with(alice_token);
    QCOMPARE(refused.status, 503);
    QVERIFY(refused.body.contains("busy"));
    auto looked = httpRequest(relay.url(), {"HEAD", path, {{"Authorization", bearer(alice_token)}}, {}});
    QCOMPARE(looked.status, 200);
    auto other = get_with(bob_token);  // another user: the third of three
    QCOMPARE(other.status, 200);
    QCOMPARE(other.body, data);
    const int b1 = stalled(bob_token);
    QVERIFY(b1 >= 0);
    QCOMPARE(get_with(carol_token).status, 503);  // the relay's three are taken
    ::close(a1);
    QVERIFY(spinUntil([&] { return get_with(alice_token).status == 200; }, 5000));
    ::close(a2);
    ::close(b1);
    QVERIFY(spinUntil([&] { return get_with(carol_token).status == 200; }, 5000));
  }

  // Past its first idle period a transfer must average --media-min-rate-kib: a peer that
  // keeps every piece within the idle time but moves too little in all is cut, and what an
  // upload sent stays for it to resume.
  void transfersSlowerThanTheMinimumRateAreCut() {
    // 24 MiB at 12 MiB/s: 2 s in all. The peers below keep every piece well within the idle
    // time (~2 MiB/s), so only the overall deadline can cut them.
    RelayProcess relay({"--media-min-rate-kib", "12288", "--media-idle-seconds", "2"});
    QVERIFY(relay.start());
    auto alice = TestClient::registered(relay.url(), "rate-alice");
    QVERIFY(alice);
    const auto data = randomBytes(24 * 1024 * 1024);
    auto granted = createUpload(*alice, data.size());
    QVERIFY(granted && granted->has_upload_granted());
    const auto g = granted->upload_granted();
    // Upload: 64 KiB every 30 ms.
    int fd = connectRaw(relay.url());
    QVERIFY(fd >= 0);
    const auto request_head = requestHead(patchRequest(g, 0, data));
    QVERIFY(::send(fd, request_head.constData(), static_cast<size_t>(request_head.size()), MSG_NOSIGNAL) > 0);
    QElapsedTimer took;
    took.start();
    qsizetype sent = 0;
    constexpr qsizetype kPiece = 64 * 1024;
    while (sent < data.size() && took.elapsed() < 10000) {
      if (::send(fd, data.constData() + sent, kPiece, MSG_NOSIGNAL) != kPiece) break;
      sent += kPiece;
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
    ::close(fd);
    QVERIFY2(sent < data.size(), qPrintable(QString::number(sent)));
    QVERIFY2(took.elapsed() > 1500 && took.elapsed() < 5000, qPrintable(QString::number(took.elapsed())));
    HttpResponse h;
    QVERIFY(spinUntil([&] { return (h = head(relay.url(), g)).status == 200; }, 5000));
    const auto kept = h.header("Upload-Offset").toLongLong();
    QVERIFY2(kept > 0 && kept <= sent, h.header("Upload-Offset").constData());
    // Resumed at full speed, in pieces small enough that a loaded machine meets the 2 s each
    // gets.
    constexpr qsizetype kResumePiece = 4 * 1024 * 1024;
    for (qsizetype at = kept; at < data.size(); at += kResumePiece) {
      const auto piece = data.mid(at, kResumePiece);
      QCOMPARE(patch(relay.url(), g, at, piece).status, at + piece.size() < data.size() ? 204 : 201);
    }

    // Download: at most 64 KiB every 30 ms, through a fixed 256 KiB receive buffer (what
    // the relay wrote before it closed still arrives: the less is buffered, the clearer).
    const auto token = downloadToken(*alice);
    fd = connectRaw(relay.url(), 256 * 1024);
    QVERIFY(fd >= 0);
    const QByteArray request = "GET /media/" + hexId(g.media_id()) + " HTTP/1.1\r\nHost: relay\r\n"
                               "Authorization: " + bearer(token) + "\r\nConnection: close\r\n\r\n";
    QVERIFY(::send(fd, request.constData(), static_cast<size_t>(request.size()), MSG_NOSIGNAL) > 0);
    took.restart();
    qint64 got = 0;
    bool ended = false;
    std::vector<char> buf(kPiece);
    while (took.elapsed() < 10000) {
      const auto n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        ended = true;
        break;
      }
      if (n > 0) got += n;
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
    ::close(fd);
    QVERIFY2(ended, "still open after 10 s");
    QVERIFY2(got < data.size(), qPrintable(QString::number(got)));
    QVERIFY2(took.elapsed() > 1500, qPrintable(QString::number(took.elapsed())));
    // A reader at loopback speed gets all of it (in ranges, for the same reason).
    QByteArray whole;
    for (qsizetype at = 0; at < data.size(); at += kResumePiece) {
      const auto r = get(relay.url(), token, g.media_id(),
                         "bytes=" + QByteArray::number(at) + "-" + QByteArray::number(at + kResumePiece - 1));
      QCOMPARE(r.status, 206);
      whole += r.body;
    }
    QVERIFY(whole == data);
  }

  void limitsHaveClearErrors() {
    RelayProcess relay({"--media-max-bytes", "1000000", "--media-quota-bytes", "2500000",
                        "--media-max-uploads", "2"});
    QVERIFY(relay.start());
    auto alice = TestClient::registered(relay.url(), "alice");
    QVERIFY(alice);
    auto r = createUpload(*alice, 1000001);
    QVERIFY(r && r->has_error());
    QCOMPARE(r->error().code(), wire::TOO_LARGE);
    QVERIFY(QByteArray::fromStdString(r->error().reason()).contains("limit is 1000000"));
    r = createUpload(*alice, 0);
    QCOMPARE(r->error().code(), wire::BAD_REQUEST);

    // A body longer than the reservation is refused.
    auto one = createUpload(*alice, 1000000);
    QVERIFY(one && one->has_upload_granted());
    auto h = patch(relay.url(), one->upload_granted(), 0, randomBytes(1000004));
    QCOMPARE(h.status, 413);
    QVERIFY(h.body.contains("too_large"));
    // Two unfinished uploads is the limit.
    auto two = createUpload(*alice, 1000000);
    QVERIFY(two && two->has_upload_granted());
    r = createUpload(*alice, 10);
    QCOMPARE(r->error().code(), wire::TOO_MANY_UPLOADS);
    // Finishing them frees the slots but not the quota: 2 MB stored, 0.5 MB left.
    QCOMPARE(patch(relay.url(), one->upload_granted(), 0, randomBytes(1000000)).status, 201);
    QCOMPARE(patch(relay.url(), two->upload_granted(), 0, randomBytes(1000000)).status, 201);
    r = createUpload(*alice, 600000);
    QVERIFY(r && r->has_error());
    QCOMPARE(r->error().code(), wire::QUOTA_EXCEEDED);
    QVERIFY(QByteArray::fromStdString(r->error().reason()).contains("quota"));
    r = createUpload(*alice, 400000);
    QVERIFY(r && r->has_upload_granted());
  }

  void frameNeedsLoginAndValidIds() {
    RelayProcess relay;
    QVERIFY(relay.start());
    TestClient anon("nobody");
    QVERIFY(anon.connect(relay.url()));
    auto r = createUpload(anon, 10);
    QVERIFY(r && r->has_error());
    QCOMPARE(r->error().code(), wire::UNAUTHENTICATED);
    auto alice = TestClient::registered(relay.url(), "alice");
    wire::ClientFrame f;
    f.mutable_resume_upload()->set_media_id("short");
    r = alice->request(f);
    QCOMPARE(r->error().code(), wire::BAD_REQUEST);
    f.mutable_resume_upload()->set_media_id(std::string(16, 'q'));
    r = alice->request(f);
    QCOMPARE(r->error().code(), wire::MEDIA_NOT_FOUND);
    // Paths that are not media ids.
    const auto token = downloadToken(*alice);
    QCOMPARE(httpRequest(relay.url(), {"GET", "/media/zz", {{"Authorization", bearer(token)}}, {}}).status, 404);
    QCOMPARE(httpRequest(relay.url(), {"DELETE", "/media/" + QByteArray(32, 'a'), {}, {}}).status, 405);
  }
};

QTEST_GUILESS_MAIN(MediaTest)
#include "media_test.moc"
