#pragma once
// The search/filter box over the conversation list: keeps the rows whose name, username or
// last message contains the typed text (case-insensitive); the order stays the source's
// (last activity).
#include <QSortFilterProxyModel>

namespace parley::app {

class ConversationFilter : public QSortFilterProxyModel {
  Q_OBJECT
 public:
  using QSortFilterProxyModel::QSortFilterProxyModel;
  void setText(const QString& text);
  // Also gives each row its description for screen readers (the delegate only paints).
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;

 protected:
  bool filterAcceptsRow(int row, const QModelIndex& parent) const override;

 private:
  QString text_;
};

}  // namespace parley::app
