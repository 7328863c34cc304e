// parley: the desktop app. Everything lives in parley_client_ui; this only reads the command
// line and hands over to the AppController.
#include <QApplication>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QIcon>
#include <QSettings>
#include <QTimer>
#include <cstdio>

#include "app_controller.hpp"
#include "main/main_window.hpp"
#include "startup_probe.hpp"
#include "theme/theme.hpp"

namespace {

struct Cli {
  QCommandLineParser parser;
  QCommandLineOption profile{QStringLiteral("profile"),
                             QStringLiteral("Profile to open or create: a name (kept under %1) or a folder path.")
                                 .arg(parley::app::AppController::defaultProfilesRoot()),
                             QStringLiteral("name|dir")};
  QCommandLineOption relay{QStringLiteral("relay"), QStringLiteral("Relay the welcome screen suggests."),
                           QStringLiteral("url"), QStringLiteral("ws://127.0.0.1:7700")};
  QCommandLineOption theme{QStringLiteral("theme"),
                           QStringLiteral("system, light or dark (default: the saved choice)."), QStringLiteral("mode")};
  Cli() {
    parser.setApplicationDescription(QStringLiteral("Parley: end-to-end encrypted messenger"));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addOptions({profile, relay, theme});
  }
};

void name_application() {
  QCoreApplication::setApplicationName(QStringLiteral("parley"));
  QCoreApplication::setApplicationVersion(QStringLiteral(PARLEY_VERSION));
}

}  // namespace

int main(int argc, char** argv) {
  QElapsedTimer since_start;
  since_start.start();
  // --help and --version need no display: answer them before a QApplication exists.
  for (int i = 1; i < argc; ++i) {
    const QByteArray arg(argv[i]);
    if (arg == "-h" || arg == "--help" || arg == "--help-all" || arg == "-v" || arg == "--version") {
      QCoreApplication core(argc, argv);
      name_application();
      Cli cli;
      cli.parser.process(core);  // prints and exits
    }
  }
  QApplication app(argc, argv);
  name_application();
  QApplication::setApplicationDisplayName(QStringLiteral("Parley"));
  QApplication::setDesktopFileName(QStringLiteral("parley"));

  Cli cli;
  cli.parser.process(app);
  const auto mode = cli.parser.isSet(cli.theme)
                        ? cli.parser.value(cli.theme)
                        : QSettings().value(QStringLiteral("theme"), QStringLiteral("system")).toString();
  parley::app::Theme::apply(parley::app::Theme::modeFromString(mode));
  QApplication::setWindowIcon(QIcon(QStringLiteral(":/parley/icons/parley.svg")));

  parley::app::AppController controller(
      {cli.parser.value(cli.profile), QUrl(cli.parser.value(cli.relay)), {}});
  parley::app::StartupProbe probe(&controller, since_start);
  controller.start();
  return app.exec();
}
