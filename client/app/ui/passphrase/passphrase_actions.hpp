#pragma once
// The menu entries for the open profile's passphrase: "Protect with a passphrase…" while it
// has none, "Change passphrase…" and "Remove passphrase…" once it has one. Each shows what
// it changed through changed(); the dialog asks for the current passphrase before changing or
// removing it, and says what went wrong.
//
// Thread: the GUI thread. Borrows the Messenger, like the main window that owns this.
#include <QObject>

class QAction;
class QMenu;
class QWidget;

namespace parley::client {
class Messenger;
}

namespace parley::app {

class PassphraseActions : public QObject {
  Q_OBJECT
 public:
  // Adds the entries to `menu`; dialogs open over `window`.
  PassphraseActions(client::Messenger* messenger, QMenu* menu, QWidget* window);

 signals:
  void changed(const QString& message);

 private:
  void refresh();
  void setOrChange();
  void remove();

  client::Messenger* messenger_;
  QWidget* window_;
  QAction* protect_;
  QAction* change_;
  QAction* remove_;
};

}  // namespace parley::app
