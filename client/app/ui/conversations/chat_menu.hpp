#pragma once
// The chat list's context menu for one conversation: pin or unpin it, mute it for a while or
// until unmuted, unmute it. Opened with the right mouse button or the keyboard's menu key.
//
// Thread: the GUI thread.
class QMenu;
class QModelIndex;
class QWidget;

namespace parley::client {
class Messenger;
}

namespace parley::app {

// A menu for the conversation of `index` (a ConversationListModel row), made for one showing (it deletes itself once closed). What fails (the
// pin limit reached) is said in a message box over `parent`.
QMenu* chatMenu(client::Messenger* messenger, const QModelIndex& index, QWidget* parent);

}  // namespace parley::app
