#include "raw_ws_client.hpp"

#include <QElapsedTimer>
#include <QNetworkProxy>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

namespace parley::test {

bool RawWsClient::open(const QUrl& url, const QByteArray& subprotocol, int receive_buffer,
                       int max_segment) {
  socket_.setProxy(QNetworkProxy::NoProxy);
  if (receive_buffer > 0) {
    // A fixed, small kernel receive buffer (no autotuning) must be set before connect.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    if (max_segment > 0) ::setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &max_segment, sizeof max_segment);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<quint16>(url.port()));
    ::inet_pton(AF_INET, url.host().toUtf8().constData(), &addr.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return false;
    }
    socket_.setSocketDescriptor(fd);
  } else {
    socket_.connectToHost(url.host(), static_cast<quint16>(url.port()));
    if (!socket_.waitForConnected(3000)) return false;
  }
  QByteArray req = "GET / HTTP/1.1\r\nHost: " + url.host().toUtf8() +
                   "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: " +
                   subprotocol + "\r\n\r\n";
  socket_.write(req);
  socket_.flush();
  QElapsedTimer t;
  t.start();
  while (!in_.contains("\r\n\r\n")) {
    if (t.elapsed() > 3000 || !socket_.waitForReadyRead(500)) {
      if (socket_.state() != QAbstractSocket::ConnectedState) return false;
      if (t.elapsed() > 3000) return false;
      continue;
    }
    in_ += socket_.readAll();
  }
  const auto end = in_.indexOf("\r\n\r\n") + 4;
  const bool ok = in_.startsWith("HTTP/1.1 101");
  in_.remove(0, end);
  return ok;
}

void RawWsClient::sendFrame(const QByteArray& payload, int opcode, bool fin) {
  socket_.write(encodeFrame(payload, opcode, fin));
  socket_.flush();
}

bool RawWsClient::sendInOneWrite(const QByteArray& bytes) {
  socket_.flush();  // nothing of an earlier write may be left behind in Qt's buffer
  const auto n = ::send(static_cast<int>(socket_.socketDescriptor()), bytes.constData(),
                        static_cast<size_t>(bytes.size()), MSG_NOSIGNAL);
  return n == bytes.size();
}

QByteArray RawWsClient::encodeFrame(const QByteArray& payload, int opcode, bool fin) {
  QByteArray f;
  f.append(static_cast<char>((fin ? 0x80 : 0) | opcode));
  const auto n = static_cast<quint64>(payload.size());
  if (n < 126) {
    f.append(static_cast<char>(0x80 | n));
  } else if (n < 65536) {
    f.append(static_cast<char>(0x80 | 126));
    f.append(static_cast<char>(n >> 8));
    f.append(static_cast<char>(n & 0xff));
  } else {
    f.append(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) f.append(static_cast<char>((n >> (8 * i)) & 0xff));
  }
  unsigned char mask[4];
  randombytes_buf(mask, sizeof mask);
  f.append(reinterpret_cast<const char*>(mask), 4);
  for (qsizetype i = 0; i < payload.size(); ++i)
    f.append(static_cast<char>(payload[i] ^ static_cast<char>(mask[i % 4])));
  return f;
}

bool RawWsClient::fill(qint64 n, int timeout_ms) {
  QElapsedTimer t;
  t.start();
  while (in_.size() < n) {
    const int left = timeout_ms - static_cast<int>(t.elapsed());
    if (left <= 0) return false;
    if (socket_.bytesAvailable() == 0 && !socket_.waitForReadyRead(std::min(left, 200))) {
      if (socket_.state() != QAbstractSocket::ConnectedState && socket_.bytesAvailable() == 0)
        return false;
      continue;
    }
    in_ += socket_.readAll();
  }
  return true;
}

std::optional<RawWsClient::Frame> RawWsClient::readFrame(int timeout_ms) {
  if (!fill(2, timeout_ms)) return std::nullopt;
  const auto b0 = static_cast<unsigned char>(in_[0]);
  const auto b1 = static_cast<unsigned char>(in_[1]);
  quint64 len = b1 & 0x7f;
  qint64 header = 2;
  if (len == 126) {
    if (!fill(4, timeout_ms)) return std::nullopt;
    len = (static_cast<quint64>(static_cast<unsigned char>(in_[2])) << 8) |
          static_cast<unsigned char>(in_[3]);
    header = 4;
  } else if (len == 127) {
    if (!fill(10, timeout_ms)) return std::nullopt;
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<unsigned char>(in_[2 + i]);
    header = 10;
  }
  if (!fill(header + static_cast<qint64>(len), timeout_ms)) return std::nullopt;
  Frame f{b0 & 0x0f, in_.mid(header, static_cast<qsizetype>(len)), (b0 & 0x80) != 0};
  in_.remove(0, header + static_cast<qsizetype>(len));
  return f;
}

std::optional<QByteArray> RawWsClient::readMessage(int timeout_ms) {
  for (;;) {
    auto f = readFrame(timeout_ms);
    if (!f) return std::nullopt;
    if (f->opcode == 1 || f->opcode == 2) return f->payload;
    if (f->opcode == 8) return std::nullopt;  // close
  }
}

bool RawWsClient::waitDisconnected(int timeout_ms) {
  QElapsedTimer t;
  t.start();
  while (socket_.state() == QAbstractSocket::ConnectedState) {
    if (t.elapsed() > timeout_ms) return false;
    socket_.waitForReadyRead(100);
    socket_.readAll();  // discard pings and whatever else
  }
  return true;
}

}  // namespace parley::test
