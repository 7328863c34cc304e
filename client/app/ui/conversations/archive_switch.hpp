#pragma once
// The row above the chat list that switches between the main list and the archived chats:
// "Archived chats (3)" while the main list shows (hidden when nothing is archived), a back
// arrow and "Archived chats" as the title while the archived ones do. Archived chats with
// something unread (archived unread, or muted, which keeps a chat archived when a message
// arrives) are counted on it, not in the window's total.
//
// Thread: the GUI thread.
#include <QToolButton>

namespace parley::app {

class ArchiveSwitch : public QToolButton {
  Q_OBJECT
 public:
  explicit ArchiveSwitch(QWidget* parent = nullptr);
  // How many chats are archived, and how many of those have something unread.
  void setArchived(int count, int unread);
  void setShowingArchived(bool on);
  bool showingArchived() const { return showing_archived_; }

 signals:
  // Clicked: the list to show now (true: the archived chats).
  void switched(bool archived);

 private:
  void refresh();

  int count_ = 0;
  int unread_ = 0;
  bool showing_archived_ = false;
};

}  // namespace parley::app
