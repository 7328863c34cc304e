#pragma once
// The conversation list as shown: the main list or the archived chats (one at a time), or,
// while text is typed in the search box, every chat whose name, username or last message
// contains it (case-insensitive), archived or not. The order stays the source's.
#include <QSortFilterProxyModel>

namespace parley::app {

class ConversationFilter : public QSortFilterProxyModel {
  Q_OBJECT
 public:
  using QSortFilterProxyModel::QSortFilterProxyModel;
  void setText(const QString& text);
  void setArchivedView(bool archived);
  bool archivedView() const { return archived_view_; }
  // Also gives each row its description for screen readers (the delegate only paints).
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;

 protected:
  bool filterAcceptsRow(int row, const QModelIndex& parent) const override;

 private:
  QString text_;
  bool archived_view_ = false;
};

}  // namespace parley::app
