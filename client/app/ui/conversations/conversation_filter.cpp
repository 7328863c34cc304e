#include "conversations/conversation_filter.hpp"

#include "conversations/conversation_delegate.hpp"
#include "models/conversation_list_model.hpp"

namespace parley::app {

using client::ConversationListModel;

void ConversationFilter::setText(const QString& text) {
  text_ = text.trimmed();
  // The whole mapping rebuilt as a layout change, which carries persistent indexes (the
  // view's current and hovered rows) along: invalidateFilter()'s row-by-row removal met one
  // it had left stale and crashed in parent() after a message arrived.
  invalidate();
}

void ConversationFilter::setArchivedView(bool archived) {
  if (archived == archived_view_) return;
  archived_view_ = archived;
  invalidate();  // as setText
}

QVariant ConversationFilter::data(const QModelIndex& index, int role) const {
  if (role == Qt::AccessibleDescriptionRole) return ConversationDelegate::accessibleDescription(index);
  return QSortFilterProxyModel::data(index, role);
}

bool ConversationFilter::filterAcceptsRow(int row, const QModelIndex& parent) const {
  const auto i = sourceModel()->index(row, 0, parent);
  // A search finds a chat wherever it is kept.
  if (text_.isEmpty()) return i.data(ConversationListModel::ArchivedRole).toBool() == archived_view_;
  for (int role : {int(ConversationListModel::TitleRole), int(ConversationListModel::PeerRole),
                   int(ConversationListModel::LastMessageRole)})
    if (i.data(role).toString().contains(text_, Qt::CaseInsensitive)) return true;
  return false;
}

}  // namespace parley::app
