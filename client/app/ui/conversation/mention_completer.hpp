#pragma once
// Completes "@name" in a group's text field: typing "@" and the start of a member's name
// offers the members whose names start so (a popup under the cursor, Up/Down to choose, Enter
// or Tab or a click to take one, Esc to dismiss); taking one writes "@name " in place of what
// was typed. Words are what carries a mention (util/mentions.hpp), so this only helps writing.
//
// Thread: the GUI thread.
#include <QObject>
#include <QStringList>

class QCompleter;
class QPlainTextEdit;
class QStringListModel;

namespace parley::app {

class MentionCompleter : public QObject {
  Q_OBJECT
 public:
  explicit MentionCompleter(QPlainTextEdit* edit);

  // The names to offer (a 1:1 chat: none, and nothing is ever offered).
  void setNames(const QStringList& names);
  QCompleter* completer() const { return completer_; }
  bool offering() const;

 private:
  void update();
  void take(const QString& name);
  // The "@start" before the cursor: where its "@" is (-1: none) and what follows it.
  qsizetype typedAt(QString* typed) const;

  QPlainTextEdit* edit_;
  QStringListModel* names_;
  QCompleter* completer_;
};

}  // namespace parley::app
