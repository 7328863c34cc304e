#pragma once
// A contact's page: the safety number (60 digits) and the same number as a QR code to
// compare in person or by scanning, whether it has been verified, and the buttons to mark it
// verified or accept a changed key.
#include <QByteArray>
#include <QDialog>

class QLabel;
class QPushButton;

namespace parley::client {
class Messenger;
}

namespace parley::app {

class ContactPage : public QDialog {
  Q_OBJECT
 public:
  ContactPage(client::Messenger* messenger, const QString& peer, QWidget* parent = nullptr);
  QString safetyNumberText() const;
  QPushButton* verifyButton() const { return verify_; }
  QPushButton* acceptButton() const { return accept_; }
  bool hasQrCode() const;

  // After a refusal (the key changed again), Accept waits this long before it takes a click.
  static constexpr int kRecompareDelay = 1500;

 private:
  void refresh();

  client::Messenger* messenger_;
  QString peer_;
  QLabel* status_;
  QLabel* number_;
  QLabel* qr_;
  QLabel* explain_;
  QPushButton* verify_;
  QPushButton* accept_;
  QByteArray shown_pending_key_;  // the changed key whose number is on screen
};

}  // namespace parley::app
