// heraldd, the broker process: reads the command line and the configuration, wires Broker,
// Store, Clock and Server together on one libuv loop, and runs until SIGINT/SIGTERM.
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <uv.h>

#include "broker/admin/control_api.h"
#include "broker/admin/first_admin.h"
#include "broker/config/config_file.h"
#include "broker/core/broker.h"
#include "broker/core/config.h"
#include "broker/core/store.h"
#include "broker/identity/auth_setup.h"
#include "broker/identity/store_identity.h"
#include "broker/net/logging.h"
#include "broker/net/server.h"
#include "broker/net/tls_context.h"
#include "broker/net/uv_clock.h"
#include "storage/core_store.h"
#include "storage/data_lock.h"
#include "storage/store.h"

namespace {

using namespace herald;

struct Options {
    std::string config_path;
    int port = -1;  // -1: not given
    bool verbose = false;
    bool test_config = false;
};

bool same_listeners(const core::Config& a, const core::Config& b) {
    if (a.listeners.size() != b.listeners.size()) return false;
    for (size_t i = 0; i < a.listeners.size(); ++i) {
        const core::ListenerConfig& x = a.listeners[i];
        const core::ListenerConfig& y = b.listeners[i];
        if (x.type != y.type || x.address != y.address || x.port != y.port) return false;
    }
    return true;
}

// SIGHUP: re-read the file and apply what can change without dropping anyone.
void reload(const Options& options, core::Config& running, core::Broker& broker,
            identity::StoreIdentity& ident) {
    if (options.config_path.empty()) {
        spdlog::warn("no configuration file to reload");
        return;
    }
    core::Config fresh;
    std::string error;
    if (!config::load_config_file(options.config_path, fresh, error)) {
        spdlog::error("reload failed, the running configuration is kept: {}", error);
        return;
    }
    identity::AuthSetup check;
    if (error = identity::load_auth_setup(fresh, check); !error.empty()) {
        spdlog::error("reload failed, the running configuration is kept: {}", error);
        return;
    }
    if (!broker.reload(fresh, error)) {
        spdlog::error("reload failed, the running configuration is kept: {}", error);
        return;
    }
    if (error = ident.configure(fresh); !error.empty())  // read again: cannot fail but for a race
        spdlog::error("reload of the JWT keys / password file failed, the old ones are kept: {}", error);
    if (!options.verbose) net::set_log_level(fresh.log_level);
    if (!same_listeners(running, fresh)) {
        spdlog::warn("listener changes take effect only after a restart");
    }
    if (fresh.data_dir != running.data_dir || fresh.durability != running.durability) {
        spdlog::warn("data_dir and durability take effect only after a restart");
    }
    if (fresh.log_json != running.log_json) {
        spdlog::warn("log_json takes effect only after a restart");
    }
    running = std::move(fresh);
    spdlog::info("configuration reloaded from {}", options.config_path);
}

// TEST ONLY: HERALD_TEST_PBKDF2_ITERATIONS=N (1 <= N < the default) lowers the PBKDF2
// iteration count of the password hashes this broker makes (the first admin, the admin API,
// re-hashing at login). The integration suite starts ~1300 brokers, each hashing the first
// admin's password: at the default count that alone is minutes of CPU. A hash stores its own
// count, so hashes made this way still verify anywhere, and a broker started later without the
// variable re-hashes them at the next login. Never set it in production: it is logged as a
// warning. Returns the default when unset or not a number in range.
constexpr const char* kTestIterationsEnv = "HERALD_TEST_PBKDF2_ITERATIONS";

uint32_t hash_iterations() {
    const char* v = std::getenv(kTestIterationsEnv);
    uint32_t n = 0;
    if (!v || !*v) return auth::kDefaultPbkdf2Iterations;
    const char* end = v + std::char_traits<char>::length(v);
    auto [p, ec] = std::from_chars(v, end, n);
    if (ec != std::errc() || p != end || n < 1 || n >= auth::kDefaultPbkdf2Iterations) {
        spdlog::warn("{}={} ignored: not a number from 1 to {}", kTestIterationsEnv, v,
                     auth::kDefaultPbkdf2Iterations - 1);
        return auth::kDefaultPbkdf2Iterations;
    }
    spdlog::warn("{}={}: password hashes are made with {} PBKDF2 iterations instead of {} "
                 "(for tests only)", kTestIterationsEnv, n, n, auth::kDefaultPbkdf2Iterations);
    return n;
}

// The first admin (SPEC 7): created once, when no user has the admin role. A generated
// password is logged once, at warning level, so that whoever starts the broker can read it.
bool ensure_admin(storage::SqliteStore& store, uint64_t now_wall_ms, uint32_t iterations) {
    auto result = admin::ensure_first_admin(store, admin::admin_password_from_env(), now_wall_ms,
                                            iterations, nullptr);
    if (!result) {
        if (result.status().code() == storage::Code::Exists) {
            // A user `admin` without the admin role: not fatal, an operator can fix it.
            spdlog::warn("no admin created: {}", result.error());
            return true;
        }
        spdlog::error("cannot create the first admin: {}", result.error());
        return false;
    }
    if (result.value().generated) {
        spdlog::warn("created the first admin, user '{}' with password '{}' (shown only this "
                     "once; change it with `herald user passwd {}`, or set {} before the first "
                     "start)",
                     admin::kFirstAdminName, result.value().password, admin::kFirstAdminName,
                     admin::kAdminPasswordEnv);
    } else if (result.value().created) {
        spdlog::info("created the admin user '{}' with the password from {}", admin::kFirstAdminName,
                     admin::kAdminPasswordEnv);
    }
    return true;
}

int serve(const Options& options, core::Config config) {
    net::setup_logging("heraldd", config.log_json);
    net::set_log_level(options.verbose ? "debug" : config.log_level);
    spdlog::info("herald {} starting", HERALD_VERSION);
    if (options.config_path.empty()) {
        spdlog::info("no configuration file: serving plain MQTT on loopback only, anonymous "
                     "clients allowed");
    } else {
        spdlog::info("configuration: {}", options.config_path);
    }
    spdlog::debug("open file limit: {}", net::raise_fd_limit());
    const uint32_t iterations = hash_iterations();

    uv_loop_t loop;
    if (const int result = uv_loop_init(&loop); result != 0) {
        spdlog::error("cannot start the event loop: {}", uv_strerror(result));
        return 1;
    }
    net::UvClock clock(&loop);

    // The store of record, opened before anyone is served: retained messages come back from it.
    storage::DataLock data_lock;  // released when main returns (or the process ends)
    if (std::string error; !data_lock.acquire(config.data_dir, error)) {
        spdlog::error("{}", error);
        (void)uv_loop_close(&loop);
        return 1;
    }
    const std::string db_path = (std::filesystem::path(config.data_dir) / "herald.db").string();
    const auto durability =
        config.durability == "power" ? storage::Durability::Power : storage::Durability::Process;
    auto opened = storage::SqliteStore::open(db_path, durability, clock.wall_ms());
    if (!opened) {
        spdlog::error("{}", opened.error());
        (void)uv_loop_close(&loop);
        return 1;
    }
    std::unique_ptr<storage::SqliteStore> sqlite = std::move(opened.value().store);
    spdlog::info("data: {} (durability {})", sqlite->path(), config.durability);
    if (!ensure_admin(*sqlite, clock.wall_ms(), iterations)) {
        sqlite.reset();
        (void)uv_loop_close(&loop);
        return 1;
    }
    // Group membership is asked at every publish to a group, contacts and groups at each
    // delivery of a presence record: copies in memory, read now, before the writer thread
    // owns the database.
    // Users and bans likewise, asked at each CONNECT with a username.
    identity::GroupMembers groups;
    identity::Contacts contacts;
    identity::Logins logins;
    storage::Status loaded = groups.load(*sqlite);
    if (loaded) loaded = contacts.load(*sqlite);
    if (loaded) loaded = logins.load(*sqlite, clock.wall_ms());
    if (!loaded) {
        spdlog::error("cannot read the users, bans, groups and contacts: {}", loaded.message());
        sqlite.reset();
        (void)uv_loop_close(&loop);
        return 1;
    }
    sqlite->set_error_handler(
        [](const storage::Status& s) { spdlog::error("store write failed: {}", s.message()); });
    sqlite->start(&loop);

    int status = 0;
    {
        // Identity and admin API outlive the Broker (it holds pointers to them).
        identity::StoreIdentity ident(*sqlite, &loop, clock, std::move(groups), std::move(contacts),
                                      std::move(logins));
        ident.set_hash_iterations(iterations);
        admin::ControlApiOptions api_options;
        api_options.max_user_id_bytes = config.auth.max_user_id_bytes;
        api_options.hash_iterations = iterations;
        admin::ControlApi control(*sqlite, &loop, clock, nullptr, api_options);
        control.set_listener(&ident);
        // Retained messages and persistent sessions come back from the file here.
        storage::CoreStore store(*sqlite, clock, std::move(opened.value().state.retained),
                                 std::move(opened.value().state.sessions),
                                 std::move(opened.value().state.streams));
        core::Broker broker(config, store, clock);
        broker.set_identity(&ident);
        broker.set_control_handler(&control);
        control.set_presence(&broker.presence_query());
        // Destroyed before the Broker: the ControlApi must not reach it afterwards.
        struct PresenceUnhook {
            admin::ControlApi& api;
            ~PresenceUnhook() { api.set_presence(nullptr); }
        } presence_unhook{control};
        std::string error = ident.configure(config);
        if (!error.empty()) {
            spdlog::error("{}", error);
            status = 1;
        } else if (!broker.load_acl(error)) {
            spdlog::error("{}", error);
            status = 1;
        } else {
            net::Server server(&loop, broker);
            server.on_reload([&] { reload(options, config, broker, ident); });
            if (!server.listen(config.listeners, error)) {
                spdlog::error("{}", error);
                status = 1;
                server.stop();
            }
            server.run();
        }
        // Commit what the broker wrote last (the sessions of the clients closed at shutdown)
        // while the broker still exists: the last completions may be its held acks.
        sqlite->close();
        const storage::WriterStats ws = sqlite->stats();
        spdlog::info("store: {} transactions, {} writes, at most {} in one ({} failed)", ws.batches,
                     ws.ops, ws.max_batch, ws.failed_batches);
    }
    // Let the loop run the store's close callbacks.
    uv_run(&loop, UV_RUN_DEFAULT);
    sqlite.reset();
    if (!net::close_loop(&loop)) status = status == 0 ? 1 : status;
    if (status == 0) spdlog::info("stopped");
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"heraldd: an MQTT 3.1.1 and 5.0 broker for chat presence", "heraldd"};
    Options options;
    app.add_option("-c,--config", options.config_path, "configuration file (TOML)")
        ->type_name("FILE");
    app.add_option("-p,--port", options.port,
                   "without -c: serve plain MQTT on 127.0.0.1:PORT, anonymous clients allowed")
        ->type_name("PORT")
        ->check(CLI::Range(0, 65535));
    app.add_flag("-v,--verbose", options.verbose, "log at debug level");
    app.add_flag("--test-config", options.test_config,
                 "check the configuration file given with -c and exit");
    app.set_version_flag("--version", std::string("herald ") + HERALD_VERSION);
    CLI11_PARSE(app, argc, argv);

    if (options.test_config && options.config_path.empty()) {
        std::fprintf(stderr, "heraldd: --test-config needs a file: heraldd --test-config -c FILE\n");
        return 1;
    }
    if (options.port >= 0 && !options.config_path.empty()) {
        std::fprintf(stderr, "heraldd: -p cannot be combined with -c: use listeners in the file\n");
        return 1;
    }

    herald::core::Config config;
    if (options.config_path.empty()) {
        // No file: as mosquitto 2 does, loopback only and anonymous clients welcome.
        config.allow_anonymous = true;
        herald::core::ListenerConfig listener;
        if (options.port >= 0) listener.port = static_cast<uint16_t>(options.port);
        config.listeners.push_back(listener);
    } else {
        std::string error;
        if (!herald::config::load_config_file(options.config_path, config, error)) {
            std::fprintf(stderr, "heraldd: %s\n", error.c_str());
            return 1;
        }
        if (options.test_config) {
            // The files the configuration names must load too (JWT keys, password file,
            // certificates).
            herald::identity::AuthSetup setup;
            if (std::string e = herald::identity::load_auth_setup(config, setup); !e.empty()) {
                std::fprintf(stderr, "heraldd: %s: %s\n", options.config_path.c_str(), e.c_str());
                return 1;
            }
            for (const herald::core::ListenerConfig& listener : config.listeners) {
                std::string e;
                if (listener.is_tls() && !herald::net::TlsContext::create(listener, e)) {
                    std::fprintf(stderr, "heraldd: %s: %s\n", options.config_path.c_str(), e.c_str());
                    return 1;
                }
            }
            std::printf("configuration OK: %s\n", options.config_path.c_str());
            return 0;
        }
    }
    return serve(options, std::move(config));
}
