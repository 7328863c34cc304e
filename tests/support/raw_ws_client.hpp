#pragma once
// A deliberately minimal WebSocket client over a blocking QTcpSocket, for tests that need
// to misbehave in ways QWebSocket will not: never answer pings, stop reading, send bytes a
// real client would not.
#include <QByteArray>
#include <QTcpSocket>
#include <QUrl>
#include <optional>

namespace parley::test {

class RawWsClient {
 public:
  // TCP connect and the HTTP upgrade; false if the relay did not answer 101.
  // receive_buffer > 0 pins the kernel's receive buffer (SO_RCVBUF) to about that size;
  // max_segment > 0 (with it) clamps the segment size the relay may send (TCP_MAXSEG), which
  // keeps the relay's send buffer for this socket small too: on loopback its ~64 KiB segments
  // let that buffer grow to megabytes, so one large frame could not fill it.
  bool open(const QUrl& url, const QByteArray& subprotocol = "parley.v1", int receive_buffer = 0,
            int max_segment = 0);
  // One masked frame (opcode 2 = binary, 1 = text, 0 = continuation, 8 = close, 9 = ping,
  // 10 = pong); `fin` false for a fragment that more fragments follow.
  void sendFrame(const QByteArray& payload, int opcode = 2, bool fin = true);
  // The bytes of one masked frame, to send several in one write.
  static QByteArray encodeFrame(const QByteArray& payload, int opcode = 2, bool fin = true);
  // Writes `bytes` in one send(2), so on loopback they arrive in one TCP segment.
  bool sendInOneWrite(const QByteArray& bytes);
  // Reads one whole frame; nullopt on timeout or close. Control frames are returned too.
  struct Frame {
    int opcode = 0;
    QByteArray payload;
    bool fin = true;
  };
  std::optional<Frame> readFrame(int timeout_ms = 5000);
  // Reads frames until a data frame arrives.
  std::optional<QByteArray> readMessage(int timeout_ms = 5000);
  // True once the relay has closed the TCP connection (waits up to timeout_ms).
  bool waitDisconnected(int timeout_ms);
  QTcpSocket& socket() { return socket_; }

 private:
  bool fill(qint64 n, int timeout_ms);
  QTcpSocket socket_;
  QByteArray in_;
};

}  // namespace parley::test
