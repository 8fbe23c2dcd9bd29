// The broker's answers to the admin API about live users (control.h PresenceQuery):
// getPresence, listOnline, kickUser, and the kick that follows a ban or a deleted user.
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "broker/core/broker_impl.h"
#include "broker/core/presence_json.h"

namespace herald::core {

struct Broker::Impl::PresenceAnswers final : public PresenceQuery {
    explicit PresenceAnswers(Broker::Impl& broker) : m_(broker) {}

    void get_presence_in_loop(const std::string& user, Answer done) override {
        const UserPresence* p = m_.presence.find(user);
        if (!p) {
            done("no presence known for user '" + user + "' (never connected)", {});
            return;
        }
        // The admin sees the truth, invisible or not: the public record plus the devices.
        nlohmann::json j = nlohmann::json::parse(presence_record_json(user, *p));
        j["state"] = p->online ? "online" : "offline";
        j["status"] = p->status;
        j["text"] = p->text;
        j["devices"] = nlohmann::json::parse(presence_devices_json(user, *p))["devices"];
        done({}, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }

    void list_online_in_loop(const std::string& cursor, size_t limit, Answer done) override {
        std::vector<std::string> page = m_.presence.list_online(cursor, limit);
        nlohmann::json j;
        j["users"] = page;
        const bool more = page.size() == limit && !m_.presence.list_online(page.back(), 1).empty();
        j["cursor"] = more ? nlohmann::json(page.back()) : nlohmann::json(nullptr);
        j["total"] = m_.presence.online_users();
        done({}, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }

    void kick_user_in_loop(const std::string& user, const std::string& reason, Answer done) override {
        const std::string why = reason.empty() ? "kicked by an administrator" : reason;
        const size_t kicked = m_.kick_user(user, mqtt::ReasonCode::AdministrativeAction, why);
        spdlog::info("User {} kicked ({} devices): {}", printable(user), kicked, printable(why));
        done({}, nlohmann::json{{"user", user}, {"devices", kicked}}.dump(
                     -1, ' ', false, nlohmann::json::error_handler_t::replace));
    }

    void user_banned_in_loop(const std::string& user, uint64_t until_wall_ms,
                             const std::string& reason) override {
        (void)until_wall_ms;
        m_.kick_user(user, mqtt::ReasonCode::AdministrativeAction,
                     reason.empty() ? std::string("banned") : "banned: " + reason);
    }

    void user_deleted_in_loop(const std::string& user) override {
        m_.kick_user(user, mqtt::ReasonCode::AdministrativeAction, "user deleted");
    }

    Broker::Impl& m_;
};

void Broker::Impl::init_presence_query() { presence_query = std::make_unique<PresenceAnswers>(*this); }

}  // namespace herald::core
