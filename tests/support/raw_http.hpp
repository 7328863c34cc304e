#pragma once
// Blocking HTTP/1.1 over a plain QTcpSocket for relay tests: full control of every header
// and of how much of a body is sent before the connection is cut.
#include <QByteArray>
#include <QList>
#include <QPair>
#include <QUrl>

namespace parley::test {

struct HttpResponse {
  int status = 0;  // 0: no response (refused, cut, timed out)
  QList<QPair<QByteArray, QByteArray>> headers;
  QByteArray body;
  QByteArray header(const QByteArray& name) const;  // case-insensitive, first match
};

struct HttpRequest {
  QByteArray method = "GET";
  QByteArray path;
  QList<QPair<QByteArray, QByteArray>> headers;
  QByteArray body;
  // Send only this many body bytes (Content-Length still announces all), then close.
  qsizetype cut_after = -1;
};

// The request line and headers (with "Connection: close" and a Content-Length for the whole
// body), for tests that send a request in parts themselves.
QByteArray requestHead(const HttpRequest& req);

// One request on a fresh connection ("Connection: close"), to the relay at `base`.
HttpResponse httpRequest(const QUrl& base, const HttpRequest& req, int timeout_ms = 10000);

}  // namespace parley::test
