#pragma once
// A TCP forwarder on 127.0.0.1 in front of a relay, for tests that must stop an upload
// part-way through whatever the machine's pace. Progress reports reach a test late (Qt's
// HTTP runs on a thread of its own), and a 24 MiB upload over loopback can end within a
// tenth of a second, so "wait until 2 MiB went, then stop the app" may stop it after the
// relay had every byte. The gate passes every connection on, both ways, but holds the first
// upload after holdNextUpload(): of the next PATCH request's body it passes `bytes` to the
// relay and then reads no more from that connection, so the client's writes stall once the
// kernel's buffers are full. dropHeld() then closes both sides, the relay's after the bytes
// passed, as a connection that broke there would be (a client that stops is not noticed on
// its own: its end is in the bytes the gate no longer reads).
#include <QObject>
#include <QTcpServer>
#include <QUrl>

namespace parley::test {

class TcpGate : public QObject {
  Q_OBJECT
 public:
  explicit TcpGate(QUrl relay);
  ~TcpGate() override;
  bool listen();  // on a free port of 127.0.0.1
  QUrl url() const;  // the relay's URL with the gate's port
  void holdNextUpload(qint64 bytes);
  bool holding() const { return held_ != nullptr; }  // the held upload passed its bytes
  void dropHeld();

 private:
  struct Pipe;
  void accept();
  void fromClient(Pipe* pipe);

  QUrl relay_;
  QTcpServer server_;
  qint64 hold_at_ = -1;  // -1: no upload to hold
  Pipe* held_ = nullptr;
};

}  // namespace parley::test
