#pragma once
// The client's side of the media endpoints, for relay tests: tokens asked for over the
// WebSocket, ciphertext moved over HTTP (protocol.md, "Media").
#include <optional>
#include <string>

#include "raw_http.hpp"
#include "test_client.hpp"

namespace parley::test {

std::optional<wire::ServerFrame> createUpload(TestClient& c, std::uint64_t size);
std::string downloadToken(TestClient& c);  // "" when refused

QByteArray hexId(const std::string& id);
QByteArray bearer(const std::string& token);

HttpRequest patchRequest(const wire::UploadGranted& g, qint64 offset, const QByteArray& body,
                         qsizetype cut_after = -1);
HttpResponse patch(const QUrl& url, const wire::UploadGranted& g, qint64 offset, const QByteArray& body,
                   qsizetype cut_after = -1);
HttpResponse head(const QUrl& url, const wire::UploadGranted& g);
HttpResponse get(const QUrl& url, const std::string& token, const std::string& media_id,
                 const QByteArray& range = {});

}  // namespace parley::test
