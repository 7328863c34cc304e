#pragma once
// The files chosen for the next message, shown above the composer's text field as small
// cards (a picture's preview or a file mark, the name, the size, a cross to drop it). They
// are sent with the text when the user presses Enter.
//
// Thread: the GUI thread.
#include <QStringList>
#include <QWidget>

class QHBoxLayout;

namespace parley::app {

class PendingFiles : public QWidget {
  Q_OBJECT
 public:
  static constexpr int kMaxFiles = 10;

  explicit PendingFiles(QWidget* parent = nullptr);

  // False with `error` for what cannot be sent: a folder, an unreadable or empty file, a
  // duplicate, or more than kMaxFiles.
  bool add(const QString& path, QString* error);
  void remove(const QString& path);
  void setFiles(const QStringList& paths);  // a conversation's draft, back again
  const QStringList& files() const { return files_; }
  bool isEmpty() const { return files_.isEmpty(); }

 signals:
  void changed();

 private:
  void rebuild();

  QStringList files_;
  QHBoxLayout* row_;
};

}  // namespace parley::app
