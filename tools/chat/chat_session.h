// One user's chat over one Client: what is subscribed, who is being talked to, what is known of
// others' presence, and what each typed line does. cmd_chat.cpp wires it to the loop.
//
// Messages replayed at login (the session backlog, later the user's stream, SPEC 5) are marked
// "(offline)": they arrive before the SUBACK of users/{me}/# is processed, or carry a `ts`
// older than the moment of login.
#pragma once

#include <cstdint>
#include <deque>
#include <set>
#include <string>
#include <vector>

#include "tools/chat/presence_record.h"
#include "tools/chat/terminal.h"
#include "tools/client/client.h"

namespace herald::tools::chat {

class ChatSession {
public:
    ChatSession(Client& client, Terminal& terminal, std::string me);

    // Client callbacks.
    void on_connected();
    void on_message(const mqtt::Publish& message, std::string_view topic);
    void on_publish_done(mqtt::ReasonCode reason);
    void on_closed(const CloseInfo& info);

    // Terminal callbacks: a typed line; end of input (Ctrl-D, Ctrl-C, end of a script).
    void on_line(std::string line);
    void on_eof();

    int exit_status() const { return status_; }

private:
    void run_line(const std::string& line);
    void send_text(const std::string& text);
    void cmd_to(const std::string& args);
    void cmd_group(const std::string& args);
    void cmd_status(const std::string& args);
    void cmd_who();
    void quit();
    void maybe_disconnect();  // after /quit: once every sent message is acknowledged
    void on_presence(const mqtt::Publish& message, const std::string& user);
    void publish(const std::string& topic, const std::string& payload, std::string what);
    void update_prompt();
    void info(const std::string& text) { terminal_.print("* " + text); }

    Client& client_;
    Terminal& terminal_;
    std::string me_;
    std::string target_;      // user or group name, "" until /to or /group
    bool target_group_ = false;
    std::set<std::string> groups_;          // joined this session (subscribed groups/{g}/#)
    std::set<std::string> pending_groups_;  // their SUBACK not processed yet: backlog comes now
    PresenceBook presence_;
    std::set<std::string> unreadable_;  // users whose bad presence record was reported

    bool connected_ = false;
    bool inbox_subscribed_ = false;  // the SUBACK of users/{me}/# has been processed
    int64_t login_ms_ = 0;
    std::vector<std::string> early_lines_;  // typed before the connection was up
    std::deque<std::string> inflight_;      // what each unacknowledged QoS 1 publish was, in order
    bool quitting_ = false;
    bool closed_ = false;
    int status_ = 0;
};

}  // namespace herald::tools::chat
