#pragma once
// The chat list's context menu for one conversation: mark it read or unread, pin or unpin
// it, archive or unarchive it, mute it for a while or until unmuted, unmute it, set its
// disappearing-messages timer, clear its history. Opened with the right mouse button or the
// keyboard's menu key, and from the open chat's ⋮.
//
// Thread: the GUI thread.
class QMenu;
class QString;
class QWidget;

namespace parley::client {
class ConversationListModel;
class Messenger;
}

namespace parley::app {

// A menu for `peer`'s row of `chats`, made for one showing (it deletes itself once closed;
// null when the peer has no row). What fails (the pin limit reached) is said in a message
// box over `parent`.
QMenu* chatMenu(client::Messenger* messenger, client::ConversationListModel* chats, const QString& peer,
                QWidget* parent);

}  // namespace parley::app
