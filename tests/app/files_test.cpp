// Files through the app on both sides, like a person: alice drops a picture on the
// conversation, pastes a copied picture, attaches a document, and sends; the uploads show
// in the upload list and the messages appear. Bob's window shows the picture's thumbnail
// and the document's name and size; a click downloads the picture and opens it in the
// image viewer, a click downloads the document and a second click opens it; "Save as…"
// copies it out; a download and an upload can be cancelled. Refused files (a folder, an
// empty file) get a clear error and stay out of the message. Then the same in a group, and
// files still being sent when the app quits, sent when it opens again.
//
// With PARLEY_SCREENSHOT_DIR set it also saves the files screens (scripts/screenshots.sh).
#include <QtTest>

#include <QClipboard>
#include <QDir>
#include <QDropEvent>
#include <QLabel>
#include <QListWidget>
#include <QMimeData>
#include <QPainter>
#include <QPushButton>
#include <QTemporaryDir>
#include <QToolButton>

#include "app_fixture.hpp"
#include "conversation/composer.hpp"
#include "conversation/conversation_view.hpp"
#include "conversation/forward_dialog.hpp"
#include "conversation/message_delegate.hpp"
#include "conversation/message_list_view.hpp"
#include "conversation/pending_files.hpp"
#include "conversation/upload_list.hpp"
#include "conversations/conversation_delegate.hpp"
#include "main/main_window.hpp"
#include "media/image_viewer.hpp"
#include "media/transfer_tracker.hpp"
#include "models/message_model.hpp"
#include "relay_process.hpp"
#include "test_client.hpp"
#include "theme/theme.hpp"

using namespace parley::app;
using parley::client::AttachmentInfo;
using parley::client::MessageModel;
using parley::client::Messenger;
using parley::test::kGuiWaitMs;
using parley::test::screenshot;
using parley::test::RelayProcess;
using parley::test::spinUntil;

namespace {

QImage sunset(int w, int h) {
  QImage image(w, h, QImage::Format_RGB32);
  QPainter p(&image);
  QLinearGradient g(0, 0, 0, h);
  g.setColorAt(0, QColor("#f6a04d"));
  g.setColorAt(0.6, QColor("#d9486b"));
  g.setColorAt(1, QColor("#3b2c6b"));
  p.fillRect(image.rect(), g);
  p.setBrush(QColor("#ffe7a3"));
  p.setPen(Qt::NoPen);
  p.drawEllipse(QPoint(w / 2, h * 2 / 3), h / 5, h / 5);
  p.fillRect(0, h * 3 / 4, w, h / 4, QColor("#23395b"));
  return image;
}

QByteArray readAll(const QString& path) {
  QFile f(path);
  return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

bool writeFile(const QString& path, const QByteArray& bytes) {
  QFile f(path);
  return f.open(QIODevice::WriteOnly) && f.write(bytes) == bytes.size();
}

void drop(QWidget* target, const QList<QUrl>& urls) {
  auto* mime = new QMimeData;
  mime->setUrls(urls);
  const QPoint at = target->rect().center();
  QDragEnterEvent enter(at, Qt::CopyAction, mime, Qt::LeftButton, Qt::NoModifier);
  QApplication::sendEvent(target, &enter);
  QVERIFY(enter.isAccepted());
  QDropEvent dropped(QPointF(at), Qt::CopyAction, mime, Qt::LeftButton, Qt::NoModifier);
  QApplication::sendEvent(target, &dropped);
  QVERIFY(dropped.isAccepted());
  delete mime;
}

int rowWithFile(QAbstractItemModel* model, const QString& name) {
  for (int i = 0; i < model->rowCount(); ++i) {
    const auto a = model->index(i, 0).data(MessageModel::AttachmentRole).value<AttachmentInfo>();
    if (a.fileName == name) return i;
  }
  return -1;
}

}  // namespace

class FilesTest : public QObject {
  Q_OBJECT
  RelayProcess relay_;
  QTemporaryDir home_;
  std::unique_ptr<Messenger> alice_, bob_;
  std::unique_ptr<MainWindow> aw_, bw_;
  QStringList opened_;  // what bob's window asked the system to open

  QString file(const QString& name) const { return home_.filePath("files-in/" + name); }

  void clickFile(MessageListView* list, int row, bool action = false) {
    const auto index = list->model()->index(row, 0);
    list->scrollTo(index);
    QCoreApplication::processEvents();
    const QRect rect = list->visualRect(index);
    const QRect target = action ? list->messageDelegate()->actionRectFor(rect, index)
                                : list->messageDelegate()->attachmentRect(rect, index);
    QVERIFY(!target.isNull());
    QTest::mouseClick(list->viewport(), Qt::LeftButton, {}, target.center());
  }

 private slots:
  void initTestCase() {
    QVERIFY(home_.isValid());
    parley::test::isolateSettings(home_.filePath("env"));
    Theme::apply(qEnvironmentVariable("PARLEY_SCREENSHOT_THEME") == "dark" ? ThemeMode::Dark : ThemeMode::Light);
    QVERIFY(QDir().mkpath(home_.filePath("files-in")));
    QVERIFY(sunset(1200, 800).save(file("Sunset at the lake.jpg"), "JPEG", 90));
    QByteArray doc;
    for (int i = 0; i < 4000; ++i) doc += QByteArray("Day ") + QByteArray::number(i) + ": trail, lake, hut.\n";
    QVERIFY(writeFile(file("Trip plan.txt"), doc));
    QVERIFY(writeFile(file("empty.txt"), {}));
    QVERIFY(relay_.start());
    alice_ = parley::test::registerUser(relay_.url(), home_.filePath("alice"), "alice");
    bob_ = parley::test::registerUser(relay_.url(), home_.filePath("bob"), "bob");
    QVERIFY(alice_ && bob_);
    aw_ = std::make_unique<MainWindow>(alice_.get(), home_.filePath("alice"));
    bw_ = std::make_unique<MainWindow>(bob_.get(), home_.filePath("bob"));
    aw_->resize(1000, 700);
    bw_->resize(1000, 700);
    aw_->show();
    bw_->show();
    QVERIFY(QTest::qWaitForWindowExposed(aw_.get()));
    QVERIFY(QTest::qWaitForWindowExposed(bw_.get()));
    bw_->conversationView()->setOpener([this](const QUrl& url) {
      opened_ << url.toLocalFile();
      return true;
    });
  }

  void cleanupTestCase() {
    aw_.reset();
    bw_.reset();
    alice_.reset();
    bob_.reset();
  }

  void dropPasteAttachAndSend() {
    aw_->openConversation("bob");
    auto* view = aw_->conversationView();
    auto* composer = view->composer();
    auto* pending = composer->pendingFiles();

    // Only members send files to a group.
    QString gerror;
    QCOMPARE(alice_->sendFile("#" + QString(32, '0'), file("Trip plan.txt"), {}, &gerror), 0);
    QCOMPARE(gerror, QString("not a member of this group"));

    // Refused, with the reason, and nothing attached.
    drop(view, {QUrl::fromLocalFile(home_.filePath("files-in"))});
    auto* error = view->findChild<QLabel*>("sendError");
    QVERIFY(error->isVisible());
    QVERIFY2(error->text().contains("is a folder"), qPrintable(error->text()));
    composer->addFiles({file("empty.txt")});
    QVERIFY2(error->text().contains("empty.txt is empty"), qPrintable(error->text()));
    QVERIFY(pending->isEmpty());
    QVERIFY(pending->isHidden());

    // A picture dropped on the messages, a document through the composer, and a copied
    // picture pasted into the text field.
    drop(view->list(), {QUrl::fromLocalFile(file("Sunset at the lake.jpg"))});
    composer->addFiles({file("Trip plan.txt")});
    auto* mime = new QMimeData;
    mime->setImageData(sunset(300, 200));
    QApplication::clipboard()->setMimeData(mime);
    composer->editor()->setFocus();
    QTest::keySequence(composer->editor(), QKeySequence::Paste);
    QCOMPARE(pending->files().size(), 3);
    QVERIFY(pending->isVisible());
    QVERIFY(QFileInfo(pending->files()[2]).fileName().startsWith("Pasted image "));
    QVERIFY(composer->sendButton()->isEnabled());
    QTest::keyClicks(composer->editor(), "Photos from Saturday");
    view->findChild<QLabel*>("sendError")->hide();
    screenshot(aw_.get(), "files-attach");
    QTest::keyClick(composer->editor(), Qt::Key_Return);
    QCOMPARE(view->uploads()->rows(), 3);  // one running, two waiting their turn
    QVERIFY(view->uploads()->isVisible());

    // Each file is a message; the text is the last one's caption.
    QVERIFY(pending->isEmpty());
    QVERIFY(composer->editor()->toPlainText().isEmpty());
    auto* amodel = view->list()->model();
    QVERIFY(spinUntil([&] { return amodel->rowCount() == 3; }, kGuiWaitMs));
    QVERIFY(spinUntil([&] { return view->uploads()->rows() == 0 && view->uploads()->isHidden(); }, kGuiWaitMs));
    const int photo = rowWithFile(amodel, "Sunset at the lake.jpg");
    QVERIFY(photo >= 0);
    QCOMPARE(amodel->index(photo, 0).data(MessageModel::CaptionRole).toString(), QString());
    // One upload at a time per conversation: the messages come in the order attached.
    QCOMPARE(photo, 0);
    QCOMPARE(rowWithFile(amodel, "Trip plan.txt"), 1);
    const auto pasted = amodel->index(2, 0).data(MessageModel::AttachmentRole).value<AttachmentInfo>();
    QVERIFY(pasted.fileName.startsWith("Pasted image "));
    QCOMPARE(amodel->index(2, 0).data(MessageModel::CaptionRole).toString(), QString("Photos from Saturday"));
    // The conversation list says what the last message was.
    auto* list = aw_->conversationList();
    QVERIFY(spinUntil([&] {
      return list->model()->rowCount() == 1 &&
             ConversationDelegate::previewText(list->model()->index(0, 0)) == "Photo · Photos from Saturday";
    }, kGuiWaitMs));
  }

  void pictureDownloadsAndOpensInTheViewer() {
    bw_->openConversation("alice");
    auto* view = bw_->conversationView();
    auto* model = view->list()->model();
    QVERIFY(spinUntil([&] { return model->rowCount() == 3; }, kGuiWaitMs));
    const int row = rowWithFile(model, "Sunset at the lake.jpg");
    QVERIFY(row >= 0);
    const auto a = model->index(row, 0).data(MessageModel::AttachmentRole).value<AttachmentInfo>();
    QVERIFY(!a.thumbnail.isEmpty());
    QCOMPARE(a.width, 1200);
    QCOMPARE(a.height, 800);
    QVERIFY(a.localPath.isEmpty());
    // Shown as a picture: its block keeps the 3:2 shape.
    const auto block = view->list()->messageDelegate()->attachmentRect(view->list()->visualRect(model->index(row, 0)),
                                                                        model->index(row, 0));
    QVERIFY(block.width() > 150);
    QVERIFY(qAbs(block.width() * 2 - block.height() * 3) <= 6);

    clickFile(view->list(), row);
    QVERIFY(view->transfers()->downloadOf(a.clientMsgId));
    QVERIFY(spinUntil([&] { return view->imageViewer() != nullptr; }, kGuiWaitMs));
    QVERIFY(view->imageViewer()->loaded());
    const auto saved = model->index(row, 0).data(MessageModel::AttachmentRole).value<AttachmentInfo>().localPath;
    QVERIFY(saved.startsWith(home_.filePath("bob/files/")));
    QCOMPARE(readAll(saved), readAll(file("Sunset at the lake.jpg")));
    screenshot(bw_.get(), "files");
    QTest::keyClick(view->imageViewer(), Qt::Key_Escape);
    QVERIFY(!view->imageViewer() || view->imageViewer()->isHidden());
  }

  void documentDownloadsThenOpensAndSavesAs() {
    auto* view = bw_->conversationView();
    auto* model = view->list()->model();
    const int row = rowWithFile(model, "Trip plan.txt");
    QVERIFY(row >= 0);
    clickFile(view->list(), row);  // first click: download
    QVERIFY(spinUntil([&] {
      return !model->index(row, 0).data(MessageModel::AttachmentRole).value<AttachmentInfo>().localPath.isEmpty();
    }, kGuiWaitMs));
    QVERIFY(opened_.isEmpty());
    clickFile(view->list(), row);  // second click: open with the system's application
    QCOMPARE(opened_.size(), 1);
    QCOMPARE(readAll(opened_[0]), readAll(file("Trip plan.txt")));

    QVERIFY(spinUntil([&] {
      return ConversationDelegate::previewText(bw_->conversationList()->model()->index(0, 0)) == "Photo · Photos from Saturday";
    }, kGuiWaitMs));
    const auto target = home_.filePath("exported plan.txt");
    QVERIFY(view->saveFileAs(model->index(row, 0), target));
    QCOMPARE(readAll(target), readAll(file("Trip plan.txt")));
  }

  // "Forward…" sends a copy of a file on this device, and what follows it only after it, as
  // it was written; a file not downloaded yet is left out, and said so.
  void forwardingAFileSendsACopyOfIt() {
    auto* view = bw_->conversationView();
    auto* model = view->list()->model();
    QString err;
    QVERIFY(alice_->sendText("bob", "see the plan above", &err));
    const auto row_saying = [&](const QString& body) {
      for (int i = 0; i < model->rowCount(); ++i)
        if (model->index(i, 0).data(MessageModel::BodyRole).toString() == body) return i;
      return -1;
    };
    QVERIFY(bob_->sendText("alice", "bob's own words", &err));
    QVERIFY(spinUntil([&] { return row_saying("see the plan above") >= 0 && row_saying("bob's own words") >= 0; },
                      kGuiWaitMs));
    const int plan = rowWithFile(model, "Trip plan.txt");
    int pasted = -1;
    for (int i = 0; i < model->rowCount(); ++i)
      if (model->index(i, 0).data(MessageModel::AttachmentRole).value<AttachmentInfo>().fileName.startsWith("Pasted image "))
        pasted = i;
    QVERIFY(plan >= 0 && pasted >= 0);
    // What alice has from bob, newest last: file names, or the words, marked when forwarded.
    const auto from_bob = [&] {
      QStringList out;
      for (const auto& m : alice_->history("bob")) {
        if (m.sender != "bob") continue;
        const auto a = m.hasAttachment ? alice_->attachment(m.clientMsgId) : std::nullopt;
        out << (m.forwarded ? "forwarded: " : "") + (a ? a->fileName : m.body);
      }
      return out;
    };
    QVERIFY(spinUntil([&] { return from_bob() == QStringList{"bob's own words"}; }, kGuiWaitMs));
    QStringList offered;
    bool send_was_off = false;
    QTimer::singleShot(0, [&] {
      auto* dialog = qobject_cast<ForwardDialog*>(QApplication::activeModalWidget());
      if (!dialog) return;
      send_was_off = !dialog->sendButton()->isEnabled();  // nothing chosen yet
      for (int i = 0; i < dialog->chatList()->count(); ++i) offered << dialog->chatList()->item(i)->text();
      auto* alice = dialog->chatList()->findItems("alice", Qt::MatchExactly).value(0);
      if (!alice) return dialog->reject();
      QTest::mouseClick(dialog->chatList()->viewport(), Qt::LeftButton, {},
                        dialog->chatList()->visualItemRect(alice).center());
      dialog->sendButton()->click();
    });
    view->forward({QPersistentModelIndex(model->index(plan, 0)), QPersistentModelIndex(model->index(pasted, 0)),
                   QPersistentModelIndex(model->index(row_saying("see the plan above"), 0)),
                   QPersistentModelIndex(model->index(row_saying("bob's own words"), 0))});
    QCOMPARE(offered, QStringList{"alice"});
    QVERIFY(send_was_off);
    auto* error = view->findChild<QLabel*>("sendError");
    QVERIFY2(error->isVisible() && error->text().contains("Pasted image ") && error->text().contains("download it first"),
             qPrintable(error->text()));
    // The words after the file wait for it: they arrive after it, not while it uploads. What
    // alice wrote comes back to her as forwarded; bob's own words are his again.
    QVERIFY(spinUntil([&] { return from_bob().size() == 4; }, kGuiWaitMs));
    QCOMPARE(from_bob(), (QStringList{"bob's own words", "forwarded: Trip plan.txt", "forwarded: see the plan above",
                                      "bob's own words"}));
    QVERIFY(spinUntil([&] { return view->uploads()->rows() == 0; }, kGuiWaitMs));
    error->hide();
  }

  void downloadAndUploadCanBeCancelled() {
    QByteArray big(3 * 1024 * 1024, '\0');
    for (int i = 0; i < big.size(); ++i) big[i] = char((i * 131) ^ (i >> 9));
    QVERIFY(writeFile(file("archive.bin"), big));

    // Alice sends it; bob starts its download and cancels it with the cross.
    auto* aview = aw_->conversationView();
    aview->composer()->addFiles({file("archive.bin")});
    QTest::keyClick(aview->composer()->editor(), Qt::Key_Return);
    auto* bview = bw_->conversationView();
    auto* bmodel = bview->list()->model();
    QVERIFY(spinUntil([&] { return rowWithFile(bmodel, "archive.bin") >= 0; }, kGuiWaitMs));
    const int row = rowWithFile(bmodel, "archive.bin");
    const auto id = bmodel->index(row, 0).data(MessageModel::ClientMsgIdRole).toByteArray();
    QVERIFY(spinUntil([&] {
      return ConversationDelegate::previewText(bw_->conversationList()->model()->index(0, 0)) == "File · archive.bin";
    }, kGuiWaitMs));
    clickFile(bview->list(), row);
    QVERIFY(bview->transfers()->downloadOf(id));
    const auto index = bmodel->index(row, 0);
    const auto rect = bview->list()->visualRect(index);
    QCOMPARE(bview->list()->messageDelegate()->hitTest(rect, index, bview->list()->messageDelegate()->actionRectFor(rect, index).center()),
             MessageDelegate::Hit::Cancel);
    clickFile(bview->list(), row, /*action=*/true);
    QVERIFY(spinUntil([&] { return !bview->transfers()->downloadOf(id); }, kGuiWaitMs));
    QVERIFY(bmodel->index(row, 0).data(MessageModel::AttachmentRole).value<AttachmentInfo>().localPath.isEmpty());
    QVERIFY(!bview->findChild<QLabel*>("sendError")->isVisible());  // cancelling is not an error

    // An upload cancelled while it is being encrypted sends nothing.
    auto* amodel = aview->list()->model();
    const int before = amodel->rowCount();
    aview->composer()->addFiles({file("archive.bin")});
    QTest::keyClick(aview->composer()->editor(), Qt::Key_Return);
    QCOMPARE(aview->uploads()->rows(), 1);
    auto* cancel = aview->uploads()->findChild<QPushButton*>("cancelUpload");
    QVERIFY(cancel);
    QTest::mouseClick(cancel, Qt::LeftButton);
    QVERIFY(spinUntil([&] { return aview->uploads()->rows() == 0; }, kGuiWaitMs));
    QTest::qWait(300);
    QCOMPARE(amodel->rowCount(), before);
    QVERIFY(alice_->queuedFiles().isEmpty());
  }

  void filesInAGroup() {
    const auto gid = parley::test::createGroup(alice_.get(), "Hikers", {"bob"});
    QVERIFY(!gid.isEmpty());
    const auto peer = Messenger::groupPeer(gid);
    aw_->openConversation(peer);
    drop(aw_->conversationView(), {QUrl::fromLocalFile(file("Trip plan.txt"))});
    QTest::keyClicks(aw_->conversationView()->composer()->editor(), "The plan, for everyone");
    QTest::keyClick(aw_->conversationView()->composer()->editor(), Qt::Key_Return);

    QVERIFY(spinUntil([&] { return !bob_->history(peer).isEmpty(); }, kGuiWaitMs));
    bw_->openConversation(peer);
    auto* view = bw_->conversationView();
    auto* model = view->list()->model();
    QVERIFY(spinUntil([&] { return rowWithFile(model, "Trip plan.txt") >= 0; }, kGuiWaitMs));
    const int row = rowWithFile(model, "Trip plan.txt");
    QCOMPARE(model->index(row, 0).data(MessageModel::SenderRole).toString(), QString("alice"));
    QCOMPARE(model->index(row, 0).data(MessageModel::CaptionRole).toString(), QString("The plan, for everyone"));
    const auto target = home_.filePath("group plan.txt");
    QVERIFY(view->saveFileAs(model->index(row, 0), target));  // downloads first
    QVERIFY(spinUntil([&] { return QFileInfo::exists(target); }, kGuiWaitMs));
    QCOMPARE(readAll(target), readAll(file("Trip plan.txt")));
  }

  // Alice quits while one file uploads and another waits its turn; when she opens the app
  // again both are listed and sent, in the order she attached them, once each.
  void filesBeingSentWhenTheAppQuitsAreSentWhenItOpens() {
    QByteArray big(6 * 1024 * 1024, '\0');
    for (int i = 0; i < big.size(); ++i) big[i] = char((i * 197) ^ (i >> 11));
    QVERIFY(writeFile(file("first.bin"), big));
    QVERIFY(writeFile(file("second.txt"), "the second file, attached after the first\n"));
    aw_->openConversation("bob");
    auto* aview = aw_->conversationView();
    QVERIFY(writeFile(file("not this one.txt"), "attached by mistake\n"));
    aview->composer()->addFiles({file("first.bin"), file("second.txt"), file("not this one.txt")});
    QTest::keyClick(aview->composer()->editor(), Qt::Key_Return);
    QCOMPARE(aview->uploads()->rows(), 3);
    // One waiting its turn is cancelled: it is not sent later either.
    const auto waiting = aview->transfers()->uploadsIn("bob");
    QCOMPARE(waiting.size(), 3);
    QVERIFY(waiting[2].waiting);
    aview->transfers()->cancel(waiting[2].id);
    QCOMPARE(aview->uploads()->rows(), 2);
    aw_.reset();
    alice_.reset();

    QString error;
    alice_ = Messenger::open(home_.filePath("alice"), &error);
    QVERIFY2(alice_, qPrintable(error));
    QCOMPARE(alice_->queuedFiles().size(), 2);
    aw_ = std::make_unique<MainWindow>(alice_.get(), home_.filePath("alice"));
    aw_->resize(1000, 700);
    aw_->show();
    QVERIFY(QTest::qWaitForWindowExposed(aw_.get()));
    aw_->openConversation("bob");
    QCOMPARE(aw_->conversationView()->uploads()->rows(), 2);
    screenshot(aw_.get(), "files-after-restart");
    alice_->start();

    bw_->openConversation("alice");
    auto* bmodel = bw_->conversationView()->list()->model();
    QVERIFY(spinUntil([&] { return rowWithFile(bmodel, "second.txt") >= 0; }, kGuiWaitMs));
    const int first = rowWithFile(bmodel, "first.bin");
    QVERIFY(first >= 0);
    QVERIFY(first < rowWithFile(bmodel, "second.txt"));
    QVERIFY(spinUntil([&] { return aw_->conversationView()->uploads()->rows() == 0; }, kGuiWaitMs));
    QVERIFY(alice_->queuedFiles().isEmpty());
    int copies = 0;
    for (int i = 0; i < bmodel->rowCount(); ++i) {
      const auto a = bmodel->index(i, 0).data(MessageModel::AttachmentRole).value<AttachmentInfo>();
      copies += a.fileName == "first.bin" || a.fileName == "second.txt";
    }
    QCOMPARE(copies, 2);
    QCOMPARE(rowWithFile(bmodel, "not this one.txt"), -1);
  }
};

QTEST_MAIN(FilesTest)
#include "files_test.moc"
