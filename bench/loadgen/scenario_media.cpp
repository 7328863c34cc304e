// media: upload and download throughput of encrypted attachments through the relay's media
// endpoints, moved the way client/core/media moves them (docs/protocol.md, "Media"): a token
// over the authenticated WebSocket (CreateUpload -> UploadGranted, GetDownloadToken ->
// DownloadToken), then HTTP on the relay's port with "Authorization: Bearer <token>":
// PATCH /media/upload/<id> from an Upload-Offset, and GET /media/<id>. By default a file goes
// in one request each way, as the client sends it; --media-chunk-bytes splits it into
// PATCHes that each continue at the Upload-Offset the relay answered, and ranged GETs (206),
// which is how a client resumes.
//
// --media-transfers slots (split over the workers) run at the same time, each with its own
// user, WebSocket and keep-alive HTTP connection. Each uploads --media-files files one after
// the other, then, after a barrier (so the phases never overlap), downloads them again. A
// finished upload's ETag must be the file's SHA-256 and every downloaded byte the file's;
// anything else is a failed transfer. Throughput counts finished files only.
#include <sodium.h>

#include <optional>

#include "http_client.hpp"
#include "media_file.hpp"
#include "report.hpp"
#include "worker.hpp"

namespace parley::loadgen {

namespace {

std::string hex(std::string_view bytes) {
  std::string out(2 * bytes.size() + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  out.pop_back();
  return out;
}

std::string describe(const HttpClient::Response& r) {
  if (!r.failure.empty()) return r.failure;
  return "HTTP " + std::to_string(r.status) + (r.error.empty() ? "" : " " + r.error);
}

struct Uploaded {
  std::string media_id;
  MediaFile file;
};

// One transfer slot: a user with its WebSocket (tokens) and its HTTP connection (bytes).
struct Slot {
  std::shared_ptr<Connection> ws;
  std::shared_ptr<HttpClient> http;
  std::uint64_t next_request = 1;
  std::uint64_t waiting_for = 0;  // the token request in flight
  std::function<void(wire::ServerFrame&)> answer;
  std::vector<Uploaded> files;    // finished uploads, downloaded in the second phase
  unsigned begun = 0;             // uploads begun
  std::size_t next_download = 0;
  // The transfer in progress.
  std::optional<MediaFile> file;
  std::string media_id, token;
  std::uint64_t offset = 0;
};

struct Media {
  Worker* w = nullptr;
  std::shared_ptr<const MediaBlock> block;
  std::vector<Slot> slots;  // sized once: handlers hold references to its elements
  std::size_t busy = 0;
  Clock::time_point phase_started;
  std::function<void()> phase_done;
  Histogram grant_latency, upload_latency, download_latency;
  std::uint64_t uploaded = 0, downloaded = 0, bytes_up = 0, bytes_down = 0, failed_transfers = 0;

  std::uint64_t chunk() const { return w->options().media_chunk_bytes; }

  void failed(const std::string& why) {
    if (failed_transfers++ == 0) std::fprintf(stderr, "parley-loadgen: media: %s\n", why.c_str());
  }

  // Sends a token request on the slot's WebSocket; `answer` gets the relay's reply.
  void ask(Slot& s, wire::ClientFrame f, std::function<void(wire::ServerFrame&)> answer) {
    s.waiting_for = s.next_request++;
    s.answer = std::move(answer);
    f.set_request_id(s.waiting_for);
    s.ws->send(f);
  }

  // Runs `first` on every slot; `done` once each has called slot_done().
  void start_phase(void (Media::*first)(Slot&), std::function<void()> done) {
    phase_started = Clock::now();
    phase_done = std::move(done);
    busy = slots.size();
    if (busy == 0) return phase_done();
    for (auto& s : slots) (this->*first)(s);
  }

  void slot_done() {
    if (--busy == 0) phase_done();
  }

  // ---- Upload ----

  void upload_next(Slot& s) {
    if (s.begun == w->options().media_files) return slot_done();
    ++s.begun;
    s.file.emplace(block);
    const auto asked = Clock::now();
    wire::ClientFrame f;
    f.mutable_create_upload()->set_size(s.file->size());
    ask(s, std::move(f), [this, &s, asked](wire::ServerFrame& a) {
      grant_latency.record(micros_since(asked));
      if (a.has_error()) {
        failed("CreateUpload refused: " + wire::ErrorCode_Name(a.error().code()) + ": " + a.error().reason());
        return upload_next(s);
      }
      const auto& g = a.upload_granted();
      if (!a.has_upload_granted() || g.media_id().size() != 16 || g.size() != s.file->size()) {
        failed("malformed answer to CreateUpload");
        return upload_next(s);
      }
      s.media_id = g.media_id();
      s.token = g.token();
      s.offset = 0;
      patch_next(s);
    });
  }

  void patch_next(Slot& s) {
    const auto size = s.file->size();
    const auto len = chunk() ? std::min(chunk(), size - s.offset) : size - s.offset;
    const auto sent = Clock::now();
    s.http->patch("/media/upload/" + hex(s.media_id), s.token, s.offset, s.file->slice(s.offset, len),
                  [this, &s, len, sent](HttpClient::Response r) {
                    upload_latency.record(micros_since(sent));
                    const auto total = s.file->size();
                    const auto end = s.offset + len;
                    const bool at_end = r.header["Upload-Offset"] == std::to_string(end);
                    if (r.status == 204 && end < total && at_end) {
                      s.offset = end;
                      return patch_next(s);
                    }
                    if (r.status == 201 && end == total && at_end) {
                      if (r.header[http::field::etag] != "\"" + s.file->sha256_hex() + "\"") {
                        failed("the relay's ETag is not the uploaded file's SHA-256");
                      } else {
                        ++uploaded;
                        bytes_up += total;
                        s.files.push_back({s.media_id, *s.file});
                      }
                      return upload_next(s);
                    }
                    failed("upload: " + describe(r));
                    upload_next(s);
                  });
  }

  // ---- Download ----

  void download_all(Slot& s) {
    wire::ClientFrame f;
    f.mutable_get_download_token();
    ask(s, std::move(f), [this, &s](wire::ServerFrame& a) {
      if (!a.has_download_token()) {
        for (std::size_t i = 0; i < s.files.size(); ++i) failed("no download token from the relay");
        return slot_done();
      }
      s.token = a.download_token().token();
      s.next_download = 0;
      download_next(s);
    });
  }

  void download_next(Slot& s) {
    if (s.next_download == s.files.size()) return slot_done();
    s.offset = 0;
    get_next(s);
  }

  void get_next(Slot& s) {
    const auto& up = s.files[s.next_download];
    const auto size = up.file.size();
    const auto len = chunk() ? std::min(chunk(), size - s.offset) : size;
    std::optional<HttpClient::ByteRange> range;
    if (chunk()) range = HttpClient::ByteRange{s.offset, s.offset + len - 1};
    auto got = std::make_shared<std::uint64_t>(0);
    const auto sent = Clock::now();
    s.http->get(
        "/media/" + hex(up.media_id), s.token, range, len,
        [&up, &s, got](std::span<const char> bytes) {
          if (!up.file.matches(s.offset + *got, bytes)) return false;
          *got += bytes.size();
          return true;
        },
        [this, &s, len, got, sent, ranged = range.has_value()](HttpClient::Response r) {
          download_latency.record(micros_since(sent));
          const auto total = s.files[s.next_download].file.size();
          bool ok = r.status == (ranged ? 206u : 200u) && *got == len;
          if (ok && ranged)
            ok = r.header[http::field::content_range] ==
                 "bytes " + std::to_string(s.offset) + "-" + std::to_string(s.offset + len - 1) + "/" +
                     std::to_string(total);
          if (!ok) {
            failed("download: " + (r.status / 100 == 2 ? "wrong status, length or range" : describe(r)));
            ++s.next_download;
            return download_next(s);
          }
          s.offset += len;
          if (s.offset < total) return get_next(s);
          ++downloaded;
          bytes_down += total;
          ++s.next_download;
          download_next(s);
        });
  }

  void report_and_finish() {
    report::count("media_uploaded", uploaded);
    report::count("media_downloaded", downloaded);
    report::count("media_bytes_up", bytes_up);
    report::count("media_bytes_down", bytes_down);
    report::count("media_failed", failed_transfers);
    report::histogram("media_grant_latency", grant_latency);
    report::histogram("media_upload_latency", upload_latency);
    report::histogram("media_download_latency", download_latency);
    for (auto& s : slots) {
      s.http->close();
      s.ws->close();
    }
    w->finish();
  }
};

}  // namespace

void run_media(Worker& w) {
  const auto& o = w.options();
  auto run = std::make_shared<Media>();
  w.keep(run);
  run->w = &w;
  // Made (random bytes, hashed) before anything is timed.
  run->block = std::make_shared<const MediaBlock>(o.media_bytes);
  const auto users = w.share(o.media_transfers);
  w.register_all(users, [&w, run, users] {
    w.barrier("registered", [&w, run, users] {
      w.connect_all(users, false, [&w, run](Connections conns, std::size_t failures) {
        if (failures) return w.fail("media: " + std::to_string(failures) + " logins failed");
        run->slots.resize(conns.size());
        for (std::size_t i = 0; i < conns.size(); ++i) {
          auto& s = run->slots[i];
          s.ws = conns[i];
          s.http = std::make_shared<HttpClient>(w.ioc(), w.relay());
          s.ws->on_frame([&s](wire::ServerFrame& f) {
            if (!s.answer || f.request_id() != s.waiting_for) return;  // pushes: not ours
            auto answer = std::move(s.answer);
            s.answer = nullptr;
            answer(f);
          });
          s.ws->on_closed([&w](const std::string& why) { w.fail("media: a WebSocket closed: " + why); });
        }
        // The phase callbacks are stored in the Media: they hold a plain pointer (the worker
        // keeps it alive), not a shared_ptr that would keep it alive forever.
        w.barrier("connected", [&w, r = run.get()] {
          r->start_phase(&Media::upload_next, [&w, r] {
            report::max("media_upload_us", micros_since(r->phase_started));
            // Fresh HTTP connections for the downloads: a worker that finished early must
            // not find its idle connection closed by the relay meanwhile.
            for (auto& s : r->slots) s.http->close();
            w.barrier("uploaded", [r] {
              r->start_phase(&Media::download_all, [r] {
                report::max("media_download_us", micros_since(r->phase_started));
                r->report_and_finish();
              });
            });
          });
        });
      });
    });
  });
}

}  // namespace parley::loadgen
