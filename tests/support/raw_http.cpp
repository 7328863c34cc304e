#include "raw_http.hpp"

#include <QNetworkProxy>
#include <QTcpSocket>

namespace parley::test {

QByteArray HttpResponse::header(const QByteArray& name) const {
  for (const auto& [k, v] : headers)
    if (k.compare(name, Qt::CaseInsensitive) == 0) return v;
  return {};
}

QByteArray requestHead(const HttpRequest& req) {
  QByteArray head = req.method + " " + req.path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
  bool has_length = false;
  for (const auto& [k, v] : req.headers) {
    head += k + ": " + v + "\r\n";
    if (k.compare("Content-Length", Qt::CaseInsensitive) == 0) has_length = true;
  }
  if (!has_length && (!req.body.isEmpty() || req.method == "PATCH"))
    head += "Content-Length: " + QByteArray::number(req.body.size()) + "\r\n";
  return head + "\r\n";
}

HttpResponse httpRequest(const QUrl& base, const HttpRequest& req, int timeout_ms) {
  QTcpSocket s;
  s.setProxy(QNetworkProxy::NoProxy);
  s.connectToHost("127.0.0.1", static_cast<quint16>(base.port()));
  if (!s.waitForConnected(timeout_ms)) return {};
  s.write(requestHead(req));
  const auto body = req.cut_after >= 0 ? req.body.left(req.cut_after) : req.body;
  for (qsizetype off = 0; off < body.size(); off += 1 << 20) {
    s.write(body.mid(off, 1 << 20));
    while (s.bytesToWrite() > 0)
      if (!s.waitForBytesWritten(timeout_ms)) break;
  }
  if (req.cut_after >= 0) {
    s.disconnectFromHost();  // FIN, not RST: the relay reads what was sent, then the cut
    if (s.state() != QAbstractSocket::UnconnectedState) s.waitForDisconnected(timeout_ms);
    return {};
  }
  QByteArray all;
  while (s.state() == QAbstractSocket::ConnectedState && s.waitForReadyRead(timeout_ms)) all += s.readAll();
  all += s.readAll();
  HttpResponse r;
  const auto end = all.indexOf("\r\n\r\n");
  if (end < 0) return r;
  const auto lines = all.left(end).split('\n');
  const auto status = lines.value(0).split(' ');
  r.status = status.value(1).toInt();
  for (qsizetype i = 1; i < lines.size(); ++i) {
    const auto colon = lines[i].indexOf(':');
    if (colon > 0) r.headers.append({lines[i].left(colon).trimmed(), lines[i].mid(colon + 1).trimmed()});
  }
  r.body = all.mid(end + 4);
  return r;
}

}  // namespace parley::test
