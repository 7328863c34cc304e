// parley-cli: the messenger for scripts, bots and end-to-end tests. One JSON object per
// line on stdout for everything it reports; human-readable errors on stderr.
#include <CLI/CLI.hpp>
#include <QCoreApplication>
#include <QTimer>
#include <atomic>
#include <csignal>

#include "commands.hpp"

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);
  parley::cli::Options o;
  CLI::App cli{"parley-cli: end-to-end-encrypted Parley messaging from the command line"};
  // The NAME of a command that takes a one-to-one or a group chat.
  const auto chat_name = [&o](CLI::App* command) {
    command->add_option("name", o.name, "Username, or # and the group id (hex) for a group")->required();
  };
  cli.require_subcommand(1);
  cli.add_option("--profile", o.profile, "Profile directory (created by `register`)")->required();
  cli.add_option("--proxy", o.proxy, "Reach the relay through socks5://HOST:PORT or http://HOST:PORT");
  cli.add_option("--passphrase-file", o.passphrase_file,
                 "The profile's passphrase, the file's first line (else PARLEY_PASSPHRASE, else asked on"
                 " the terminal); with register, protects the new profile");
  auto* passphrase = cli.add_subcommand(
      "passphrase", "Protect the profile with a passphrase (set) or stop protecting it (remove)");
  passphrase->add_option("action", o.passphrase_action, "set or remove")->required()
      ->check(CLI::IsMember({"set", "remove"}));
  passphrase->add_option("--new-passphrase-file", o.new_passphrase_file,
                         "set: the new passphrase, the file's first line (else asked twice on the terminal)");
  auto* reg = cli.add_subcommand("register", "Create a profile and register NAME on the relay");
  reg->add_option("--server", o.server, "Relay URL, e.g. ws://127.0.0.1:7700")->required();
  reg->add_option("name", o.name, "Username")->required();
  auto* send = cli.add_subcommand("send", "Send TEXT to NAME and wait until the relay has it");
  send->add_option("name", o.name)->required();
  send->add_option("text", o.text)->required();
  send->add_option("--timeout", o.timeout_s, "Seconds to wait for the relay (then it stays queued)");
  send->add_option("--reply-to", o.reply_to,
                   "Answer the message with this id (hex, as `history` or `listen` printed)");
  auto* send_file = cli.add_subcommand(
      "send-file", "Encrypt the file at PATH, upload it and send it to NAME (progress on stderr)");
  chat_name(send_file);
  send_file->add_option("path", o.path)->required()->check(CLI::ExistingFile);
  send_file->add_option("--caption", o.text, "Text shown with the file");
  send_file->add_option("--reply-to", o.reply_to,
                        "Answer the message with this id (hex, as `history` or `listen` printed)");
  send_file->add_option("--timeout", o.timeout_s, "Give up after this many seconds (default: none)");
  auto* react = cli.add_subcommand(
      "react", "React to message MSGID of the conversation with NAME (or # and a group id) with EMOJI,"
               " replacing your earlier reaction to it, or take yours back (--remove)");
  chat_name(react);
  react->add_option("msgid", o.msg_id, "The message id (hex) that `listen` or `history` printed")->required();
  react->add_option("emoji", o.text, "The reaction, e.g. 👍 (at most 32 bytes)");
  react->add_flag("--remove", o.clear, "Take your reaction back");
  react->add_option("--timeout", o.timeout_s, "Seconds to wait for the relay (then it stays queued)");
  auto* edit = cli.add_subcommand(
      "edit", "Replace the words of your message MSGID to NAME (or # and a group id) with TEXT, for"
              " everyone (a file: its caption; empty for none); within a day of sending it");
  chat_name(edit);
  edit->add_option("msgid", o.msg_id, "The message id (hex) that `listen` or `history` printed")->required();
  edit->add_option("text", o.text, "The new words")->required();
  edit->add_option("--timeout", o.timeout_s, "Seconds to wait for the relay (then it stays queued)");
  auto* remove = cli.add_subcommand(
      "delete", "Delete message MSGID of the conversation with NAME (or # and a group id) from this"
                " device, or, with --for-everyone, take your own message back for everyone");
  chat_name(remove);
  remove->add_option("msgid", o.msg_id, "The message id (hex) that `listen` or `history` printed")->required();
  remove->add_flag("--for-everyone", o.for_everyone, "Take your message back for everyone (within a day of sending it)");
  remove->add_option("--timeout", o.timeout_s, "Seconds to wait for the relay (then it stays queued)");
  auto* fetch = cli.add_subcommand(
      "fetch", "Download, verify and decrypt the file of message MSGID into DIR (progress on stderr)");
  fetch->add_option("msgid", o.msg_id, "The message id (hex) that `listen` or `history` printed")
      ->required();
  fetch->add_option("dir", o.path)->required()->check(CLI::ExistingDirectory);
  fetch->add_option("--timeout", o.timeout_s, "Give up after this many seconds (default: none)");
  auto* listen = cli.add_subcommand("listen", "Stay online and print every event as JSON");
  listen->add_flag("--mark-read", o.mark_read, "Send read receipts for messages as they arrive");
  listen->add_option("--count", o.count, "Exit after this many messages");
  listen->add_option("--timeout", o.timeout_s, "Exit after this many seconds");
  listen->add_option("--subscribe", o.subscribe, "Follow these users' presence");
  auto* history = cli.add_subcommand("history", "Print the conversation with NAME");
  history->add_option("name", o.name)->required();
  cli.add_subcommand("contacts", "List contacts");
  cli.add_subcommand("chats", "List conversations, pinned first then most recent first, with unread counts,"
                              " whether each is muted, pinned or archived, and each one's last message");
  auto* mute = cli.add_subcommand(
      "mute", "Mute the conversation with NAME (or # and a group id) on this device: no notifications,"
              " and its unread messages stay out of the total; until unmuted, or for --for");
  chat_name(mute);
  auto* mute_for = mute->add_option("--for", o.duration, "How long, e.g. 30m, 8h, 7d or 2w, up to 52w (default: until `unmute`)");
  auto* unmute = cli.add_subcommand("unmute", "Unmute the conversation with NAME (or # and a group id)");
  chat_name(unmute);
  auto* pin = cli.add_subcommand(
      "pin", "Keep the conversation with NAME (or # and a group id) at the top of the list on this device"
             " (at most 5 pinned)");
  chat_name(pin);
  auto* unpin = cli.add_subcommand("unpin", "Stop keeping the conversation with NAME at the top");
  chat_name(unpin);
  auto* archive = cli.add_subcommand(
      "archive", "Archive the conversation with NAME (or # and a group id) on this device: out of the main list"
                 " (and unpinned) until you unarchive it, send a message there, or one arrives while it is not muted");
  chat_name(archive);
  auto* unarchive = cli.add_subcommand("unarchive", "Bring the archived conversation with NAME back to the main list");
  chat_name(unarchive);
  auto* mark_unread = cli.add_subcommand(
      "mark-unread", "Mark the conversation with NAME (or # and a group id) unread on this device, to come back"
                     " to (nothing is sent); reading it clears the mark (`read`, opening it in the app, or a message"
                     " of it arriving under `listen --mark-read`)");
  chat_name(mark_unread);
  mark_unread->add_flag("--clear", o.clear, "Take the mark off without reading anything");
  auto* clear = cli.add_subcommand(
      "clear", "Delete every message of the conversation with NAME (or # and a group id) from this device"
               " (the others keep theirs; yours still on their way go on)");
  chat_name(clear);
  auto* disappear = cli.add_subcommand(
      "disappear", "Set the disappearing-messages timer of the conversation with NAME (or # and a group id),"
                   " for both sides: messages sent from then on go from each device that long after they"
                   " are read there (yours: after the relay took them)");
  chat_name(disappear);
  auto* disappear_after =
      disappear->add_option("--after", o.duration, "How long messages live, e.g. 30s, 5m, 8h, 7d or 4w, up to 365d");
  auto* disappear_off = disappear->add_flag("--off", o.off, "Turn disappearing messages off");
  disappear_after->excludes(disappear_off);
  disappear->add_option("--timeout", o.timeout_s, "Seconds to wait for the relay (then the change stays queued)");
  auto* default_disappear = cli.add_subcommand(
      "default-disappear", "Show or set the disappearing-messages timer that the chats you start (your first"
                           " message to someone you have no conversation with) and the groups you create take as"
                           " their first change; kept on this device");
  auto* default_after = default_disappear->add_option("--after", o.duration,
                                                      "How long messages live, e.g. 30s, 5m, 8h, 7d or 4w, up to 365d");
  auto* default_off = default_disappear->add_flag("--off", o.off, "No timer for new chats");
  default_after->excludes(default_off);
  auto* read = cli.add_subcommand(
      "read", "Mark the conversation with NAME (or # and a group id) read: its read receipts go to the"
              " relay, and a mark-unread mark goes");
  chat_name(read);
  read->add_option("--timeout", o.timeout_s, "Seconds to wait for the relay (then the receipts stay queued)");
  auto* queued = cli.add_subcommand(
      "queued", "List the files queued to send but not sent (a send-file stopped part-way; run it "
                "again to go on), or forget one with --forget ID");
  queued->add_option("--forget", o.forget, "The id `queued` printed: drop that file and its encrypted copy")
      ->check(CLI::PositiveNumber);
  auto* verify = cli.add_subcommand("verify", "Print the safety number shared with NAME");
  verify->add_option("name", o.name)->required();
  verify->add_option("--accept", o.accept,
                     "Accept NAME's new identity key: the new safety number `verify NAME` printed,"
                     " once compared with NAME (spaces optional)");
  cli.add_subcommand("status", "Connect and report the profile and connection state");
  auto* group = cli.add_subcommand(
      "group", "Groups: create NAME MEMBER... | add ID USER... | remove ID USER... | leave ID |"
               " send ID TEXT [--reply-to MSGID] | members ID | rename ID NAME [--description TEXT] |"
               " avatar ID (FILE | --clear) | info ID | receipts ID MSGID"
               " (ID is the hex group id `create` prints, MSGID a message id `send` prints)");
  group->add_option("action", o.group_action,
                    "create, add, remove, leave, send, members, rename, avatar, info or receipts")
      ->required()
      ->check(CLI::IsMember({"create", "add", "remove", "leave", "send", "members", "rename", "avatar",
                             "info", "receipts"}));
  group->add_option("args", o.args, "The action's arguments");
  auto* description = group->add_option("--description", o.description,
                                         "rename: the group's new description (admins only)");
  group->add_flag("--clear", o.clear, "avatar: remove the group's avatar (admins only)");
  group->add_option("--reply-to", o.reply_to,
                    "send: answer the group's message with this id (hex, as `history` or `listen` printed)");
  group->add_option("--timeout", o.timeout_s, "Seconds to wait for the relay");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? 0 : parley::cli::kExitUsage;
  }
  o.command = cli.get_subcommands().front()->get_name();
  o.has_description = description->count() > 0;
  o.has_duration = mute_for->count() > 0 || disappear_after->count() > 0 || default_after->count() > 0;

  // Only an atomic store in the handler; the event loop notices it.
  static std::atomic<bool> stop_requested{false};
  std::signal(SIGINT, [](int) { stop_requested = true; });
  std::signal(SIGTERM, [](int) { stop_requested = true; });
  QTimer stop_poll;
  QObject::connect(&stop_poll, &QTimer::timeout, [] {
    if (stop_requested) QCoreApplication::exit(0);
  });
  stop_poll.start(100);
  int code = 0;
  QTimer::singleShot(0, [&] {
    code = parley::cli::run(o);
    if (code != parley::cli::kKeepRunning) QCoreApplication::exit(code);
  });
  const int loop_code = app.exec();
  return parley::cli::finish(code == parley::cli::kKeepRunning ? loop_code : code);
}
