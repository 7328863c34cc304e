#include "conversations/conversation_filter.hpp"

#include "models/conversation_list_model.hpp"

namespace parley::app {

using client::ConversationListModel;

void ConversationFilter::setText(const QString& text) {
  text_ = text.trimmed();
  invalidateFilter();
}

bool ConversationFilter::filterAcceptsRow(int row, const QModelIndex& parent) const {
  if (text_.isEmpty()) return true;
  const auto i = sourceModel()->index(row, 0, parent);
  for (int role : {int(ConversationListModel::TitleRole), int(ConversationListModel::PeerRole),
                   int(ConversationListModel::LastMessageRole)})
    if (i.data(role).toString().contains(text_, Qt::CaseInsensitive)) return true;
  return false;
}

}  // namespace parley::app
