#include "media_requests.hpp"

namespace parley::test {

std::optional<wire::ServerFrame> createUpload(TestClient& c, std::uint64_t size) {
  wire::ClientFrame f;
  f.mutable_create_upload()->set_size(size);
  return c.request(f);
}

std::string downloadToken(TestClient& c) {
  wire::ClientFrame f;
  f.mutable_get_download_token();
  auto r = c.request(f);
  return r && r->has_download_token() ? r->download_token().token() : std::string();
}

QByteArray hexId(const std::string& id) { return QByteArray::fromStdString(id).toHex(); }

QByteArray bearer(const std::string& token) { return "Bearer " + QByteArray::fromStdString(token); }

HttpRequest patchRequest(const wire::UploadGranted& g, qint64 offset, const QByteArray& body,
                         qsizetype cut_after) {
  return {"PATCH", "/media/upload/" + hexId(g.media_id()),
          {{"Authorization", bearer(g.token())}, {"Upload-Offset", QByteArray::number(offset)}},
          body, cut_after};
}

HttpResponse patch(const QUrl& url, const wire::UploadGranted& g, qint64 offset, const QByteArray& body,
                   qsizetype cut_after) {
  return httpRequest(url, patchRequest(g, offset, body, cut_after));
}

HttpResponse head(const QUrl& url, const wire::UploadGranted& g) {
  return httpRequest(url, {"HEAD", "/media/upload/" + hexId(g.media_id()),
                           {{"Authorization", bearer(g.token())}}, {}});
}

HttpResponse get(const QUrl& url, const std::string& token, const std::string& media_id,
                 const QByteArray& range) {
  HttpRequest req{"GET", "/media/" + hexId(media_id), {}, {}};
  if (!token.empty()) req.headers.append({"Authorization", bearer(token)});
  if (!range.isEmpty()) req.headers.append({"Range", range});
  return httpRequest(url, req);
}

}  // namespace parley::test
