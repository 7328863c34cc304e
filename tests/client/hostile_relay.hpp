#pragma once
// A relay that lies: a WebSocket man-in-the-middle on 127.0.0.1 in front of a real relay,
// passing every client frame on as it is and every relay frame back mutated on the protobuf
// wire format (tests/support/proto_mutator.hpp), or twice, at the rates the test sets. The
// client then meets frames no honest relay sends: other senders, kinds, sequence numbers,
// group events and marks, ciphertexts cut or grown, bodies under another response's tag.
//
// Thread: the test's (main) thread. Deterministic in what it mutates for a seed, not in when
// frames come.
#include <QList>
#include <QObject>
#include <QPointer>
#include <QUrl>
#include <QWebSocket>
#include <QWebSocketServer>
#include <functional>

#include "proto_mutator.hpp"

namespace parley::test {

class HostileRelay : public QObject {
  Q_OBJECT
 public:
  HostileRelay(QUrl relay, std::uint64_t seed);
  ~HostileRelay() override;
  bool listen();  // on 127.0.0.1, any free port
  QUrl url() const;

  // A relay frame this says yes to is never passed on: lost, as far as the client knows,
  // while the relay counts it delivered once a later entry is acknowledged.
  std::function<bool(const QByteArray& frame)> swallow;
  int swallowed = 0;
  int mutate_percent = 0;     // of the relay's frames, each mutated on its way to the client
  int duplicate_percent = 0;  // of the others, each sent twice
  int passed = 0, mutated = 0, duplicated = 0;

 private:
  struct Pipe {
    QPointer<QWebSocket> client, relay;
    QList<QByteArray> waiting;  // the client's frames before the relay's socket opened
  };
  void onConnection();
  void fromRelay(Pipe* pipe, const QByteArray& bytes);
  void close(Pipe* pipe);

  QUrl relay_;
  ProtoMutator mutator_;
  QWebSocketServer server_;
  QList<Pipe*> pipes_;
};

}  // namespace parley::test
